package sip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"callgate/media"
	"callgate/pool"
	"callgate/routing"

	"github.com/google/uuid"
)

// AgentMedia is an agent's browser leg as a call uses it: a bridge endpoint with the
// formats the browser negotiated. The session owns it; calls borrow it.
type AgentMedia interface {
	media.Endpoint
	Audio() media.Format
	DTMF() *media.Format
	Stats() media.LegStats
}

// OutboundRouter picks the caller number and trunk of an agent's call.
type OutboundRouter interface {
	Route(ctx context.Context, c routing.OutboundCall) (routing.OutboundDecision, error)
}

// WithOutboundRouter sets the router for agents' calls (without it, DialForAgent
// fails with routing.ErrNoRoute).
func WithOutboundRouter(r OutboundRouter) Option { return func(e *Edge) { e.outRouter = r } }

// Call states reported to the agent's page.
const (
	StateDialing   = "dialing"
	StateRinging   = "ringing"
	StateEarly     = "early"
	StateConnected = "connected"
	StateHeld      = "held"
	StateEnded     = "ended"
)

// CallEvent is a change in an agent's call.
type CallEvent struct {
	Call   string
	State  string
	From   string // caller number shown to the customer
	To     string // the customer
	Code   int    // final SIP status, with StateEnded
	Reason string // with StateEnded
	By     string // with StateEnded: agent, callee, system
	Billed int64  // with StateEnded: billed seconds
	At     time.Time
}

// AgentDial asks for an agent's call to a customer.
type AgentDial struct {
	Tenant string
	Agent  string
	To     string // as the agent typed it; normalised here
	Media  AgentMedia
	// Notify receives every state change of the call, in order, from one goroutine
	// at a time. It must not block for long.
	Notify func(CallEvent)
	// Record asks for the call to be recorded even if its tenant does not record
	// every call (record.go).
	Record bool
}

type agentSide struct {
	tenant, name string
	media        AgentMedia
	base         media.LegStats // the browser leg's counters when the call started
	notify       func(CallEvent)
	record       bool // the agent asked for a recording
}

// AgentCall controls an agent's call.
type AgentCall struct{ c *call }

// ID is the call's id, the same as in its record.
func (h *AgentCall) ID() string { return h.c.id }

// From is the caller number the customer sees.
func (h *AgentCall) From() string { return h.c.rec.Caller }

// To is the customer's number, normalised.
func (h *AgentCall) To() string { return h.c.rec.Callee }

// errAgentHangup is the cause when the agent ends the call before it connects.
var errAgentHangup = errors.New("agent hung up")

// Hangup ends the call: CANCEL while it rings, BYE once connected. cause names why in
// the record ("caller_bye" when the agent pressed hang-up, "connection_lost" when the
// page went away).
func (h *AgentCall) Hangup(cause string) {
	h.c.hangup(hangupEvent{by: "agent", cause: cause})
}

// SendDTMF sends digits to the customer as RFC 4733 events.
func (h *AgentCall) SendDTMF(digits string) error {
	br := h.c.currentBridge()
	if br == nil {
		return fmt.Errorf("%w: call not connected", ErrNoCall)
	}
	for i := 0; i < len(digits); i++ {
		if err := br.SendDTMF(media.SideB, digits[i], 0); err != nil {
			return err
		}
	}
	return nil
}

// Mute stops (or resumes) sending the agent's audio to the customer.
func (h *AgentCall) Mute(on bool) error {
	br := h.c.currentBridge()
	if br == nil {
		return fmt.Errorf("%w: call not connected", ErrNoCall)
	}
	br.Hold(media.SideB, on)
	return nil
}

// ErrNoCall means a control request names a call that is not (or no longer) connected.
var ErrNoCall = errors.New("no such call")

