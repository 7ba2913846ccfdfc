package sip

import (
	"context"
	"errors"
	"fmt"

	"callgate/media"
	"callgate/pool"
	"callgate/routing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// ErrTransferRefused means the carrier did not accept a REFER.
var ErrTransferRefused = errors.New("carrier refused the transfer")

// Hold puts the customer on hold (re-INVITE with a=sendonly, no audio either way) or
// resumes the call (a=sendrecv).
func (h *AgentCall) Hold(ctx context.Context, on bool) error {
	c := h.c
	br := c.currentBridge()
	if br == nil || c.b == nil {
		return fmt.Errorf("%w: call not connected", ErrNoCall)
	}
	dir := media.SendRecv
	if on {
		dir = media.SendOnly
	}
	c.mu.Lock()
	c.neg.versionB++
	body := c.neg.sdpForBAnswer(c.e.sdpAddr(c.rtpB), dir)
	c.mu.Unlock()
	req := sip.NewRequest(sip.INVITE, c.b.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := c.b.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("hold re-INVITE: %w", err)
	}
	if !res.IsSuccess() {
		return &LegError{Code: res.StatusCode, Reason: res.Reason}
	}
	ack := sip.NewRequest(sip.ACK, c.b.InviteResponse.Contact().Address)
	cseq := req.CSeq().SeqNo
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.ACK})
	if err := c.b.WriteRequest(ack); err != nil {
		c.log.Warn("ACK for hold re-INVITE", "err", err)
	}
	if ans, err := media.ParseSDP(res.Body()); err == nil && !ans.Addr.IsUnspecified() {
		c.rtpB.SetRemote(remoteOf(ans))
	}
	br.Hold(media.SideA, on)
	br.Hold(media.SideB, on)
	state := StateConnected
	if on {
		state = StateHeld
	}
	c.notify(CallEvent{State: state})
	return nil
}

// Transfer hands the customer over to number to with a REFER to the carrier (blind
// transfer); once the carrier accepts, the agent leaves the call.
func (h *AgentCall) Transfer(ctx context.Context, to string) error {
	c := h.c
	if c.currentBridge() == nil || c.b == nil {
		return fmt.Errorf("%w: call not connected", ErrNoCall)
	}
	target, err := routing.NormalizeE164(to)
	if err != nil {
		return err
	}
	domain := c.outTrunk.domain()
	req := sip.NewRequest(sip.REFER, c.b.InviteResponse.Contact().Address)
	// target and the caller number are E.164 (digits and '+'): safe in a header.
	req.AppendHeader(sip.NewHeader("Refer-To", "<sip:"+target+"@"+domain+">"))
	if safeNumber(c.rec.Caller) {
		req.AppendHeader(sip.NewHeader("Referred-By", "<sip:"+c.rec.Caller+"@"+domain+">"))
	}
	if err := checkOutgoing(req); err != nil {
		return err
	}
	res, err := c.b.Do(ctx, req)
	if err == nil && res.IsSuccess() {
		c.log.Info("call transferred by REFER", "to", target)
		c.hangup(hangupEvent{by: "agent", cause: "transferred"})
		return nil
	}
	// The carrier refuses REFER (or does not answer it): callgate calls the target
	// itself and bridges the customer to it.
	if err != nil {
		c.log.Info("REFER failed; bridging the transfer", "err", err)
	} else {
		c.log.Info("REFER refused; bridging the transfer", "code", res.StatusCode)
	}
	return c.e.bridgeTransfer(ctx, c, target)
}

// bridgeTransfer hands the customer's leg (c's B) over to a new call that places a
// leg to target and bridges the two; the agent leaves c. If target does not answer,
// the agent's audio is put back and the call goes on.
func (e *Edge) bridgeTransfer(ctx context.Context, c *call, target string) error {
	if !e.admit() {
		return ErrDraining
	}
	out := c.outTrunk
	if err := out.acquire(e.now()); err != nil {
		e.wg.Done()
		return err
	}
	c.mu.Lock()
	br := c.bridge
	c.bridge = nil
	from, tenant, agent := c.rec.Caller, c.rec.Tenant, c.rec.Agent
	audio, dtmf := c.neg.audioB, c.neg.dtmfB
	c.mu.Unlock()
	if br != nil {
		br.Close() // the agent stops talking to the customer while the target rings
	}
	t := &call{
		id:       uuid.NewString(),
		e:        e,
		inTrunk:  c.outTrunk, // the customer's leg, carried over
		outTrunk: out,
		aOut:     c.b,
		rtpA:     c.rtpB,
		hangupCh: make(chan hangupEvent, 1),
	}
	t.inTrunk.hold()
	t.log = e.log.With("call", t.id, "transferred_from", c.id)
	t.rec = pool.Call{ID: t.id, Tenant: tenant, Direction: pool.Outbound, Agent: agent, Caller: from, Callee: target,
		InTrunk: c.outTrunk.Name(), OutTrunk: out.Name(), State: "setup", SetupAt: e.now()}
	t.neg = transferNegotiation(audio, dtmf, c.neg.sessionID+1)
	var err error
	if t.rtpB, err = media.NewLeg(e.ports, e.set.MediaBind, media.WithRelay(e.relay)); err != nil {
		t.failed(503, err)
		e.wg.Done()
		c.startBridge()
		return err
	}
	if err := e.placeB(ctx, t, out, from, target); err != nil {
		code, _ := statusFor(err, e.set.NoRouteStatus)
		// The customer's leg stays with c: nothing of it may be released with t.
		t.rtpA, t.aOut = nil, nil
		t.failed(code, err)
		e.wg.Done()
		c.startBridge()
		return fmt.Errorf("%w: the target answered %d", ErrTransferRefused, code)
	}
	// Hand the customer's leg over: from now on its requests reach t, and c no longer
	// BYEs it or closes its RTP leg.
	c.mu.Lock()
	t.aID = c.bID
	c.b, c.rtpB = nil, nil
	t.lease, c.lease = c.lease, nil // the caller number stays in use with the customer
	c.mu.Unlock()
	e.remember(t)
	t.startBridge()
	t.log.Info("transfer bridged", "to", target)
	go t.run()
	c.hangup(hangupEvent{by: "agent", cause: "transferred"})
	return nil
}

// transferNegotiation offers the target the codec the customer's leg uses.
func transferNegotiation(audio media.Format, dtmf *media.Format, sessionID uint64) *negotiation {
	n := agentNegotiation(audio, dtmf, sessionID)
	n.answered = false
	return n
}

// onNotify answers NOTIFYs inside a call (REFER progress); others get 481.
func (e *Edge) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	if _, ok := e.lookup(req.CallID().Value()); !ok {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	respond(tx, req, 200, "OK")
}
