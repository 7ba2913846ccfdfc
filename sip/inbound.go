package sip

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"callgate/media"
	"callgate/pool"
	"callgate/routing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// onInvite handles every INVITE: re-INVITEs inside a call, and new calls from trunks.
// The handler lives as long as the INVITE transaction: it returns once the caller has
// ACKed our answer (or got a final failure), and the call goes on in its own goroutine.
func (e *Edge) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	step, in, err := e.classifyInvite(req)
	switch step {
	case stepReInvite:
		e.onReInvite(req, tx)
		return
	case stepRefuse:
		// Same answer whatever was dialled: a scanner learns nothing about our numbers.
		code, reason := statusFor(err, e.set.NoRouteStatus)
		respond(tx, req, code, reason)
		return
	}
	if !e.authorizeInvite(req, tx, in) { // registrar.go: registers_to_us.auth_invites
		return
	}
	if !e.admit() {
		respond(tx, req, 503, "Service Unavailable")
		return
	}
	respond(tx, req, 100, "Trying")
	e.inboundCall(req, tx, in)
}

func (e *Edge) inboundCall(req *sip.Request, tx sip.ServerTransaction, in *Trunk) {
	now := e.now()
	c := &call{
		id:       uuid.NewString(),
		e:        e,
		inTrunk:  in,
		aID:      req.CallID().Value(),
		hangupCh: make(chan hangupEvent, 1),
	}
	c.log = e.log.With("call", c.id)
	c.rec = pool.Call{ID: c.id, Direction: pool.Inbound, InTrunk: in.Name(), State: "setup", SetupAt: now}
	in.hold() // admitted by onInvite: Shutdown waits for calls in setup too

	// Answer on the transport the INVITE came in on: our Contact must be reachable there.
	ds, err := e.dialogOn(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		e.wg.Done()
		in.release()
		c.log.Warn("unreadable INVITE", "err", err)
		respond(tx, req, 400, "Bad Request")
		return
	}
	c.a = ds

	err = e.setupInbound(c, req)
	if err != nil {
		code, reason := statusFor(err, e.set.NoRouteStatus)
		var nr *routing.NoRouteError
		if errors.As(err, &nr) {
			if nr.Treatment.Status != 0 {
				code, reason = nr.Treatment.Status, reasonPhrase(nr.Treatment.Status)
			}
			if nr.Treatment.Action == routing.NoBindingAnnounce {
				if aerr := e.announce(c.a.Context(), c, req, nr.Treatment.Announcement); aerr != nil {
					c.log.Warn("no-binding announcement", "err", aerr)
				}
			}
		}
		if errors.Is(err, ErrCanceled) && !errors.Is(err, ErrDraining) {
			code = 487 // the transaction layer already answered 487
		} else if rerr := ds.Respond(code, reason, nil); rerr != nil {
			c.log.Debug("respond failure", "err", rerr)
		}
		c.failed(code, err)
		e.wg.Done()
		return
	}
	go c.run()
}

// dialogOn is the dialog UA of a transport ("UDP", "TCP").
func (e *Edge) dialogOn(transport string) *sipgo.DialogUA {
	if strings.EqualFold(transport, "tcp") && e.tcp.dialog != nil {
		return e.tcp.dialog
	}
	if e.udp.dialog != nil {
		return e.udp.dialog
	}
	return e.tcp.dialog
}

// setupInbound routes the call, places the B-leg, and answers A. On error nothing of
// the call is left running except what failed() cleans up.
func (e *Edge) setupInbound(c *call, req *sip.Request) error {
	ic, err := inboundCallOf(c.inTrunk, req)
	c.rec.Caller = ic.Caller
	if err != nil {
		return err
	}
	c.rec.Callee, c.rec.Virtual = ic.Callee, ic.Callee

	ctx, cancel := context.WithCancelCause(c.a.Context())
	defer cancel(nil)
	c.mu.Lock()
	c.cancelSetup = cancel
	c.mu.Unlock()
	dec, err := e.router.Route(ctx, ic)
	if err != nil && e.callbacks != nil && errors.Is(err, routing.ErrNoRoute) {
		// No binding: perhaps a customer calling back a number an agent used.
		var taken bool
		if dec, taken, err = e.callback(ctx, c, req, ic, err); taken {
			return err // an agent took the call (callback.go)
		}
	}
	if err != nil {
		return err
	}
	c.rec.Tenant, c.rec.Callee, c.bindingID = dec.Tenant, dec.Target, dec.BindingID
	out := e.trunks.Load().byName[dec.Trunk]
	if out == nil {
		return fmt.Errorf("%w: %q", ErrUnknownTrunk, dec.Trunk)
	}
	if err := out.acquire(e.now()); err != nil {
		return err
	}
	c.outTrunk = out
	c.rec.OutTrunk = out.Name()

	var sid [8]byte
	_, _ = rand.Read(sid[:])
	c.neg, err = newNegotiation(req.Body(), allowedCodecs(c.inTrunk.cfg.Codecs, out.cfg.Codecs), binary.BigEndian.Uint64(sid[:])>>2)
	if err != nil {
		return err
	}
	if c.rtpA, err = media.NewLeg(e.ports, e.set.MediaBind, media.WithRelay(e.relay)); err != nil {
		return err
	}
	if c.rtpB, err = media.NewLeg(e.ports, e.set.MediaBind, media.WithRelay(e.relay)); err != nil {
		return err
	}
	c.rtpA.SetRemote(remoteOf(c.neg.offerA))

	if err := e.placeB(ctx, c, out, dec.ShowAs, dec.Target); err != nil {
		return err
	}
	if c.bindingID != 0 {
		if err := e.recorder.TouchBinding(context.WithoutCancel(ctx), c.bindingID, e.now()); err != nil {
			c.log.Warn("binding call time", "err", err)
		}
	}
	e.remember(c)
	// RespondSDP returns once A has ACKed (or the 2xx retransmissions gave up).
	if err := c.a.RespondSDP(c.neg.sdpForA(e.sdpAddr(c.rtpA), c.neg.offerA.Direction.Answer())); err != nil {
		c.log.Warn("caller did not ACK our 200", "err", err)
		e.forget(c)
		c.hangup(hangupEvent{by: "caller", cause: "no_ack"})
		return nil
	}
	c.log.Info("call connected", "caller", c.rec.Caller, "virtual", c.rec.Virtual, "callee", c.rec.Callee, "trunk", out.Name())
	return nil
}

// sdpAddr is the address written into our SDP for a leg.
func (e *Edge) sdpAddr(l *media.Leg) netip.AddrPort {
	return netip.AddrPortFrom(e.set.MediaPublic, l.LocalAddr().Port())
}

// failed ends a call that never connected: releases what it took and writes its record.
func (c *call) failed(code int, cause error) {
	rec := c.finish(func(r *pool.Call) {
		r.SIPCode, r.Reason, r.HangupBy = code, causeOf(cause), "system"
		if r.Reason == "cancel" {
			r.HangupBy = c.callerSide()
		}
	})
	c.notify(CallEvent{State: StateEnded, Code: rec.SIPCode, Reason: rec.Reason, By: rec.HangupBy})
	c.log.Info("call failed", "code", code, "cause", rec.Reason, "err", cause)
}
