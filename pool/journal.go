package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// BatchWriter is where a Journal writes: one transaction per batch.
type BatchWriter interface {
	SaveBatch(ctx context.Context, b Batch) error
}

// JournalOptions tune a Journal; zero values take the defaults.
type JournalOptions struct {
	// Every is how long the first write of a batch waits for company before the
	// batch is written (default 20 ms): a SIGKILL loses at most this much.
	Every time.Duration
	// Alive is how often an idle journal refreshes the liveness mark (default 1 s).
	Alive time.Duration
	// MaxPending is how many records may wait; writers beyond it wait for the next
	// batch to be written (default 20,000).
	MaxPending int
	// Now is the clock of the liveness mark (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Journal takes call records and binding touches off the call-setup path: Put and
// Touch only queue, and one goroutine writes what queued in one transaction per
// batch. A call's later snapshot replaces its queued earlier one, and touches of one
// binding merge, so a short call costs one row write. Close writes what is left;
// after Close, Put and Touch write synchronously.
type Journal struct {
	w    BatchWriter
	opts JournalOptions

	mu      sync.Mutex
	calls   []Call
	byID    map[string]int         // index in calls
	touches map[int64][2]time.Time // binding ID → earliest, latest touch
	room    *sync.Cond             // signalled after each write
	closed  bool

	wmu sync.Mutex // one batch at a time, in queue order

	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewJournal starts a journal writing to w. Close it to stop its goroutine.
func NewJournal(w BatchWriter, opts JournalOptions) *Journal {
	if opts.Every <= 0 {
		opts.Every = 20 * time.Millisecond
	}
	if opts.Alive <= 0 {
		opts.Alive = time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 20_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	j := &Journal{
		w: w, opts: opts,
		byID:    make(map[string]int),
		touches: make(map[int64][2]time.Time),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	j.room = sync.NewCond(&j.mu)
	go j.run()
	return j
}

// SaveCall queues call record c (inserted, or replacing the stored one). It waits
// only when MaxPending records are already queued.
func (j *Journal) SaveCall(ctx context.Context, c Call) error {
	if c.ID == "" {
		return fmt.Errorf("pool: journal: %w: call without ID", ErrInvalid)
	}
	j.mu.Lock()
	for len(j.calls) >= j.opts.MaxPending && !j.closed {
		j.room.Wait()
	}
	if j.closed {
		j.mu.Unlock()
		return j.w.SaveBatch(ctx, Batch{Calls: []Call{c}})
	}
	if i, ok := j.byID[c.ID]; ok {
		j.calls[i] = c
	} else {
		j.byID[c.ID] = len(j.calls)
		j.calls = append(j.calls, c)
	}
	j.mu.Unlock()
	j.nudge()
	return nil
}

// TouchBinding queues a call through binding id at time at (see
// SQLiteStore.TouchBinding; an unknown id is skipped when written).
func (j *Journal) TouchBinding(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("pool: journal: touch binding %d: %w: zero time", id, ErrInvalid)
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return j.w.SaveBatch(ctx, Batch{Touches: []Touch{{BindingID: id, At: at}}})
	}
	// The stored first/last call times only move outwards: the earliest and the
	// latest touch of a batch say all the others would.
	if span, ok := j.touches[id]; !ok {
		j.touches[id] = [2]time.Time{at, at}
	} else {
		j.touches[id] = [2]time.Time{minTime(span[0], at), maxTime(span[1], at)}
	}
	j.mu.Unlock()
	j.nudge()
	return nil
}

func (j *Journal) nudge() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// Flush writes what is queued now and returns when it is stored.
func (j *Journal) Flush(ctx context.Context) error {
	return j.writeQueued(ctx)
}

func (j *Journal) run() {
	defer close(j.done)
	alive := time.NewTicker(j.opts.Alive)
	defer alive.Stop()
	gather := time.NewTimer(0)
	<-gather.C
	for {
		select {
		case <-j.stop:
			return
		case <-alive.C:
		case <-j.kick:
			gather.Reset(j.opts.Every)
			select {
			case <-j.stop:
				gather.Stop()
				return
			case <-gather.C:
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := j.writeQueued(ctx); err != nil {
			j.opts.Log.Error("call records journal", "err", err)
		}
		cancel()
	}
}

// writeQueued takes the queue and writes it as one batch with a fresh liveness
// mark. If the batch fails, each record is retried alone so that one bad record
// cannot lose the others; records that still fail are logged and dropped.
func (j *Journal) writeQueued(ctx context.Context) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	j.mu.Lock()
	b := Batch{Calls: j.calls, Alive: j.opts.Now()}
	for id, span := range j.touches {
		b.Touches = append(b.Touches, Touch{BindingID: id, At: span[0]})
		if span[1] != span[0] {
			b.Touches = append(b.Touches, Touch{BindingID: id, At: span[1]})
		}
	}
	j.calls, j.byID, j.touches = nil, make(map[string]int), make(map[int64][2]time.Time)
	j.room.Broadcast()
	j.mu.Unlock()
	err := j.w.SaveBatch(ctx, b)
	if err == nil || len(b.Calls)+len(b.Touches) <= 1 {
		return err
	}
	var errs []error
	for _, c := range b.Calls {
		if err := j.w.SaveBatch(ctx, Batch{Calls: []Call{c}}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range b.Touches {
		if err := j.w.SaveBatch(ctx, Batch{Touches: []Touch{t}}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the journal after writing everything queued; later writes go straight
// to the store. Calls after the first return nil.
func (j *Journal) Close() error {
	var err error
	j.closeOnce.Do(func() {
		close(j.stop)
		<-j.done
		j.mu.Lock()
		j.closed = true // from now on writers write themselves
		j.room.Broadcast()
		j.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = j.writeQueued(ctx)
	})
	return err
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
