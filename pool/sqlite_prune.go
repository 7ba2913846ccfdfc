package pool

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// This file is call-record retention: PruneCalls deletes the records of calls set
// up before a cutoff, with their attempts, feedback and recording rows, a small
// batch per transaction; a Pruner runs it on a timer. The recordings' files are not
// the store's: PruneCalls returns their paths for the caller to delete.

// pruneBatch bounds how many calls one prune transaction deletes, so the write lock
// is never held for long: call records, call setup and the API write between
// batches.
const pruneBatch = 500

// PruneResult counts the rows one prune deleted.
type PruneResult struct {
	Calls      int
	Attempts   int
	Feedback   int
	Recordings int
	// RecordingFiles are the paths of the deleted recordings' WAV files, which the
	// caller deletes (the store keeps rows, not files).
	RecordingFiles []string
}

// Rows is the total of deleted rows.
func (r PruneResult) Rows() int { return r.Calls + r.Attempts + r.Feedback + r.Recordings }

func (r *PruneResult) add(o PruneResult) {
	r.Calls += o.Calls
	r.Attempts += o.Attempts
	r.Feedback += o.Feedback
	r.Recordings += o.Recordings
	r.RecordingFiles = append(r.RecordingFiles, o.RecordingFiles...)
}

// PruneCalls deletes the records of ended calls set up before cutoff, with their
// attempts, feedback and recording rows (returning the recordings' file paths), in transactions of at most 500 calls. Calls still open
// (no end time) are kept whatever their age. After an error, the batches already
// done stay done and are counted in the result.
func (s *SQLiteStore) PruneCalls(ctx context.Context, cutoff time.Time) (PruneResult, error) {
	var res PruneResult
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var batch PruneResult
		err := s.write(ctx, func(tx *sql.Tx) error {
			var err error
			batch, err = pruneBatchTx(ctx, tx, cutoff.UnixMilli())
			return err
		})
		if err != nil {
			return res, fmt.Errorf("pool: prune calls before %s: %w", cutoff.UTC().Format(time.RFC3339), s.closedOr(err))
		}
		res.add(batch)
		if batch.Calls < pruneBatch {
			return res, nil
		}
	}
}

// pruneBatchTx deletes up to pruneBatch ended calls set up before cutoff (unix ms),
// oldest first, by the index calls_by_setup.
func pruneBatchTx(ctx context.Context, tx *sql.Tx, cutoff int64) (PruneResult, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM calls WHERE setup_at < ? AND end_at IS NOT NULL
		ORDER BY setup_at LIMIT ?`, cutoff, pruneBatch)
	if err != nil {
		return PruneResult{}, err
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return PruneResult{}, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return PruneResult{}, err
	}
	if len(ids) == 0 {
		return PruneResult{}, nil
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
	var res PruneResult
	paths, err := tx.QueryContext(ctx, `SELECT path FROM call_recordings WHERE call_id IN `+in, ids...)
	if err != nil {
		return PruneResult{}, err
	}
	for paths.Next() {
		var p string
		if err := paths.Scan(&p); err != nil {
			paths.Close()
			return PruneResult{}, err
		}
		res.RecordingFiles = append(res.RecordingFiles, p)
	}
	paths.Close()
	if err := paths.Err(); err != nil {
		return PruneResult{}, err
	}
	for _, step := range []struct {
		query string
		n     *int
	}{
		{`DELETE FROM call_recordings WHERE call_id IN ` + in, &res.Recordings},
		{`DELETE FROM call_feedback WHERE call_id IN ` + in, &res.Feedback},
		{`DELETE FROM call_attempts WHERE call_id IN ` + in, &res.Attempts},
		{`DELETE FROM calls WHERE id IN ` + in, &res.Calls},
	} {
		r, err := tx.ExecContext(ctx, step.query, ids...)
		if err != nil {
			return PruneResult{}, err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return PruneResult{}, err
		}
		*step.n = int(n)
	}
	return res, nil
}

// CallPruner deletes old call records; *SQLiteStore is one.
type CallPruner interface {
	PruneCalls(ctx context.Context, cutoff time.Time) (PruneResult, error)
}

var _ CallPruner = (*SQLiteStore)(nil)

// PrunerSettings configure a Pruner.
type PrunerSettings struct {
	// Retention is how long records are kept after their call's setup; <= 0: the
	// pruner does nothing.
	Retention time.Duration
	// Every is the time between passes; default 1h.
	Every time.Duration
	// Now is the clock the cutoff is taken from; default time.Now.
	Now func() time.Time
	// Log receives passes that deleted something and failed passes; default discards.
	Log *slog.Logger
	// OnPass, if set, gets what every pass deleted, also a pass a later batch of
	// which failed: for a metrics counter, and to delete the pruned recordings'
	// files (PruneResult.RecordingFiles). It runs on the pruner's goroutine.
	OnPass func(PruneResult)
}

// Pruner runs PruneCalls once at Start and then every PrunerSettings.Every, until
// Stop.
type Pruner struct {
	store CallPruner
	set   PrunerSettings

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewPruner returns a stopped pruner of store.
func NewPruner(store CallPruner, set PrunerSettings) *Pruner {
	if set.Every <= 0 {
		set.Every = time.Hour
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	if set.Log == nil {
		set.Log = slog.New(slog.DiscardHandler)
	}
	return &Pruner{store: store, set: set}
}

// Start runs a pass now and then every interval on a goroutine of its own, until
// Stop or until ctx ends. Starting a started pruner does nothing.
func (p *Pruner) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.run(ctx, p.done)
}

// Stop stops the pruner and waits for a pass in progress to end. Safe twice, and
// before Start.
func (p *Pruner) Stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Close is Stop.
func (p *Pruner) Close() error {
	p.Stop()
	return nil
}

func (p *Pruner) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(p.set.Every)
	defer t.Stop()
	for {
		_, _ = p.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce deletes the records older than the retention at the pruner's clock, logs
// what it did and returns it.
func (p *Pruner) RunOnce(ctx context.Context) (PruneResult, error) {
	if p.set.Retention <= 0 {
		return PruneResult{}, nil
	}
	cutoff := p.set.Now().Add(-p.set.Retention)
	r, err := p.store.PruneCalls(ctx, cutoff)
	if r.Rows() > 0 && p.set.OnPass != nil {
		p.set.OnPass(r) // what was deleted is counted, even if a later batch failed
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return r, err // stopping
	case err != nil:
		p.set.Log.WarnContext(ctx, "pruning call records failed", "err", err, "calls", r.Calls)
		return r, err
	case r.Rows() > 0:
		p.set.Log.InfoContext(ctx, "pruned call records", "before", cutoff.UTC(), "calls", r.Calls,
			"attempts", r.Attempts, "feedback", r.Feedback, "recordings", r.Recordings)
	}
	return r, nil
}
