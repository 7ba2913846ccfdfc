package sip

import (
	"context"
	"errors"
	"fmt"

	"callgate/media"
	"callgate/pool"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// placeOn sends the callee's INVITE through trunk out showing showAs as caller ID,
// as attempt seq of the call (placeB in failover.go picks the trunks), relays 180/183
// to A, and returns once B answered (ACKed, media bridged) or failed. ctx ends when
// A cancels.
func (e *Edge) placeOn(ctx context.Context, c *call, out *Trunk, showAs, target string, seq int) error {
	ts, err := e.sideFor(out)
	if err != nil {
		return err
	}
	now := e.now()
	c.mu.Lock()
	c.att = pool.Attempt{CallID: c.id, Seq: seq, Trunk: out.Name(), From: showAs, To: target, StartAt: now}
	c.mu.Unlock()

	// Numbers come from routing and the store as E.164; check anyway before they go
	// into a header: nothing outside may write into SIP raw.
	if !safeNumber(showAs) || !safeNumber(target) {
		c.endAttempt(0, "bad_number")
		return fmt.Errorf("%w: caller %q or callee %q is not a plain E.164 number", ErrBadHeaderValue, showAs, target)
	}
	// A trunk that registers to callgate is reached at its contact (registrar.go).
	dst, err := e.targetOf(out, ts)
	if err != nil {
		c.endAttempt(0, "trunk_down")
		return err
	}
	ts, domain := dst.side, dst.domain
	ruri := dst.uri
	ruri.User = target
	inv := sip.NewRequest(sip.INVITE, ruri)
	inv.SetTransport(dst.transport)
	inv.SetDestination(dst.dest)
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: showAs, Host: domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	inv.AppendHeader(&from)
	inv.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target, Host: domain}, Params: sip.NewParams()})
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"))
	inv.SetBody(c.neg.sdpForB(e.sdpAddr(c.rtpB)))

	if err := checkOutgoing(inv); err != nil {
		c.endAttempt(0, "bad_header")
		return err
	}
	ringCtx, cancel := context.WithTimeout(ctx, e.set.RingTimeout)
	defer cancel()
	ringCtx, heard, stopWatch := watchSilence(ringCtx, out) // a silent trunk fails over (failover.go)
	defer stopWatch()
	dc, err := ts.dialog.WriteInvite(ringCtx, inv)
	if err != nil {
		c.endAttempt(0, "send_failed")
		return fmt.Errorf("send INVITE to %s: %w", out.Name(), &LegError{Code: 503, Reason: err.Error()})
	}
	c.b = dc
	c.bID = inv.CallID().Value()
	c.mu.Lock()
	if c.setupAdded == 0 {
		c.setupAdded = e.now().Sub(c.rec.SetupAt)
	}
	c.mu.Unlock()
	e.remember(c) // BYE or CANCEL races from either side now find the call
	c.recordProgress()

	opts := sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error { heard(); return c.onProvisional(res) }}
	if a := out.cfg.Auth; a != nil {
		opts.Username, opts.Password = a.Username, a.Password
	}
	err = dc.WaitAnswer(ringCtx, opts)
	if err != nil {
		return c.legFailed(ctx, ringCtx, err)
	}
	if _, err := c.neg.applyAnswer(dc.InviteResponse.Body()); err != nil {
		// B answered with something we cannot use: hang B up at once.
		_ = dc.Ack(context.Background())
		_ = dc.Bye(context.Background())
		c.endAttempt(200, "codec")
		return err
	}
	if err := dc.Ack(ctx); err != nil {
		c.log.Warn("ACK to callee", "err", err)
	}
	ans, _ := media.ParseSDP(dc.InviteResponse.Body())
	c.rtpB.SetRemote(remoteOf(ans))
	c.startBridge()
	now = e.now()
	c.mu.Lock()
	c.att.SIPCode, c.att.AnswerAt = 200, now
	c.rec.State, c.rec.SIPCode, c.rec.AnswerAt = "answered", 200, now
	c.cancelSetup = nil
	c.mu.Unlock()
	c.recordProgress()
	return nil
}

// onProvisional relays B's ringing to A: 180 as is, 183 with early media bridged.
func (c *call) onProvisional(res *sip.Response) error {
	if !res.IsProvisional() || res.StatusCode == 100 {
		return nil
	}
	now := c.e.now()
	c.mu.Lock()
	first := c.att.RingAt.IsZero()
	if first {
		c.att.RingAt, c.rec.RingAt, c.rec.State = now, now, "ringing"
	}
	c.mu.Unlock()
	if first {
		c.recordProgress()
	}
	if len(res.Body()) > 0 {
		ans, err := c.neg.applyAnswer(res.Body())
		if err == nil {
			c.rtpB.SetRemote(remoteOf(ans))
			c.startBridge()
			if c.a == nil {
				c.notify(CallEvent{State: StateEarly})
				return nil
			}
			body := c.neg.sdpForA(c.e.sdpAddr(c.rtpA), c.neg.offerA.Direction.Answer())
			return c.a.Respond(183, "Session Progress", body, sip.NewHeader("Content-Type", "application/sdp"))
		}
		c.log.Debug("unusable early media", "err", err)
	}
	if c.a == nil {
		c.notify(CallEvent{State: StateRinging})
		return nil
	}
	return c.a.Respond(180, "Ringing", nil)
}

// legFailed turns WaitAnswer's error into the call's error and closes the attempt.
func (c *call) legFailed(callCtx, ringCtx context.Context, err error) error {
	var dialogErr *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dialogErr):
		code := dialogErr.Res.StatusCode
		c.endAttempt(code, fmt.Sprintf("callee_%d", code))
		return &LegError{Code: code, Reason: dialogErr.Res.Reason}
	case errors.Is(context.Cause(callCtx), ErrDraining):
		c.endAttempt(487, "shutdown")
		return fmt.Errorf("%w: %w", ErrCanceled, ErrDraining)
	case callCtx.Err() != nil:
		c.endAttempt(487, "cancel")
		return ErrCanceled
	case silent(ringCtx):
		// Not even 100 Trying within the trunk's invite_timeout.
		c.endAttempt(408, "no_response")
		return &LegError{Code: 408, Reason: "No Response From Trunk"}
	case errors.Is(ringCtx.Err(), context.DeadlineExceeded):
		c.endAttempt(487, "no_answer")
		return ErrNoAnswer
	default:
		// Transaction timeout: the trunk never answered the INVITE.
		c.endAttempt(408, "timeout")
		return &LegError{Code: 408, Reason: "Request Timeout"}
	}
}

func (c *call) endAttempt(code int, reason string) {
	now := c.e.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.att.SIPCode, c.att.Reason, c.att.EndAt = code, reason, now
}

// startBridge starts relaying media between the legs once B's codec is known.
func (c *call) startBridge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bridge != nil {
		return
	}
	cfg, err := media.NewBridgeConfig(c.neg.audioA, c.neg.dtmfA, c.neg.audioB, c.neg.dtmfB)
	if err != nil {
		c.log.Error("bridge", "err", err)
		return
	}
	cfg.Logger = c.log
	cfg.Tap = c.recordingTapLocked() // record.go
	c.bridge = media.NewBridge(c.endpointA(), c.rtpB, cfg)
	if err := c.bridge.Start(); err != nil {
		c.log.Error("bridge start", "err", err)
	}
}

func transportName(t string) string {
	switch t {
	case "tcp":
		return "TCP"
	case "tls":
		return "TLS"
	}
	return "UDP"
}
