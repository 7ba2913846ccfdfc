package sip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"callgate/media"
	"callgate/routing"

	"github.com/emiago/sipgo/sip"
)

// This file is the SIP side of callbacks to agents. An agent's call from caller
// number N to customer C is remembered (rememberCallback); when a carrier then
// delivers a call from C to N that no virtual-number binding takes, setupInbound asks
// callback: the call rings the agent's page (the incoming event), the agent accepts
// and the browser leg the agent's session keeps is bridged to the caller, or the
// tenant's fallback applies (other agents, then reject or forward).

// CallbackRouter remembers agents' outbound calls and routes customers' calls back to
// the agents (routing.Callbacks).
type CallbackRouter interface {
	Remember(ctx context.Context, p routing.PlacedCall) error
	Route(ctx context.Context, c routing.InboundCall) (routing.CallbackDecision, error)
}

var _ CallbackRouter = (*routing.Callbacks)(nil)

// AgentPages ring agents' pages with customers' callbacks.
type AgentPages interface {
	// OfferCall rings the page of o's agent and waits for the agent: it returns the
	// answer once the agent accepts (o.Call is then the agent's current call), or an
	// error: ErrDeclined, ErrAgentOffline, another reason the agent cannot take it
	// (busy), or ctx's error when ctx ends first (the ring timeout, or the caller
	// gave up); the page is then told the call is gone.
	OfferCall(ctx context.Context, o IncomingOffer) (AgentAnswer, error)
}

// AgentPagesFunc adapts a function to AgentPages.
type AgentPagesFunc func(ctx context.Context, o IncomingOffer) (AgentAnswer, error)

// OfferCall calls f.
func (f AgentPagesFunc) OfferCall(ctx context.Context, o IncomingOffer) (AgentAnswer, error) {
	return f(ctx, o)
}

// The answers of AgentPages.OfferCall that are no acceptance. They never end a call:
// the next agent or the fallback takes over.
var (
	// ErrAgentOffline means the agent has no page logged in with media set up.
	ErrAgentOffline = errors.New("agent is not online")
	// ErrDeclined means the agent declined the call.
	ErrDeclined = errors.New("agent declined the call")
)

// IncomingOffer is a customer's callback offered to an agent.
type IncomingOffer struct {
	// ID is the call's id (Call.ID()), the same as in its record.
	ID string
	// Call controls the call once the agent accepted it.
	Call   *AgentCall
	Tenant string
	Agent  string
	From   string // the customer
	To     string // the caller number the customer called
	// RingTimeout is how long the page rings (the ctx of OfferCall ends then).
	RingTimeout time.Duration
}

// AgentAnswer is an agent's acceptance of a callback: the browser leg the call uses
// and where its events go (from one goroutine at a time, like AgentDial.Notify).
type AgentAnswer struct {
	Media  AgentMedia
	Notify func(CallEvent)
}

// WithCallbacks routes customers' calls back to the agents who called them: r
// remembers agents' calls and decides, pages rings the agents. Without it, such calls
// get the no-binding treatment.
func WithCallbacks(r CallbackRouter, pages AgentPages) Option {
	return func(e *Edge) { e.callbacks, e.pages = r, pages }
}

// rememberCallback records, once an agent's INVITE went out, that the customer saw
// the call's caller number: the customer's call back reaches the agent. A store
// failure is logged; the call goes on.
func (e *Edge) rememberCallback(c *call) {
	if e.callbacks == nil || c.agent == nil || c.b == nil {
		return
	}
	c.mu.Lock()
	p := routing.PlacedCall{Tenant: c.rec.Tenant, Agent: c.rec.Agent, Number: c.rec.Caller, Customer: c.rec.Callee, CallID: c.id}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.callbacks.Remember(ctx, p); err != nil {
		c.log.Warn("callback relation not stored", "err", err)
	}
}

