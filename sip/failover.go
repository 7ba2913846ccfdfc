package sip

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"callgate/configs"
	"callgate/pool"
	"callgate/routing"

	"github.com/emiago/sipgo"
)

// This file is failover inside one call setup. The callee's leg goes to the trunk
// routing chose first, then — when that trunk answers 408 or 5xx, or says nothing
// within its invite_timeout — to the next trunk the call may use: the other trunks of
// the pools that list the first one, best scored first. A final answer from the
// callee (404, 486, 603, …) ends the call there. Trunks whose probes fail, that are
// drained or disabled, or that are at their call limit are skipped, never waited for.
// Every attempt is recorded with its Seq, and its outcome feeds the trunk scorer.

// TrunkScorer scores trunks from their calls' outcomes and probes;
// *routing.Scoreboard is one. Score is read on the call-setup path and must not block.
type TrunkScorer interface {
	Score(trunk string) (routing.TrunkScore, bool)
	Observe(s routing.Seizure)
	SetProbe(trunk string, p routing.ProbeState)
}

var _ TrunkScorer = (*routing.Scoreboard)(nil)

// WithTrunkScorer sets the scorer that orders failover candidates and learns every
// attempt's outcome (default: none; only probes and limits steer calls).
func WithTrunkScorer(s TrunkScorer) Option { return func(e *Edge) { e.scorer = s } }

// WithFailoverPools sets the pools whose trunks calls fail over between (see
// SetFailoverPools).
func WithFailoverPools(pools []configs.Pool) Option {
	return func(e *Edge) { e.SetFailoverPools(pools) }
}

// SetFailoverPools sets the pools whose trunks calls fail over between: a call placed
// on trunk T may move to every other trunk of every pool that lists T, in the pools'
// order. Without pools, calls never fail over. Safe while calls run (config reload).
func (e *Edge) SetFailoverPools(pools []configs.Pool) {
	alt := map[string][]string{}
	for _, p := range pools {
		for _, t := range p.Trunks {
			for _, o := range p.Trunks {
				if o != t && !slices.Contains(alt[t], o) {
					alt[t] = append(alt[t], o)
				}
			}
		}
	}
	e.alternates.Store(&alt)
}

// TrunkStanding is a trunk's state for calls and why, as failover sees it.
type TrunkStanding struct {
	routing.TrunkScore
	// Active is the trunk's live calls.
	Active int64 `json:"active"`
	// Probe is what its OPTIONS probes found.
	Probe ProbeStatus `json:"-"`
}

// Standing returns how failover sees the trunk now: its score, state and why.
func (e *Edge) Standing(t *Trunk) TrunkStanding {
	s := TrunkStanding{Active: t.Active(), Probe: t.Probe()}
	if e.scorer != nil {
		s.TrunkScore, _ = e.scorer.Score(t.Name())
	}
	if s.Trunk == "" {
		s.TrunkScore = routing.TrunkScore{Trunk: t.Name(), State: routing.TrunkUp, Score: 1, Weight: 1, Why: "not scored"}
	}
	s.TrunkScore.Probe = s.Probe.State
	if t.Down() && s.State.TakesCalls() {
		// The probe verdict is the trunk's own, whatever the scorer has caught up on.
		s.State, s.Score, s.Why = routing.TrunkDown, 0, "OPTIONS probes fail: "+s.Probe.LastError
	}
	if _, ok := t.Contact(e.now()); t.RegistersToUs() && !ok && s.State.TakesCalls() {
		// A trunk that registers to us can be reached only while registered.
		s.State, s.Score, s.Why = routing.TrunkDown, 0, "not registered to callgate"
	}
	return s
}

// candidate is a trunk a call may try, with what orders it.
type candidate struct {
	t     *Trunk
	state routing.TrunkState
	score float64
	first bool
}

