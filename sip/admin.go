package sip

import (
	"slices"
	"time"
)

// This file shows the live calls to an admin (the admin page) and lets one hang a
// call up.

// LiveCall is a call in progress as an admin sees it.
type LiveCall struct {
	ID        string
	Tenant    string
	Direction string // inbound or outbound
	Agent     string
	Caller    string
	Callee    string
	InTrunk   string
	OutTrunk  string
	State     string // setup, ringing, answered
	SetupAt   time.Time
	AnswerAt  time.Time // zero until answered
	// Recording is the state of the call's recording: "" (not recorded),
	// recording or failed.
	Recording string
}

// ActiveCallsSnapshot lists the calls in progress, oldest first.
func (e *Edge) ActiveCallsSnapshot() []LiveCall {
	var out []LiveCall
	e.calls.Range(func(_, v any) bool {
		c := v.(*call)
		c.mu.Lock()
		r := c.rec
		c.mu.Unlock()
		out = append(out, LiveCall{ID: r.ID, Tenant: r.Tenant, Direction: string(r.Direction), Agent: r.Agent,
			Caller: r.Caller, Callee: r.Callee, InTrunk: r.InTrunk, OutTrunk: r.OutTrunk, State: r.State,
			SetupAt: r.SetupAt, AnswerAt: r.AnswerAt, Recording: c.recordingState()})
		return true
	})
	slices.SortFunc(out, func(a, b LiveCall) int { return a.SetupAt.Compare(b.SetupAt) })
	return out
}

// HangupCall ends call id as the system would (BYE to both parties, or CANCEL while
// it rings), with cause "admin_hangup" in its record. It reports whether the call
// was in progress.
func (e *Edge) HangupCall(id string) bool {
	v, ok := e.calls.Load(id)
	if !ok {
		return false
	}
	v.(*call).hangup(hangupEvent{by: "system", cause: "admin_hangup"})
	return true
}