// DialForAgent places an agent's call: it normalises the number, picks the caller
// number and trunk, and starts the call. Its progress arrives through d.Notify from the
// call's goroutine, starting with StateDialing and ending with StateEnded.
func (e *Edge) DialForAgent(ctx context.Context, d AgentDial) (*AgentCall, error) {
	if !e.admit() {
		return nil, ErrDraining
	}
	admitted := true
	defer func() {
		if admitted {
			e.wg.Done()
		}
	}()
	if e.outRouter == nil {
		return nil, fmt.Errorf("%w: no outbound routing configured", routing.ErrNoRoute)
	}
	id := uuid.NewString()
	// The router analyses the number (any written form), checks do-not-call and caps,
	// and locks a caller number for this call: refused calls never reach SIP.
	dec, err := e.outRouter.Route(ctx, routing.OutboundCall{Tenant: d.Tenant, Agent: d.Agent, To: d.To, CallID: id})
	if err != nil {
		return nil, err
	}
	to := dec.Callee.E164
	placed := false
	defer func() {
		if !placed {
			dec.Lease.Release(routing.OutcomeNotPlaced)
		}
	}()
	out := e.trunks.Load().byName[dec.Trunk]
	if out == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTrunk, dec.Trunk)
	}
	audio := d.Media.Audio()
	if !codecAllowed(audio.Name, out.cfg.Codecs) {
		return nil, fmt.Errorf("%w: the browser uses %s, trunk %s allows %v", media.ErrNoCommonCodec, audio.Name, out.Name(), out.cfg.Codecs)
	}
	if err := out.acquire(e.now()); err != nil {
		return nil, err
	}
	c := &call{
		id:       id,
		e:        e,
		lease:    dec.Lease,
		outTrunk: out,
		hangupCh: make(chan hangupEvent, 1),
		agent:    &agentSide{tenant: d.Tenant, name: d.Agent, media: d.Media, base: d.Media.Stats(), notify: d.Notify, record: d.Record},
	}
	c.log = e.log.With("call", c.id, "agent", d.Agent)
	c.rec = pool.Call{ID: c.id, Tenant: d.Tenant, Direction: pool.Outbound, Agent: d.Agent, Caller: dec.From,
		Callee: to, OutTrunk: out.Name(), State: "setup", SetupAt: e.now()}
	var sid [8]byte
	_, _ = rand.Read(sid[:])
	c.neg = agentNegotiation(audio, d.Media.DTMF(), binary.BigEndian.Uint64(sid[:])>>2)
	if c.rtpB, err = media.NewLeg(e.ports, e.set.MediaBind, media.WithRelay(e.relay)); err != nil {
		out.release()
		return nil, err
	}
	setupCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	c.cancelSetup = cancel
	admitted = false // the call goroutine owns the count now
	placed = true    // and the lease: finish releases it
	go func() {
		defer cancel(nil)
		c.notify(CallEvent{State: StateDialing})
		err := e.placeB(setupCtx, c, out, dec.From, to)
		e.rememberCallback(c) // the customer saw dec.From calling: a call back reaches this agent
		if err != nil {
			if errors.Is(context.Cause(setupCtx), errAgentHangup) {
				err = fmt.Errorf("%w: %w", ErrCanceled, err)
			}
			code, _ := statusFor(err, e.set.NoRouteStatus)
			if errors.Is(err, ErrCanceled) && !errors.Is(err, ErrDraining) {
				code = 487
			}
			c.failed(code, err)
			e.wg.Done()
			return
		}
		e.remember(c)
		c.notify(CallEvent{State: StateConnected})
		c.log.Info("agent call connected", "from", dec.From, "to", to, "trunk", out.Name())
		c.run()
	}()
	return &AgentCall{c: c}, nil
}

// agentNegotiation offers B the browser's codec (audio is relayed as is) and
// telephone-event.
func agentNegotiation(audio media.Format, dtmf *media.Format, sessionID uint64) *negotiation {
	n := &negotiation{sessionID: sessionID, versionA: 1, versionB: 1}
	n.offerA = media.SessionDesc{Formats: []media.Format{audio}}
	if dtmf != nil {
		n.offerA.Formats = append(n.offerA.Formats, *dtmf)
		n.dtmfA = dtmf
	}
	n.offerB = []media.Format{{PT: audio.PT, Name: audio.Name, Rate: audio.Rate},
		{PT: dtmfPT, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"}}
	return n
}

// notify reports a state change to the agent, if the call has one.
func (c *call) notify(ev CallEvent) {
	if c.agent == nil || c.agent.notify == nil {
		return
	}
	ev.Call = c.id
	c.mu.Lock()
	ev.From, ev.To = c.rec.Caller, c.rec.Callee
	c.mu.Unlock()
	if ev.At.IsZero() {
		ev.At = c.e.now()
	}
	c.agent.notify(ev)
}

// callerSide names the A party in records: the agent, or the calling carrier (also
// of a callback, which an agent answers).
func (c *call) callerSide() string {
	if c.agent != nil && c.a == nil {
		return "agent"
	}
	return "caller"
}

// endpointA is the A side of the bridge.
func (c *call) endpointA() media.Endpoint {
	if c.agent != nil {
		return c.agent.media
	}
	return c.rtpA
}

// statsA counts the A side's packets during this call: the caller's RTP leg of an
// inbound call (a callback's too), the agent's browser leg of the agent's own call.
func (c *call) statsA() media.LegStats {
	if c.agent == nil || c.rtpA != nil {
		return c.rtpA.Stats()
	}
	now := c.agent.media.Stats()
	base := c.agent.base
	now.PacketsIn -= base.PacketsIn
	now.PacketsOut -= base.PacketsOut
	now.BytesIn -= base.BytesIn
	now.BytesOut -= base.BytesOut
	if !now.LastReceived.After(base.LastReceived) {
		now.LastReceived = time.Time{}
	}
	return now
}

func (c *call) currentBridge() *media.Bridge {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bridge
}