// candidates lists the trunks a call whose routing chose first may try, in order:
// trunks that are up before degraded ones; within each, first before the others, then
// by score. Trunks that take no calls are left out.
func (e *Edge) candidates(first *Trunk) []candidate {
	ts := e.trunks.Load()
	names := []string{first.Name()}
	if alt := e.alternates.Load(); alt != nil {
		names = append(names, (*alt)[first.Name()]...)
	}
	out := make([]candidate, 0, len(names))
	for i, n := range names {
		t := ts.byName[n]
		if i == 0 {
			t = first // the trunk the call holds, even if a reload replaced it
		}
		if t == nil {
			continue
		}
		st := e.Standing(t)
		if !st.State.TakesCalls() {
			continue
		}
		out = append(out, candidate{t: t, state: st.State, score: st.Score, first: i == 0})
	}
	slices.SortStableFunc(out, func(a, b candidate) int {
		if c := cmp.Compare(rank(a.state), rank(b.state)); c != 0 {
			return c
		}
		if a.first != b.first {
			if a.first {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.score, a.score)
	})
	return out
}

func rank(s routing.TrunkState) int {
	if s == routing.TrunkUp {
		return 0
	}
	return 1
}

// placeB places the callee's leg, on out first (the caller holds a slot on it) and
// then on the failover candidates, and returns once B answered or the call cannot go
// on. c.outTrunk is the trunk of the last attempt, holding its slot.
func (e *Edge) placeB(ctx context.Context, c *call, out *Trunk, showAs, target string) error {
	var lastErr error
	seq := 0
	for _, cand := range e.candidates(out) {
		t := cand.t
		if t != c.outTrunk {
			if !e.offerFits(c, t) {
				continue
			}
			if err := t.acquire(e.now()); err != nil {
				lastErr = err // at its limit: skipped, not queued
				continue
			}
			c.mu.Lock()
			prev := c.outTrunk
			c.outTrunk, c.rec.OutTrunk = t, t.Name()
			c.mu.Unlock()
			prev.release()
		}
		if seq > 0 {
			e.forgetLeg(c)
			c.log.Info("call fails over", "trunk", t.Name(), "after", lastErr)
		}
		seq++
		err := e.placeOn(ctx, c, t, showAs, target, seq)
		e.observeAttempt(c)
		if err == nil {
			return nil
		}
		lastErr = err
		var leg *LegError
		if !errors.As(err, &leg) || !leg.Retryable() || ctx.Err() != nil || c.neg.answered {
			// The callee's own answer, a cancel, or early media already relayed from
			// this trunk: no other trunk may take the call over.
			return err
		}
		c.mu.Lock()
		c.prior = append(c.prior, c.att) // the next attempt replaces c.att
		c.mu.Unlock()
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%w: %s and its alternates are down, drained or disabled", ErrTrunkDown, out.Name())
	}
	if seq == 0 {
		// Nothing was sent: the record still says which trunk was refused and why.
		c.mu.Lock()
		c.att = pool.Attempt{CallID: c.id, Seq: 1, Trunk: c.outTrunk.Name(), From: showAs, To: target,
			StartAt: e.now(), EndAt: e.now(), Reason: causeOf(lastErr)}
		c.mu.Unlock()
	}
	return lastErr
}

// offerFits reports whether trunk t allows a codec of the offer the call makes to B.
func (e *Edge) offerFits(c *call, t *Trunk) bool {
	for _, f := range c.neg.offerB {
		if f.Name != "telephone-event" && codecAllowed(f.Name, t.cfg.Codecs) {
			return true
		}
	}
	return false
}

// forgetLeg drops the failed B-leg's dialog from the call table before the next
// attempt replaces it.
func (e *Edge) forgetLeg(c *call) {
	if c.bID != "" {
		e.dialogs.CompareAndDelete(c.bID, dialogRef{call: c, side: sideB})
	}
}

// observeAttempt passes the attempt that just ended to the scorer. Attempts that
// never reached the trunk, or that callgate itself gave up, say nothing about it.
func (e *Edge) observeAttempt(c *call) {
	if e.scorer == nil {
		return
	}
	c.mu.Lock()
	a := c.att
	c.mu.Unlock()
	switch a.Reason {
	case "bad_number", "bad_header", "shutdown", "codec":
		return
	}
	s := routing.Seizure{Trunk: a.Trunk, At: a.StartAt, Answered: a.SIPCode == 200}
	if !a.RingAt.IsZero() {
		s.PDD = a.RingAt.Sub(a.StartAt)
	}
	e.scorer.Observe(s)
}

// watchSilence returns ctx ended early when trunk out sends no response at all
// within its invite_timeout; heard stops the watch (call it on every response) and
// stop releases it. The cause is sipgo's forced cancel: nothing answered, so there is
// nothing to CANCEL (RFC 3261 §9.1) and WaitAnswer returns at once.
func watchSilence(ctx context.Context, out *Trunk) (watched context.Context, heard, stop func()) {
	d := out.cfg.InviteTimeout.Std()
	if d <= 0 {
		return ctx, func() {}, func() {}
	}
	watched, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(d, func() { cancel(sipgo.WaitAnswerForceCancelErr) })
	return watched, func() { timer.Stop() }, func() { timer.Stop(); cancel(nil) }
}

// silent reports whether ringCtx ended because the trunk said nothing (watchSilence).
func silent(ringCtx context.Context) bool {
	return context.Cause(ringCtx) == sipgo.WaitAnswerForceCancelErr //nolint:errorlint // sipgo compares it so
}

// steerer wraps the routers so that their first trunk is one that takes calls: a
// trunk that is down, drained, disabled or at its limit gives way to the best of its
// alternates before the call holds a slot on it.
type steerOutbound struct {
	e *Edge
	r OutboundRouter
}

// Route routes c, then moves the decision off a trunk that takes no calls.
func (s steerOutbound) Route(ctx context.Context, c routing.OutboundCall) (routing.OutboundDecision, error) {
	dec, err := s.r.Route(ctx, c)
	if err == nil {
		dec.Trunk = s.e.steer(dec.Trunk)
	}
	return dec, err
}

type steerInbound struct {
	e *Edge
	r Router
}

// Route routes c, then moves the decision off a trunk that takes no calls.
func (s steerInbound) Route(ctx context.Context, c routing.InboundCall) (routing.Decision, error) {
	dec, err := s.r.Route(ctx, c)
	if err == nil && dec.Trunk != "" {
		dec.Trunk = s.e.steer(dec.Trunk)
	}
	return dec, err
}

// steer returns the trunk a call routed to name should start on: name if it takes
// calls and has room, else the first candidate that does, else name (the call then
// fails on it as it would have).
func (e *Edge) steer(name string) string {
	first := e.trunks.Load().byName[name]
	if first == nil {
		return name
	}
	now := e.now()
	for _, cand := range e.candidates(first) {
		if cand.t.hasRoom(now) {
			return cand.t.Name()
		}
	}
	return name
}

// hasRoom reports whether the trunk is below its limits at now, without taking a slot.
func (t *Trunk) hasRoom(now time.Time) bool {
	if max := t.cfg.MaxConcurrentCalls; max > 0 && t.active.Load() >= int64(max) {
		return false
	}
	rate := t.cfg.MaxCallsPerSecond
	if rate <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last.IsZero() {
		return true
	}
	return t.tokens+now.Sub(t.last).Seconds()*rate >= 1
}

// steerRouters wraps the edge's routers for failover (New calls it).
func (e *Edge) steerRouters() {
	if e.router != nil {
		e.router = steerInbound{e: e, r: e.router}
	}
	if e.outRouter != nil {
		e.outRouter = steerOutbound{e: e, r: e.outRouter}
	}
}
