package sip

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"callgate/media"
	"callgate/pool"
	"callgate/routing"

	"github.com/emiago/sipgo"
)

// side names a leg of a call: A is the caller's, B the callee's.
type side int

const (
	sideA side = iota
	sideB
)

func (s side) String() string {
	if s == sideA {
		return "A"
	}
	return "B"
}

// dialogRef finds a call and a leg from an in-dialog request's Call-ID.
type dialogRef struct {
	call *call
	side side
}

// hangupEvent ends a call.
type hangupEvent struct {
	by    string // caller, callee, system
	cause string
	quiet bool // send no BYE: the edge is closing and its listeners are gone
}

// call is one B2BUA call: the caller's leg (A, a server dialog), the callee's leg (B,
// a client dialog), their RTP legs and the bridge. Its goroutine (run) owns teardown.
type call struct {
	id  string
	e   *Edge
	log *slog.Logger

	inTrunk, outTrunk *Trunk
	bindingID         int64

	a          *sipgo.DialogServerSession // the caller's leg of an inbound call
	aOut       *sipgo.DialogClientSession // A is a leg we placed (a transferred customer)
	b          *sipgo.DialogClientSession
	aID, bID   string // Call-IDs
	rtpA, rtpB *media.Leg
	bridge     *media.Bridge
	recording  *callRecording // nil: not recorded (record.go)
	neg        *negotiation

	// lease locks the caller number of an agent's call; finish releases it.
	lease *routing.Lease

	// agent is set when an agent in the browser placed the call: the A side is
	// the agent's session-long browser leg, which the call borrows.
	agent *agentSide

	mu         sync.Mutex
	rec        pool.Call
	att        pool.Attempt   // the B-leg attempt in progress (or the last one)
	prior      []pool.Attempt // attempts before att, on trunks the call failed over from
	told       uint8          // progress states the observer heard of (progressBit)
	setupAdded time.Duration  // from the call's arrival to the first B-leg INVITE sent

	// cancelSetup ends call setup early (shutdown); nil once connected.
	cancelSetup context.CancelCauseFunc

	hangupCh chan hangupEvent

	// reAcks holds, per re-INVITE we answered 2xx (reAckKey), the channel its ACK
	// closes, which stops the 2xx retransmissions (indialog.go).
	reAcks sync.Map
	once     sync.Once
}

func (c *call) hangup(ev hangupEvent) {
	c.mu.Lock()
	cancel := c.cancelSetup
	c.mu.Unlock()
	if cancel != nil {
		if ev.by == "agent" {
			cancel(errAgentHangup)
		} else {
			cancel(ErrDraining)
		}
	}
	select {
	case c.hangupCh <- ev:
	default: // a hang-up is already pending
	}
}

// run waits for the end of an answered call and tears it down.
func (c *call) run() {
	defer c.e.wg.Done()
	var maxDur <-chan time.Time
	if d := c.e.set.MaxCallDuration; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		maxDur = t.C
	}
	var rtpCheck <-chan time.Time
	if c.e.set.RTPTimeout > 0 {
		t := time.NewTicker(c.e.set.RTPTimeout / 4)
		defer t.Stop()
		rtpCheck = t.C
	}
	var ev hangupEvent
wait:
	for {
		select {
		case ev = <-c.hangupCh:
			break wait
		case <-maxDur:
			ev = hangupEvent{by: "system", cause: "max_duration"}
			break wait
		case <-rtpCheck:
			if c.rtpSilent(c.e.set.RTPTimeout) {
				ev = hangupEvent{by: "system", cause: "rtp_timeout"}
				break wait
			}
		}
	}
	c.teardown(ev)
}

// rtpSilent reports whether no RTP arrived on either leg for d.
func (c *call) rtpSilent(d time.Duration) bool {
	now := c.e.now()
	c.mu.Lock()
	answered, rtpB := c.rec.AnswerAt, c.rtpB
	c.mu.Unlock()
	if rtpB == nil {
		return false // handed over to a transfer: that call watches its media
	}
	last := answered
	for _, st := range []media.LegStats{c.statsA(), rtpB.Stats()} {
		if t := st.LastReceived; t.After(last) {
			last = t
		}
	}
	return now.Sub(last) > d
}

