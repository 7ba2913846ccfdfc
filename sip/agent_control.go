package sip

import (
	"context"
	"errors"
	"fmt"

	"callgate/media"
	"callgate/routing"

	"github.com/emiago/sipgo/sip"
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
	req.AppendHeader(sip.NewHeader("Referred-By", "<sip:"+c.rec.Caller+"@"+domain+">"))
	res, err := c.b.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("REFER: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("%w: %d %s", ErrTransferRefused, res.StatusCode, reasonPhrase(res.StatusCode))
	}
	c.log.Info("call transferred", "to", target)
	c.hangup(hangupEvent{by: "agent", cause: "transferred"})
	return nil
}

// onNotify answers NOTIFYs inside a call (REFER progress); others get 481.
func (e *Edge) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	if _, ok := e.lookup(req.CallID().Value()); !ok {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	respond(tx, req, 200, "OK")
}
