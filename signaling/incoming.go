package signaling

import (
	"context"
	"errors"
	"fmt"
	"time"

	"callgate/sip"
)

// This file rings agents' pages with customers' callbacks: the SIP edge offers a call
// (OfferCall), the page gets an incoming event and answers accept or decline; if it
// does not before the ring timeout, or the customer hangs up first, the page gets
// incoming_cancelled. An accepted callback becomes the session's call: hang-up, mute
// and DTMF work on it as on a dialled one, and its call events follow.

// incomingOffer is a callback ringing on a page.
type incomingOffer struct {
	id   string
	call *sip.AgentCall
	// answer receives the agent's answer once: true accepts. The reader sends it
	// while holding the session's mutex, after taking the offer off the session.
	answer chan bool
	leg    BrowserLeg // the media of the call, set with an acceptance
	notify func(sip.CallEvent)
}

var _ sip.AgentPages = (*Server)(nil)

// Online reports whether the agent has a page logged in with its media session set
// up: whether a callback can ring there.
func (s *Server) Online(tenant, agent string) bool {
	ss := s.sessionOf(tenant, agent)
	if ss == nil {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.leg != nil
}

func (s *Server) sessionOf(tenant, agent string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byAgent[Agent{Tenant: tenant, Name: agent}]
}

// OfferCall rings the agent's page with a callback and waits for the agent's answer
// (see sip.AgentPages): sip.ErrAgentOffline if the agent has no page with media,
// ErrBusy if the page has a call or another callback ringing, sip.ErrDeclined, or
// ctx's error once ctx ends (the page then gets incoming_cancelled).
func (s *Server) OfferCall(ctx context.Context, o sip.IncomingOffer) (sip.AgentAnswer, error) {
	ss := s.sessionOf(o.Tenant, o.Agent)
	if ss == nil {
		return sip.AgentAnswer{}, sip.ErrAgentOffline
	}
	return ss.offerIncoming(ctx, o)
}

func (ss *session) offerIncoming(ctx context.Context, o sip.IncomingOffer) (sip.AgentAnswer, error) {
	in := &incomingOffer{id: o.ID, call: o.Call, answer: make(chan bool, 1), notify: ss.callEvent}
	ss.mu.Lock()
	switch {
	case ss.leg == nil:
		ss.mu.Unlock()
		return sip.AgentAnswer{}, sip.ErrAgentOffline
	case ss.call != nil || ss.incoming != nil:
		ss.mu.Unlock()
		return sip.AgentAnswer{}, ErrBusy
	}
	ss.incoming = in
	ss.mu.Unlock()
	id := o.ID
	ss.log.Info("callback ringing", "call", id, "from", o.From, "to", o.To)
	ss.send(incomingMsg{Type: "incoming", Call: id, From: o.From, To: o.To, Tenant: o.Tenant,
		RingMS: o.RingTimeout.Milliseconds(), At: time.Now().UnixMilli()})
	select {
	case accepted := <-in.answer:
		return in.result(accepted)
	case <-ctx.Done():
	case <-ss.done:
	}
	ss.mu.Lock()
	mine := ss.incoming == in
	if mine {
		ss.incoming = nil
	}
	ss.mu.Unlock()
	if !mine {
		// The agent answered just as the ringing ended: the answer is waiting.
		return in.result(<-in.answer)
	}
	select {
	case <-ss.done:
		return sip.AgentAnswer{}, sip.ErrAgentOffline
	default:
	}
	reason := "cancel" // the customer hung up
	switch {
	case errors.Is(context.Cause(ctx), sip.ErrDraining):
		reason = "shutdown"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		reason = "no_answer"
	}
	ss.send(incomingCancelledMsg{Type: "incoming_cancelled", Call: id, Reason: reason, At: time.Now().UnixMilli()})
	return sip.AgentAnswer{}, ctx.Err()
}

// result turns the agent's answer into OfferCall's.
func (in *incomingOffer) result(accepted bool) (sip.AgentAnswer, error) {
	if !accepted {
		return sip.AgentAnswer{}, sip.ErrDeclined
	}
	return sip.AgentAnswer{Media: in.leg, Notify: in.notify}, nil
}

// answerIncoming handles accept and decline of the callback ringing on the page.
// Accepting makes it the session's call at once (no dial can slip in); the call's
// events follow the ok.
func (ss *session) answerIncoming(m inMessage) error {
	accept := m.Type == "accept"
	ss.mu.Lock()
	in := ss.incoming
	switch {
	case in == nil || in.id != m.Call:
		ss.mu.Unlock()
		return fmt.Errorf("%w: %q is not ringing", sip.ErrNoCall, m.Call)
	case accept && ss.call != nil:
		ss.mu.Unlock()
		return fmt.Errorf("%w: hang up the current call to accept %q", ErrBusy, m.Call)
	}
	ss.incoming = nil
	if accept {
		ss.call, in.leg = in.call, ss.leg
	}
	in.answer <- accept
	ss.mu.Unlock()
	ss.log.Info("callback answered", "call", m.Call, "accepted", accept)
	ss.send(okMsg{Type: "ok", ID: m.ID})
	return nil
}