// callback offers call c, which no binding took (noRoute is the router's error), to
// the agent whose customer is calling back, then to the fallback's agents, and else
// applies the fallback. taken reports that an agent accepted: the call is then
// answered (err nil) or failed (err). Otherwise the call goes on to dec (forward) or
// ends with err: noRoute itself when the call is no callback.
func (e *Edge) callback(ctx context.Context, c *call, req *sip.Request, ic routing.InboundCall, noRoute error) (dec routing.Decision, taken bool, err error) {
	cd, err := e.callbacks.Route(ctx, ic)
	if errors.Is(err, routing.ErrNoRoute) {
		return routing.Decision{}, false, noRoute
	}
	if err != nil {
		return routing.Decision{}, false, err
	}
	c.mu.Lock()
	c.rec.Tenant, c.rec.Agent = cd.Tenant, cd.Agent
	c.mu.Unlock()
	c.log.Info("callback", "tenant", cd.Tenant, "agent", cd.Agent, "pages", cd.Agents)
	if len(cd.Agents) > 0 && e.pages != nil {
		// An offer no browser codec can take would ring agents for nothing.
		if _, err := newNegotiation(req.Body(), allowedCodecs(c.inTrunk.cfg.Codecs, []string{media.NamePCMU, media.NamePCMA}), 0); err != nil {
			return routing.Decision{}, false, err
		}
		// Listed while pages ring, so that shutdown can end the call (hangupAll);
		// finish unlists it.
		if _, loaded := e.calls.LoadOrStore(c.id, c); !loaded {
			e.live.Add(1)
		}
		if err := c.ringA(); err != nil {
			c.log.Debug("180 to caller", "err", err)
		}
		h := &AgentCall{c: c}
		for _, agent := range cd.Agents {
			if taken, err := e.offerCallback(ctx, h, req, cd, agent); taken || err != nil {
				return routing.Decision{}, taken, err
			}
		}
	}
	if cd.Fallback.Action == routing.CallbackForward {
		return cd.ForwardDecision(ic), false, nil
	}
	return routing.Decision{}, false, fmt.Errorf("callback to %s not taken: %w", cd.Agent, cd.RejectError(ic))
}

// ringA tells the caller that agents' pages ring.
func (c *call) ringA() error {
	now := c.e.now()
	c.mu.Lock()
	first := c.rec.RingAt.IsZero()
	if first {
		c.rec.RingAt, c.rec.State = now, "ringing"
	}
	c.mu.Unlock()
	if first {
		c.recordProgress()
	}
	return c.a.Respond(180, "Ringing", nil)
}

// offerCallback rings one agent's page for the ring timeout. taken reports that the
// agent accepted (the call is then connected, or failed with err); a decline, an
// absent or busy agent or the timeout are neither: the next agent or the fallback
// follows. err is also set when the caller gave up meanwhile.
func (e *Edge) offerCallback(ctx context.Context, h *AgentCall, req *sip.Request, cd routing.CallbackDecision, agent string) (taken bool, err error) {
	c := h.c
	ringCtx, cancel := context.WithTimeout(ctx, cd.RingTimeout)
	defer cancel()
	c.mu.Lock()
	o := IncomingOffer{ID: c.id, Call: h, Tenant: cd.Tenant, Agent: agent, From: c.rec.Caller, To: c.rec.Callee, RingTimeout: cd.RingTimeout}
	c.mu.Unlock()
	ans, err := e.pages.OfferCall(ringCtx, o)
	if err != nil {
		if ctx.Err() != nil {
			return false, setupCanceled(ctx)
		}
		c.log.Info("callback not taken", "agent", agent, "why", err)
		return false, nil
	}
	c.log.Info("callback accepted", "agent", agent)
	return true, e.answerCallback(ctx, c, req, agent, ans)
}

// setupCanceled is the error of a call whose setup ctx ended: the caller's CANCEL,
// shutdown, or the agent who had accepted it hanging up before it connected.
func setupCanceled(ctx context.Context) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, ErrDraining):
		return fmt.Errorf("%w: %w", ErrCanceled, ErrDraining)
	case errors.Is(cause, errAgentHangup):
		return fmt.Errorf("%w: %w", errAgentHangup, &LegError{Code: 480, Reason: "Temporarily Unavailable"})
	}
	return ErrCanceled
}