// teardown sends BYE to the legs that did not hang up, stops media, and writes the record.
func (c *call) teardown(ev hangupEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.mu.Lock()
	a, aOut, b := c.a, c.aOut, c.b // b is nil once handed over to a transfer
	c.mu.Unlock()
	var wg sync.WaitGroup
	bye := func(who string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				c.log.Debug("BYE to "+who, "err", err)
			}
		}()
	}
	if ev.by != "caller" && !ev.quiet {
		if a != nil {
			bye("caller", a.Bye)
		} else if aOut != nil {
			bye("caller", aOut.Bye)
		}
	}
	if ev.by != "callee" && b != nil && !ev.quiet {
		bye("callee", b.Bye)
	}
	wg.Wait()
	rec := c.finish(func(r *pool.Call) {
		r.Reason, r.HangupBy = ev.cause, ev.by
		r.BilledSec = billedSeconds(r.AnswerAt, r.EndAt)
	})
	c.log.Debug("call torn down", "by", ev.by, "cause", ev.cause) // finish logged the ended state
	c.notify(CallEvent{State: StateEnded, Code: rec.SIPCode, Reason: rec.Reason, By: rec.HangupBy, Billed: rec.BilledSec})
}

func (c *call) closeMedia() {
	c.once.Do(func() {
		if c.bridge != nil {
			c.bridge.Close()
		}
		c.stopRecording() // record.go: after the bridge stopped tapping
		if c.rtpA != nil {
			c.rtpA.Close()
		}
		if c.rtpB != nil {
			c.rtpB.Close()
		}
	})
}

// finish releases what the call holds (media, trunk slots, dialog entries), completes
// its record with set, and writes it.
func (c *call) finish(set func(r *pool.Call)) pool.Call {
	c.closeMedia()
	c.countPackets()
	// Trunk slots go back before the call leaves the live table: once ActiveCalls
	// no longer counts it, its slots are free.
	if c.outTrunk != nil {
		c.outTrunk.release()
	}
	if c.inTrunk != nil {
		c.inTrunk.release()
	}
	c.e.forget(c)
	now := c.e.now()
	c.mu.Lock()
	c.rec.State, c.rec.EndAt = "ended", now
	if c.att.Seq > 0 && c.att.EndAt.IsZero() {
		c.att.EndAt = now
	}
	set(&c.rec)
	if c.outTrunk != nil { // the supplier's charge for the leg callgate placed
		c.rec.CostMilli = pool.TariffOf(c.outTrunk.cfg).Cost(c.rec.BilledSec)
	}
	rec, setup := c.recordLocked(), c.setupAdded
	c.mu.Unlock()
	c.e.writeEnd(rec)
	c.mu.Lock()
	lease := c.lease
	c.lease = nil
	c.mu.Unlock()
	lease.Release(routing.OutcomeOf(rec)) // no-op on nil (inbound calls, handed-over transfers)
	c.logState(rec)
	if c.e.observer != nil {
		c.e.observer.CallEnded(rec, setup)
	}
	if q, ok := c.e.observer.(CallQualityObserver); ok {
		if legs := c.legQuality(); len(legs) > 0 {
			q.CallQuality(rec, legs)
		}
	}
	return rec
}

// CallQualityObserver is a CallObserver that also learns, at the end of every call,
// the receive quality of the call's RTP legs toward SIP peers: loss and jitter
// (media.LegStats). A browser leg is not among them.
type CallQualityObserver interface {
	CallQuality(rec pool.Call, legs []LegQuality)
}

// LegQuality is one RTP leg's counters at the end of a call.
type LegQuality struct {
	Leg   string // "a": the caller's leg, "b": the callee's (as in pool.Call's packets)
	Stats media.LegStats
}

// legQuality is the counters of the call's SIP legs.
func (c *call) legQuality() []LegQuality {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []LegQuality
	if c.rtpA != nil {
		out = append(out, LegQuality{Leg: "a", Stats: c.rtpA.Stats()})
	}
	if c.rtpB != nil {
		out = append(out, LegQuality{Leg: "b", Stats: c.rtpB.Stats()})
	}
	return out
}

// countPackets copies the legs' RTP counters into the record.
func (c *call) countPackets() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rtpA != nil || c.agent != nil {
		st := c.statsA()
		c.rec.PacketsFromA, c.rec.PacketsToA = int64(st.PacketsIn), int64(st.PacketsOut)
	}
	if c.rtpB != nil {
		st := c.rtpB.Stats()
		c.rec.PacketsFromB, c.rec.PacketsToB = int64(st.PacketsIn), int64(st.PacketsOut)
	}
}

// billedSeconds rounds the answered time up to whole seconds.
func billedSeconds(answer, end time.Time) int64 {
	if answer.IsZero() || !end.After(answer) {
		return 0
	}
	d := end.Sub(answer)
	return int64((d + time.Second - 1) / time.Second)
}

// writeEnd stores a finished call record with its attempts. Store errors are
// logged, never fatal to calls.
func (e *Edge) writeEnd(rec pool.Call) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.recorder.SaveCall(ctx, rec); err != nil {
		e.log.Error("call record", "call", rec.ID, "err", err)
	}
}

