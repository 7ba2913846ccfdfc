package routing

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"callgate/pool"
)

// This file writes the router's decisions to the store. Each tenant appends its
// changes to its own journal under its mutex (so the store sees a tenant's changes
// in the order they happened, and the call path shares no lock across tenants); one
// goroutine collects the journals and writes them in batches, one transaction per
// batch (group commit). If the store fails, the changes wait and are retried, in
// order; Close writes what is left.

// Limits of the journal writer.
const (
	batchMax    = 512       // ops per transaction
	backlogMax  = 1_000_000 // ops kept while the store is failing; more are dropped
	retryMin    = 50 * time.Millisecond
	retryMax    = 5 * time.Second
	applyBudget = 10 * time.Second // per batch
)

// committer is the journal writer.
type committer struct {
	r       *Outbound
	wait    time.Duration // how long to gather a batch after the first change
	signal  chan struct{}
	poked   atomic.Bool
	flushes chan chan error

	// Owned by the goroutine running run (then by drain).
	backlog []pool.CallerOp
	backoff time.Duration
	dropped int
}

func newCommitter(r *Outbound, wait time.Duration) *committer {
	return &committer{r: r, wait: wait, signal: make(chan struct{}, 1), flushes: make(chan chan error)}
}

// poke tells the writer there are changes. It never blocks.
func (c *committer) poke() {
	if c.poked.CompareAndSwap(false, true) {
		select {
		case c.signal <- struct{}{}:
		default:
		}
	}
}

// run writes journals until ctx ends.
func (c *committer) run(ctx context.Context) {
	var retry <-chan time.Time
	for {
		var flush chan error
		select {
		case <-ctx.Done():
			return
		case <-c.signal:
			if retry != nil {
				continue // wait for the retry timer
			}
			if c.wait > 0 {
				t := time.NewTimer(c.wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
		case <-retry:
			retry = nil
		case flush = <-c.flushes:
		}
		err := c.cycle(ctx)
		if flush != nil {
			flush <- err
		}
		if err != nil {
			c.backoff = min(max(2*c.backoff, retryMin), retryMax)
			retry = time.After(c.backoff)
		} else {
			c.backoff = 0
		}
	}
}

// cycle collects every tenant's journal and writes it, with the backlog first.
func (c *committer) cycle(ctx context.Context) error {
	c.poked.Store(false)
	for _, t := range c.r.byID {
		t.mu.Lock()
		c.backlog = append(c.backlog, t.journal...)
		clear(t.journal)
		t.journal = t.journal[:0]
		t.mu.Unlock()
	}
	if n := len(c.backlog) - backlogMax; n > 0 {
		c.dropped += n
		c.backlog = c.backlog[:backlogMax]
		c.r.log.Error("caller-number journal overflow: changes dropped", "dropped", n, "total_dropped", c.dropped)
	}
	for len(c.backlog) > 0 {
		n := min(len(c.backlog), batchMax)
		actx, cancel := context.WithTimeout(ctx, applyBudget)
		res, err := c.r.store.ApplyCallerOps(actx, c.backlog[:n])
		cancel()
		if err != nil && pool.Transient(err) {
			c.r.log.Warn("caller-number journal: store write failed; will retry", "ops", len(c.backlog), "err", err)
			return fmt.Errorf("routing: write journal: %w", err)
		}
		if err != nil {
			// One op the store refuses outright must not stop the journal: write
			// the batch op by op and drop the ones that fail.
			if err := c.oneByOne(ctx, n); err != nil {
				return err
			}
			continue
		}
		for i, r := range res {
			if r.Err != nil && !errors.Is(r.Err, pool.ErrNotFound) {
				c.r.log.Warn("caller-number journal: change refused", "op", opName(c.backlog[i]), "err", r.Err)
			}
		}
		clear(c.backlog[:n])
		c.backlog = c.backlog[n:]
	}
	c.backlog = nil
	return nil
}

// oneByOne writes the first n ops of the backlog in a transaction each, taking
// each off the backlog once written or, if the store refuses it with a lasting
// error, dropped (and logged); a transient error stops it.
func (c *committer) oneByOne(ctx context.Context, n int) error {
	for range n {
		op := c.backlog[0]
		actx, cancel := context.WithTimeout(ctx, applyBudget)
		res, err := c.r.store.ApplyCallerOps(actx, c.backlog[:1])
		cancel()
		switch {
		case err == nil:
			if res[0].Err != nil && !errors.Is(res[0].Err, pool.ErrNotFound) {
				c.r.log.Warn("caller-number journal: change refused", "op", opName(op), "err", res[0].Err)
			}
		case pool.Transient(err):
			return fmt.Errorf("routing: write journal: %w", err)
		default:
			c.dropped++
			c.r.log.Error("caller-number journal: change dropped, the store refuses it", "op", opName(op), "err", err)
		}
		c.backlog[0] = pool.CallerOp{}
		c.backlog = c.backlog[1:]
	}
	return nil
}

func opName(op pool.CallerOp) string {
	switch {
	case op.Record != nil:
		return fmt.Sprintf("reserve %s lease %d", op.Record.Number, op.Record.LeaseID)
	case op.Release != nil:
		return fmt.Sprintf("release lease %d", op.Release.LeaseID)
	case op.Renew != nil:
		return fmt.Sprintf("renew %d leases", len(op.Renew.LeaseIDs))
	}
	return "empty"
}

// flush asks the running writer for a cycle and waits for it.
func (c *committer) flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case c.flushes <- reply:
	case <-c.r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain writes what is left after the writer stopped, retrying until ctx ends.
func (c *committer) drain(ctx context.Context) error {
	for {
		err := c.cycle(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			c.r.log.Error("caller-number journal: changes not written at close", "ops", len(c.backlog), "err", err)
			return err
		case <-time.After(retryMin):
		}
	}
}
