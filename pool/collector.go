package pool

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// GarbageCollector reclaims ended bindings; *SQLiteStore is one.
type GarbageCollector interface {
	CollectGarbage(ctx context.Context, now time.Time) (GCResult, error)
}

var _ GarbageCollector = (*SQLiteStore)(nil)

// Collector runs a GarbageCollector periodically: once at Start, then every
// interval, until Stop.
type Collector struct {
	gc       GarbageCollector
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	onPass   func(context.Context, GCResult)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// CollectorOption configures NewCollector.
type CollectorOption func(*Collector) error

// WithCollectorClock sets the clock whose time each pass passes to CollectGarbage;
// the default is time.Now.
func WithCollectorClock(now func() time.Time) CollectorOption {
	return func(c *Collector) error {
		if now == nil {
			return fmt.Errorf("pool: WithCollectorClock: %w: nil clock", ErrInvalid)
		}
		c.now = now
		return nil
	}
}

// WithCollectorLogger sets the logger for passes that reclaimed something and for
// failed passes; the default discards.
func WithCollectorLogger(l *slog.Logger) CollectorOption {
	return func(c *Collector) error {
		if l == nil {
			return fmt.Errorf("pool: WithCollectorLogger: %w: nil logger", ErrInvalid)
		}
		c.log = l
		return nil
	}
}

// WithOnPass calls fn after every successful pass with what it did, e.g. to send
// "binding expired" events for GCResult.Reclaimed. fn runs on the collector's
// goroutine: it should return quickly.
func WithOnPass(fn func(ctx context.Context, r GCResult)) CollectorOption {
	return func(c *Collector) error {
		c.onPass = fn
		return nil
	}
}

// NewCollector returns a stopped collector running gc every interval (> 0).
func NewCollector(gc GarbageCollector, interval time.Duration, opts ...CollectorOption) (*Collector, error) {
	if gc == nil || interval <= 0 {
		return nil, fmt.Errorf("pool: NewCollector: %w: need a collector and a positive interval, got %v", ErrInvalid, interval)
	}
	c := &Collector{gc: gc, interval: interval, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Start runs a pass now and then every interval on a goroutine of its own, until
// Stop or until ctx ends. Starting a started collector does nothing.
func (c *Collector) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return
	}
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go c.run(ctx, c.done)
}

// Stop stops the collector and waits for a pass in progress to end. It is safe to
// call twice, and before Start.
func (c *Collector) Stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (c *Collector) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		_, _ = c.RunOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce runs one pass at the collector's clock, logs what it did and returns it.
func (c *Collector) RunOnce(ctx context.Context) (GCResult, error) {
	r, err := c.gc.CollectGarbage(ctx, c.now())
	switch {
	case err != nil && ctx.Err() != nil:
		return r, err // stopping
	case err != nil:
		c.log.WarnContext(ctx, "binding GC failed", "err", err, "expired", r.Expired, "idle", r.Idle)
		return r, err
	case r.Expired+r.Idle+r.Released > 0:
		c.log.InfoContext(ctx, "binding GC", "expired", r.Expired, "idle", r.Idle, "released", r.Released)
	}
	if c.onPass != nil {
		c.onPass(ctx, r)
	}
	return r, nil
}
