package sip

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"callgate/routing"

	"github.com/emiago/sipgo/sip"
)

// This file probes trunks with SIP OPTIONS (trunks[].probe): DownAfter failed probes
// in a row mark a trunk down, and a down trunk takes no new calls until UpAfter
// probes in a row are answered. A probe fails when nothing answers within the timeout,
// or the answer is 408 or 5xx; any other final answer (even 401, 403, 404) shows a
// live carrier. A trunk without probes is never down.

// ProbeStatus is what a trunk's OPTIONS probes found.
type ProbeStatus struct {
	State routing.ProbeState
	// LastAt is when the last probe ended; zero before the first.
	LastAt time.Time
	// LastCode is the last probe's final status; 0 when nothing answered.
	LastCode int
	// LastError says why the last probe failed; "" if it did not.
	LastError string
	// RTT is the last answered probe's round trip.
	RTT time.Duration
	// Failures and Successes count the probes in a row ending with the last one.
	Failures, Successes int
}

// trunkHealth is a trunk's probe state. down is read on the call-setup path without
// a lock; the rest only by probes and status readers.
type trunkHealth struct {
	down atomic.Bool

	mu sync.Mutex
	st ProbeStatus
}

// Probe returns what the trunk's OPTIONS probes found so far.
func (t *Trunk) Probe() ProbeStatus {
	t.health.mu.Lock()
	defer t.health.mu.Unlock()
	st := t.health.st
	if !t.cfg.Probe.On() {
		st.State = routing.ProbeOff
	} else if st.State == "" {
		st.State = routing.ProbeUp // not probed yet: innocent until DownAfter failures
	}
	return st
}

// Down reports whether the trunk's probes have marked it down.
func (t *Trunk) Down() bool { return t.health.down.Load() }

// record folds one probe's result into the trunk's health at now and returns the new
// probe state and whether it changed.
func (t *Trunk) record(now time.Time, code int, rtt time.Duration, failure error) (routing.ProbeState, bool) {
	p := t.cfg.Probe
	h := t.health
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.LastAt, h.st.LastCode, h.st.RTT = now, code, rtt
	h.st.LastError = ""
	before := h.st.State
	if failure != nil {
		h.st.LastError = failure.Error()
		h.st.Failures++
		h.st.Successes = 0
		if h.st.Failures >= p.DownAfter {
			h.st.State = routing.ProbeDown
		}
	} else {
		h.st.Successes++
		h.st.Failures = 0
		// A trunk never seen down is up at its first answer; a down one needs UpAfter.
		if before != routing.ProbeDown || h.st.Successes >= p.UpAfter {
			h.st.State = routing.ProbeUp
		}
	}
	h.down.Store(h.st.State == routing.ProbeDown)
	return h.st.State, h.st.State != before && h.st.State != ""
}

// forgetProbe clears the probe state of a trunk no longer probed.
func (t *Trunk) forgetProbe() {
	h := t.health
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st = ProbeStatus{}
	h.down.Store(false)
}

// probeSet runs one probe goroutine per probed trunk.
type probeSet struct {
	mu      sync.Mutex
	started bool
	closed  bool
	stop    context.CancelFunc // of the running generation
	wg      sync.WaitGroup
}

// run starts probing the trunks of ts (stopping the probes of an earlier set). It
// does nothing before start or after close.
func (p *probeSet) run(e *Edge, ts *trunkSet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started || p.closed {
		return
	}
	if p.stop != nil {
		p.stop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	for _, t := range ts.list {
		if !t.cfg.Probe.On() {
			if t.Probe().State != routing.ProbeOff || t.Down() {
				t.forgetProbe()
			}
			e.reportProbe(t.Name(), routing.ProbeOff)
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			e.probeLoop(ctx, t)
		}()
	}
}

// start marks the set started and probes ts.
func (p *probeSet) start(e *Edge, ts *trunkSet) {
	p.mu.Lock()
	p.started = true
	p.mu.Unlock()
	p.run(e, ts)
}

// close stops every probe and waits for them. Safe twice.
func (p *probeSet) close() {
	p.mu.Lock()
	p.closed = true
	if p.stop != nil {
		p.stop()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// probeLoop probes t every interval until ctx ends.
func (e *Edge) probeLoop(ctx context.Context, t *Trunk) {
	tick := time.NewTicker(t.cfg.Probe.Interval.Std())
	defer tick.Stop()
	for {
		e.probeOnce(ctx, t)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeOnce sends one OPTIONS to t and records the result.
func (e *Edge) probeOnce(ctx context.Context, t *Trunk) {
	ts, err := e.sideFor(t)
	if err != nil {
		e.log.Warn("trunk probe", "trunk", t.Name(), "err", err)
		return
	}
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: t.domain(), Port: t.cfg.Port})
	req.SetTransport(transportName(t.cfg.Transport))
	req.SetDestination(t.hostPort())
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	pctx, cancel := context.WithTimeout(ctx, t.cfg.Probe.Timeout.Std())
	defer cancel()
	start := time.Now()
	res, err := ts.client.Do(pctx, req)
	rtt := time.Since(start)
	if ctx.Err() != nil {
		return // stopping: not the trunk's fault
	}
	code := 0
	var failure error
	switch {
	case err != nil:
		failure = fmt.Errorf("no answer: %w", err)
	case res.StatusCode == 408 || res.StatusCode >= 500 && res.StatusCode < 600:
		code = res.StatusCode
		failure = fmt.Errorf("answered %d %s", res.StatusCode, res.Reason)
	default:
		code = res.StatusCode
	}
	state, changed := t.record(e.now(), code, rtt, failure)
	if changed {
		e.log.Info("trunk probe state", "trunk", t.Name(), "state", state, "code", code, "err", failure)
		e.reportProbe(t.Name(), state)
	}
}

// reportProbe passes a probe state to the trunk scorer, if any.
func (e *Edge) reportProbe(trunk string, state routing.ProbeState) {
	if e.scorer != nil {
		e.scorer.SetProbe(trunk, state)
	}
}
