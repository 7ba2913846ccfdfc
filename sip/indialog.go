package sip

import (
	"errors"
	"time"

	"callgate/media"

	"github.com/emiago/sipgo/sip"
)

// onAck confirms the caller's dialog. ACKs for re-INVITE answers need no action.
func (e *Edge) onAck(req *sip.Request, tx sip.ServerTransaction) {
	ref, ok := e.lookup(req.CallID().Value())
	if !ok {
		return
	}
	if cseq := req.CSeq(); cseq != nil {
		if acked, ok := ref.call.reAcks.LoadAndDelete(reAckKey{side: ref.side, cseq: cseq.SeqNo}); ok {
			close(acked.(chan struct{})) // the ACK of a re-INVITE's 2xx: stop resending it
			return
		}
	}
	if ref.side != sideA || ref.call.a == nil {
		return
	}
	_ = ref.call.a.ReadAck(req, tx)
}

// onBye ends a call from either side.
func (e *Edge) onBye(req *sip.Request, tx sip.ServerTransaction) {
	ref, ok := e.lookup(req.CallID().Value())
	if !ok {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c := ref.call
	var err error
	switch {
	case ref.side == sideB:
		err = c.b.ReadBye(req, tx)
	case c.a != nil:
		err = c.a.ReadBye(req, tx)
	default:
		err = c.aOut.ReadBye(req, tx)
	}
	if err != nil {
		c.log.Debug("BYE not for this dialog", "side", ref.side, "err", err)
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	by := "caller"
	if ref.side == sideB {
		by = "callee"
	}
	c.hangup(hangupEvent{by: by, cause: by + "_bye"})
}

// onInfo relays DTMF a carrier sends as SIP INFO to the other leg as RFC 4733 events.
func (e *Edge) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	ref, ok := e.lookup(req.CallID().Value())
	if !ok {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c := ref.call
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	ev, err := parseDTMFInfo(ct, req.Body())
	if err != nil {
		if errors.Is(err, errNotDTMF) {
			respond(tx, req, 415, "Unsupported Media Type")
		} else {
			respond(tx, req, 400, "Bad Request")
		}
		return
	}
	respond(tx, req, 200, "OK")
	toward := media.SideB
	if ref.side == sideB {
		toward = media.SideA
	}
	c.mu.Lock()
	br := c.bridge
	c.mu.Unlock()
	if br == nil {
		return
	}
	if err := br.SendDTMF(toward, ev.digit, ev.duration); err != nil {
		c.log.Warn("relay INFO DTMF", "digit", string(ev.digit), "err", err)
		return
	}
	c.log.Debug("INFO DTMF relayed", "digit", string(ev.digit), "from", ref.side)
}

// onReInvite answers a re-INVITE inside a call (hold, resume, address change) without
// touching the other leg: the call stays up.
func (e *Edge) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	ref, ok := e.lookup(req.CallID().Value())
	if !ok {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c := ref.call
	leg, toward := c.rtpA, media.SideA
	if ref.side == sideB {
		leg, toward = c.rtpB, media.SideB
	}
	dir := media.SendRecv
	if body := req.Body(); len(body) > 0 {
		d, err := media.ParseSDP(body)
		if err != nil {
			respond(tx, req, 488, "Not Acceptable Here")
			return
		}
		if !d.Addr.IsUnspecified() {
			leg.SetRemote(remoteOf(d))
		}
		held := onHold(d)
		c.mu.Lock()
		br := c.bridge
		c.mu.Unlock()
		if br != nil {
			br.Hold(toward, held)
		}
		dir = d.Direction.Answer()
		if d.Addr.IsUnspecified() {
			dir = media.Inactive
		}
		c.log.Info("re-INVITE", "side", ref.side, "hold", held)
	}
	c.mu.Lock()
	var body []byte
	if ref.side == sideA {
		c.neg.versionA++
		body = c.neg.sdpForA(e.sdpAddr(c.rtpA), dir)
	} else {
		c.neg.versionB++
		body = c.neg.sdpForBAnswer(e.sdpAddr(c.rtpB), dir)
	}
	c.mu.Unlock()
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(sip.HeaderClone(&e.dialogOn(req.Transport()).ContactHDR))
	acked := make(chan struct{})
	key := reAckKey{side: ref.side, cseq: req.CSeq().SeqNo}
	c.reAcks.Store(key, acked) // before the 200 leaves: its ACK may come back at once
	if err := tx.Respond(res); err != nil {
		c.reAcks.Delete(key)
		c.log.Debug("answer re-INVITE", "err", err)
		return
	}
	go c.retransmit2xx(key, tx, res, acked)
}

// reAckKey names a re-INVITE of one side of a call by its CSeq.
type reAckKey struct {
	side side
	cseq uint32
}

// retransmit2xx resends the 2xx answer of a re-INVITE until its ACK arrives: after
// T1, then at doubling intervals up to T2, for at most 64×T1 (RFC 3261 13.3.1.4; the
// UAS core's job, as RFC 6026 leaves the transaction out of it). Over UDP a lost 200
// would otherwise leave the peer retransmitting its re-INVITE, which the transaction
// absorbs, until it gives up on the call.
func (c *call) retransmit2xx(key reAckKey, tx sip.ServerTransaction, res *sip.Response, acked <-chan struct{}) {
	defer c.reAcks.Delete(key)
	interval := sip.T1
	timer := time.NewTimer(interval)
	defer timer.Stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-acked:
			return
		case <-giveUp.C:
			c.log.Warn("re-INVITE answer never ACKed", "cseq", key.cseq)
			return
		case <-timer.C:
			if err := tx.Respond(res); err != nil {
				return // the transaction is gone (the call ended)
			}
			interval = min(2*interval, sip.T2)
			timer.Reset(interval)
		}
	}
}