// answerCallback connects a callback agent accepted: the agent's browser leg is side A
// of the bridge (as in the agent's own calls), an RTP leg toward the caller side B;
// the caller gets 200 with the agent's codec and is ACKed; the agent's page then
// gets the connected event.
func (e *Edge) answerCallback(ctx context.Context, c *call, req *sip.Request, agent string, ans AgentAnswer) error {
	c.agent = &agentSide{tenant: c.rec.Tenant, name: agent, media: ans.Media, base: ans.Media.Stats(), notify: ans.Notify}
	c.mu.Lock()
	c.rec.Agent = agent
	c.mu.Unlock()
	if ctx.Err() != nil {
		return setupCanceled(ctx)
	}
	var sid [8]byte
	_, _ = rand.Read(sid[:])
	audio, dtmf := ans.Media.Audio(), ans.Media.DTMF()
	neg, err := callbackNegotiation(req.Body(), c.inTrunk.cfg.Codecs, audio, dtmf, binary.BigEndian.Uint64(sid[:])>>2)
	if err != nil {
		return err
	}
	cfg, err := media.NewBridgeConfig(audio, dtmf, neg.audioA, neg.dtmfA)
	if err != nil {
		return fmt.Errorf("%w: %w", media.ErrNoCommonCodec, err)
	}
	cfg.Logger = c.log
	leg, err := media.NewLeg(e.ports, e.set.MediaBind, media.WithRelay(e.relay))
	if err != nil {
		return err
	}
	leg.SetRemote(remoteOf(neg.offerA))
	c.mu.Lock()
	cfg.Tap = c.recordingTapLocked() // record.go: callbacks are recorded as the tenant says, too
	c.mu.Unlock()
	br := media.NewBridge(ans.Media, leg, cfg)
	now := e.now()
	c.mu.Lock()
	c.neg, c.rtpA, c.bridge = neg, leg, br
	c.rec.State, c.rec.SIPCode, c.rec.AnswerAt = "answered", 200, now
	c.cancelSetup = nil
	c.mu.Unlock()
	if err := br.Start(); err != nil {
		return fmt.Errorf("callback bridge: %w", err)
	}
	e.remember(c)
	c.recordProgress()
	// RespondSDP returns once the caller has ACKed (or the 2xx retransmissions gave up).
	if err := c.a.RespondSDP(neg.sdpForA(e.sdpAddr(leg), neg.offerA.Direction.Answer())); err != nil {
		c.log.Warn("caller did not ACK our 200", "err", err)
		e.forget(c)
		c.hangup(hangupEvent{by: "caller", cause: "no_ack"})
		return nil
	}
	c.notify(CallEvent{State: StateConnected})
	c.log.Info("callback connected", "caller", c.rec.Caller, "number", c.rec.Callee, "agent", agent)
	return nil
}

// callbackNegotiation answers the caller's offer with the codec of the agent's
// browser leg (audio is relayed as is, so the caller must offer it and the trunk
// allow it), with the caller's payload types, and the caller's telephone-event.
func callbackNegotiation(body []byte, allowed []string, agent media.Format, agentDTMF *media.Format, sessionID uint64) (*negotiation, error) {
	if len(body) == 0 {
		return nil, ErrNoOffer
	}
	offer, err := media.ParseSDP(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if offer.Proto != "" && offer.Proto != "RTP/AVP" {
		return nil, fmt.Errorf("%w: transport %q, want RTP/AVP", ErrBadSDP, offer.Proto)
	}
	if !codecAllowed(agent.Name, allowed) {
		return nil, fmt.Errorf("%w: the agent's browser uses %s, the trunk allows %s", media.ErrNoCommonCodec, agent.Name, strings.Join(allowed, ", "))
	}
	n := &negotiation{offerA: offer, sessionID: sessionID, versionA: 1, versionB: 1, answered: true,
		audioB: agent, dtmfB: agentDTMF}
	found := false
	for _, f := range offer.Formats {
		switch {
		case isDTMF(f):
			if n.dtmfA == nil {
				f := f
				n.dtmfA = &f
			}
		case !found && strings.EqualFold(f.Name, agent.Name) && f.Rate == agent.Rate:
			n.audioA, found = f, true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: the caller did not offer %s, the agent's browser codec", media.ErrNoCommonCodec, agent.Name)
	}
	return n, nil
}