// recordLocked is the call's record with every attempt so far. c.mu is held.
func (c *call) recordLocked() pool.Call {
	rec := c.rec
	rec.Attempts = nil
	if n := len(c.prior); n > 0 || c.att.Seq > 0 {
		rec.Attempts = make([]pool.Attempt, 0, n+1)
		rec.Attempts = append(rec.Attempts, c.prior...)
		if c.att.Seq > 0 {
			rec.Attempts = append(rec.Attempts, c.att)
		}
	}
	return rec
}

// recordProgress stores a snapshot of a call in progress, so that its record
// exists even if the process dies before the call ends (see pool.CloseOpenCalls),
// and tells the observer. It is called when the B-leg INVITE is sent, at the first
// ringing and at the answer.
func (c *call) recordProgress() {
	c.mu.Lock()
	rec := c.recordLocked()
	bit := progressBit(rec.State)
	tell := bit != 0 && c.told&bit == 0 // each state once, whatever failover retries
	c.told |= bit
	c.mu.Unlock()
	if tell {
		c.logState(rec)
	}
	if err := c.e.recorder.SaveCall(context.Background(), rec); err != nil {
		c.log.Warn("call record", "err", err)
	}
	if p, ok := c.e.observer.(CallProgressObserver); tell && ok {
		p.CallProgress(rec)
	}
}

// logState writes the call's one Info line for a state change (setup, ringing,
// answered, ended), with what operators search by: tenant, direction, trunks,
// codes, reason and durations. The setup line, and the end line, also name the SIP
// Call-IDs of the legs, which tie the carriers' traces to our call id.
func (c *call) logState(rec pool.Call) {
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs, slog.String("state", rec.State), slog.String("tenant", rec.Tenant),
		slog.String("direction", string(rec.Direction)))
	if rec.InTrunk != "" {
		attrs = append(attrs, slog.String("in_trunk", rec.InTrunk))
	}
	if rec.OutTrunk != "" {
		attrs = append(attrs, slog.String("trunk", rec.OutTrunk))
	}
	since := func(t time.Time) time.Duration {
		if t.IsZero() || t.Before(rec.SetupAt) {
			return 0
		}
		return t.Sub(rec.SetupAt)
	}
	switch rec.State {
	case "setup", "ended":
		attrs = append(attrs, slog.String("caller", rec.Caller), slog.String("callee", rec.Callee))
		if c.aID != "" {
			attrs = append(attrs, slog.String("sip_call_id_a", c.aID))
		}
		if c.bID != "" {
			attrs = append(attrs, slog.String("sip_call_id_b", c.bID))
		}
	case "ringing":
		attrs = append(attrs, slog.Duration("post_dial_delay", since(rec.RingAt)))
	case "answered":
		attrs = append(attrs, slog.Int("code", rec.SIPCode), slog.Duration("answer_after", since(rec.AnswerAt)))
	}
	if rec.State == "ended" {
		attrs = append(attrs, slog.Int("code", rec.SIPCode), slog.String("reason", rec.Reason),
			slog.String("by", rec.HangupBy), slog.Duration("duration", since(rec.EndAt)),
			slog.Int64("billed_s", rec.BilledSec), slog.Int("attempts", len(rec.Attempts)),
			slog.Int64("rtp_a_in", rec.PacketsFromA), slog.Int64("rtp_a_out", rec.PacketsToA),
			slog.Int64("rtp_b_in", rec.PacketsFromB), slog.Int64("rtp_b_out", rec.PacketsToB))
	}
	c.log.LogAttrs(context.Background(), slog.LevelInfo, "call "+rec.State, attrs...)
}

// progressBit is the bit of call.told for a progress state, 0 for others.
func progressBit(state string) uint8 {
	switch state {
	case "setup":
		return 1
	case "ringing":
		return 2
	case "answered":
		return 4
	}
	return 0
}

// remember makes a call's dialogs findable by in-dialog requests. Safe to repeat.
// The tables are sync.Maps: call setup takes no lock shared by all calls.
func (e *Edge) remember(c *call) {
	if _, loaded := e.calls.LoadOrStore(c.id, c); !loaded {
		e.live.Add(1)
	}
	if c.aID != "" {
		e.dialogs.Store(c.aID, dialogRef{call: c, side: sideA})
	}
	if c.bID != "" {
		e.dialogs.Store(c.bID, dialogRef{call: c, side: sideB})
	}
}

func (e *Edge) forget(c *call) {
	if _, loaded := e.calls.LoadAndDelete(c.id); loaded {
		e.live.Add(-1)
	}
	e.dialogs.CompareAndDelete(c.aID, dialogRef{call: c, side: sideA})
	e.dialogs.CompareAndDelete(c.bID, dialogRef{call: c, side: sideB})
}

func (e *Edge) lookup(callID string) (dialogRef, bool) {
	v, ok := e.dialogs.Load(callID)
	if !ok {
		return dialogRef{}, false
	}
	return v.(dialogRef), true
}
