package sip_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"callgate/media"
	cgsip "callgate/sip"

	"github.com/emiago/sipgo"
)

func TestCallConnectsMediaFlowsAndCallerHangsUp(t *testing.T) {
	r := newRig(t)
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)

	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	bc := r.carrier.Calls()[0]
	if bc.To != numB || bc.From != numV {
		t.Fatalf("B-leg went to %s from %s; want %s from %s (the virtual number as caller ID)", bc.To, bc.From, numB, numV)
	}
	if bc.Codec != "PCMA" {
		t.Fatalf("B-leg codec %s, want PCMA (the caller's first choice)", bc.Codec)
	}
	a.sendRTP(d, 8, 50)
	eventually(t, "echoed audio back at the caller", func() bool { return len(a.packets()) >= 45 })
	for _, p := range a.packets() {
		if p.pt != 8 {
			t.Fatalf("caller got PT %d, want 8", p.pt)
		}
		if p.ssrc == 0xA11CE {
			t.Fatalf("SSRC was not rewritten")
		}
	}
	if got := bc.Echoed(); got < 45 {
		t.Fatalf("carrier echoed %d packets, want >= 45", got)
	}

	if err := d.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "BYE reached the callee", bc.GotBye)
	rec := r.record()
	if rec.SIPCode != 200 || rec.Reason != "caller_bye" || rec.HangupBy != "caller" {
		t.Fatalf("record code=%d reason=%q by=%q", rec.SIPCode, rec.Reason, rec.HangupBy)
	}
	if rec.Caller != numA || rec.Virtual != numV || rec.Callee != numB || rec.Tenant != "demo" ||
		rec.InTrunk != "carrier-a" || rec.OutTrunk != "carrier-b" {
		t.Fatalf("record parties: %+v", rec)
	}
	if rec.RingAt.IsZero() || rec.AnswerAt.IsZero() || rec.EndAt.Before(rec.AnswerAt) || rec.AnswerAt.Before(rec.SetupAt) {
		t.Fatalf("record times: setup %v ring %v answer %v end %v", rec.SetupAt, rec.RingAt, rec.AnswerAt, rec.EndAt)
	}
	if len(rec.Attempts) != 1 || rec.Attempts[0].SIPCode != 200 || rec.Attempts[0].Trunk != "carrier-b" {
		t.Fatalf("attempts: %+v", rec.Attempts)
	}
	if r.edge.ActiveCalls() != 0 {
		t.Fatalf("%d calls still active", r.edge.ActiveCalls())
	}
	for _, tr := range r.edge.Trunks() {
		if tr.Active() != 0 {
			t.Fatalf("trunk %s still counts %d calls", tr.Name(), tr.Active())
		}
	}
}

func TestCalleeHangsUp(t *testing.T) {
	r := newRig(t)
	a := newCaller(t, "127.0.0.2")
	a.call(r.edge.Addr("udp"), numV)
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	if err := r.carrier.Hangup(context.Background(), r.carrier.Calls()[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "BYE reached the caller", func() bool { return a.byes.Load() == 1 })
	rec := r.record()
	if rec.Reason != "callee_bye" || rec.HangupBy != "callee" || rec.SIPCode != 200 {
		t.Fatalf("record reason=%q by=%q code=%d", rec.Reason, rec.HangupBy, rec.SIPCode)
	}
}

func TestDigestChallengeAnswered(t *testing.T) {
	r := newRig(t, func(c *rigConfig) {
		c.carrier.User, c.carrier.Password = "callgate", "s3cret"
		c.trunkB.Auth = &configsTrunkAuth{Username: "callgate", Password: "s3cret"}
	})
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	invs := r.carrier.Invites()
	if len(invs) != 2 || invs[0].GetHeader("Authorization") != nil || invs[1].GetHeader("Authorization") == nil {
		t.Fatalf("want a challenged INVITE then one with credentials; got %d INVITEs", len(invs))
	}
	_ = d.Bye(context.Background())
	if rec := r.record(); rec.SIPCode != 200 {
		t.Fatalf("record code %d", rec.SIPCode)
	}
}

func TestWrongCredentialsFailTheCall(t *testing.T) {
	r := newRig(t, func(c *rigConfig) {
		c.carrier.User, c.carrier.Password = "callgate", "s3cret"
		c.trunkB.Auth = &configsTrunkAuth{Username: "callgate", Password: "wrong"}
	})
	a := newCaller(t, "127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := a.invite(ctx, r.edge.Addr("udp"), numA, numV)
	if err != nil {
		t.Fatal(err)
	}
	err = d.WaitAnswer(ctx, sipgo.AnswerOptions{})
	if code := responseCode(err); code != 503 {
		t.Fatalf("caller got %v, want 503 (our credentials are not the caller's business)", err)
	}
	if rec := r.record(); rec.SIPCode != 503 || rec.Attempts[0].SIPCode != 401 {
		t.Fatalf("record code %d attempt %+v", rec.SIPCode, rec.Attempts)
	}
}

func TestCancelWhileRinging(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.carrier.RingFor = time.Minute })
	a := newCaller(t, "127.0.0.2")
	ctx, cancel := context.WithCancel(context.Background())
	d, err := a.invite(ctx, r.edge.Addr("udp"), numA, numV)
	if err != nil {
		t.Fatal(err)
	}
	rang := make(chan struct{})
	var once bool
	go func() {
		_ = d.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sipgoResponse) error {
			if res.StatusCode == 180 && !once {
				once = true
				close(rang)
			}
			return nil
		}})
	}()
	select {
	case <-rang:
	case <-time.After(5 * time.Second):
		t.Fatal("no 180 relayed to the caller")
	}
	cancel() // WaitAnswer sends CANCEL
	rec := r.record()
	if rec.SIPCode != 487 || rec.Reason != "cancel" || rec.HangupBy != "caller" {
		t.Fatalf("record code=%d reason=%q by=%q", rec.SIPCode, rec.Reason, rec.HangupBy)
	}
	if len(rec.Attempts) != 1 || rec.Attempts[0].SIPCode != 487 || rec.Attempts[0].RingAt.IsZero() {
		t.Fatalf("attempt: %+v", rec.Attempts)
	}
	if len(r.carrier.Calls()) != 0 {
		t.Fatal("carrier answered a canceled call")
	}
}

func TestRingTimeout(t *testing.T) {
	r := newRig(t, func(c *rigConfig) {
		c.carrier.RingFor = time.Minute
		c.set.RingTimeout = 300 * time.Millisecond
	})
	a := newCaller(t, "127.0.0.2")
	if code := a.refused(r.edge.Addr("udp"), numV); code != 480 {
		t.Fatalf("caller got %d, want 480", code)
	}
	if rec := r.record(); rec.Reason != "no_answer" || rec.SIPCode != 480 {
		t.Fatalf("record reason=%q code=%d", rec.Reason, rec.SIPCode)
	}
}

func TestCalleeBusyRelayed(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.carrier.Answer = func(string) int { return 486 } })
	a := newCaller(t, "127.0.0.2")
	if code := a.refused(r.edge.Addr("udp"), numV); code != 486 {
		t.Fatalf("caller got %d, want 486", code)
	}
	if rec := r.record(); rec.Reason != "callee_486" || rec.SIPCode != 486 {
		t.Fatalf("record reason=%q code=%d", rec.Reason, rec.SIPCode)
	}
}

func TestUnknownNumberIs404(t *testing.T) {
	r := newRig(t)
	a := newCaller(t, "127.0.0.2")
	if code := a.refused(r.edge.Addr("udp"), "+8675500009999"); code != 404 {
		t.Fatalf("caller got %d, want 404", code)
	}
	rec := r.record()
	if rec.SIPCode != 404 || rec.Reason != "no_route" || rec.Callee != "+8675500009999" {
		t.Fatalf("record %+v", rec)
	}
	if len(r.carrier.Invites()) != 0 {
		t.Fatal("an unbound number reached the carrier")
	}
}

func TestUnknownSourceRefused(t *testing.T) {
	r := newRig(t)
	stranger := newCaller(t, "127.0.0.3")
	for _, to := range []string{numV, "+8675500009999"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := stranger.invite(ctx, r.edge.Addr("udp"), numA, to)
		if err != nil {
			t.Fatal(err)
		}
		if code := responseCode(d.WaitAnswer(ctx, sipgo.AnswerOptions{})); code != 403 {
			t.Fatalf("INVITE to %s from an unknown source got %d, want 403", to, code)
		}
		cancel()
	}
	if len(r.carrier.Invites()) != 0 {
		t.Fatal("a stranger's call reached the carrier")
	}
	if err := r.records.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls, _ := r.store.Calls(context.Background(), poolFilter())
	if len(calls) != 0 {
		t.Fatalf("refused scanner traffic wrote %d call records", len(calls))
	}
}

func TestReInviteHoldKeepsCallUp(t *testing.T) {
	r := newRig(t)
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	bc := r.carrier.Calls()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	res, err := r.carrier.ReInvite(ctx, bc, media.SendOnly)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("hold re-INVITE: %v %v", res, err)
	}
	ans, err := media.ParseSDP(res.Body())
	if err != nil || ans.Direction != media.RecvOnly {
		t.Fatalf("hold answer direction %v (%v), want recvonly", ans.Direction, err)
	}
	res, err = r.carrier.ReInvite(ctx, bc, media.SendRecv)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("resume re-INVITE: %v %v", res, err)
	}
	a.sendRTP(d, 8, 20)
	eventually(t, "audio flows after resume", func() bool { return len(a.packets()) >= 18 })
	if a.byes.Load() != 0 || r.edge.ActiveCalls() != 1 {
		t.Fatal("re-INVITE ended the call")
	}
	_ = d.Bye(ctx)
	if rec := r.record(); rec.Reason != "caller_bye" {
		t.Fatalf("record reason %q", rec.Reason)
	}
}

func TestInfoDTMFBecomesRFC4733(t *testing.T) {
	r := newRig(t)
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Prime media so the carrier's echo socket knows where to send.
	a.sendRTP(d, 8, 5)
	res, err := d.Do(ctx, newInfo(d, "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INFO: %v %v", res, err)
	}
	// B gets telephone-event packets, echoes them; callgate maps them to A's PT 101.
	eventually(t, "DTMF event 5 back at the caller as PT 101", func() bool {
		for _, p := range a.packets() {
			if p.pt == 101 && len(p.payload) >= 4 && p.payload[0] == 5 && p.payload[1]&0x80 != 0 {
				return true
			}
		}
		return false
	})
	res, err = d.Do(ctx, newInfo(d, "text/plain", "hello"))
	if err != nil || res.StatusCode != 415 {
		t.Fatalf("INFO with a non-DTMF body: %v %v, want 415", res, err)
	}
	_ = d.Bye(ctx)
}

func TestGracefulShutdownHangsUpCalls(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.set.ShutdownGrace = 200 * time.Millisecond })
	a := newCaller(t, "127.0.0.2")
	a.call(r.edge.Addr("udp"), numV)
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	if err := r.edge.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.byes.Load() != 1 || !r.carrier.Calls()[0].GotBye() {
		t.Fatal("shutdown did not hang up both legs")
	}
	if rec := r.record(); rec.Reason != "shutdown" || rec.HangupBy != "system" {
		t.Fatalf("record reason=%q by=%q", rec.Reason, rec.HangupBy)
	}
	_ = cgsip.ErrDraining
}

// TestCloseEndsLiveCallsQuietly: Close (not Shutdown) sends no BYE, but a call in
// progress has its media closed, its RTP ports back and its record ended.
func TestCloseEndsLiveCallsQuietly(t *testing.T) {
	r := newRig(t)
	a := newCaller(t, "127.0.0.2")
	a.call(r.edge.Addr("udp"), numV)
	eventually(t, "call up", func() bool { return r.edge.ActiveCalls() == 1 && r.ports.InUse() == 2 })

	if err := r.edge.Close(); err != nil {
		t.Fatal(err)
	}
	if n := r.edge.ActiveCalls(); n != 0 {
		t.Fatalf("%d calls still live after Close", n)
	}
	if n := r.ports.InUse(); n != 0 {
		t.Fatalf("%d RTP ports still held after Close", n)
	}
	rec := r.record()
	if rec.Reason != "shutdown" || rec.HangupBy != "system" || rec.SIPCode != 200 {
		t.Fatalf("record reason=%q by=%q code=%d", rec.Reason, rec.HangupBy, rec.SIPCode)
	}
	time.Sleep(200 * time.Millisecond) // a BYE would have reached the carrier by now
	if calls := r.carrier.Calls(); len(calls) != 1 || calls[0].GotBye() {
		t.Fatal("the carrier got a BYE from a closing edge")
	}
	if err := r.edge.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReInviteAnswerRetransmittedUntilACK: the 200 to a re-INVITE is the UAS core's
// to retransmit (RFC 3261 13.3.1.4): a peer that has not ACKed hears it again after
// T1 and 2·T1; once it ACKs, no more.
func TestReInviteAnswerRetransmittedUntilACK(t *testing.T) {
	r := newRig(t)
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })

	// A raw UA on the caller trunk's address sends a re-INVITE in the call's dialog
	// and does not ACK the answer at first.
	raw, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	edgeAddr := net.UDPAddrFromAddrPort(r.edge.Addr("udp"))
	inv, ok := d.InviteRequest, d.InviteResponse
	target := ok.Contact().Address.String()
	cseq := inv.CSeq().SeqNo + 1
	msg := func(method, branch, body string) []byte {
		ctype := ""
		if body != "" {
			ctype = "Content-Type: application/sdp\r\n"
		}
		return fmt.Appendf(nil, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s\r\nMax-Forwards: 70\r\n"+
			"From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:a@%s>\r\n%sContent-Length: %d\r\n\r\n%s",
			method, target, raw.LocalAddr(), branch, inv.From().Value(), ok.To().Value(), inv.CallID().Value(),
			cseq, method, raw.LocalAddr(), ctype, len(body), body)
	}
	if _, err := raw.WriteToUDP(msg("INVITE", "z9hG4bK-reinvite-1", string(inv.Body())), edgeAddr); err != nil {
		t.Fatal(err)
	}
	oks := func(until time.Time) int {
		n := 0
		buf := make([]byte, 4096)
		for {
			_ = raw.SetReadDeadline(until)
			k, _, err := raw.ReadFromUDP(buf)
			if err != nil {
				return n
			}
			if m := string(buf[:k]); strings.HasPrefix(m, "SIP/2.0 200") && strings.Contains(m, fmt.Sprintf("%d INVITE", cseq)) {
				n++
			}
		}
	}
	start := time.Now()
	// Sent at 0, T1 and 3·T1 (1.5 s): three by 2.2 s.
	if n := oks(start.Add(2200 * time.Millisecond)); n < 3 {
		t.Fatalf("%d copies of the 200 in 2.2 s without an ACK, want 3 (sent, then after T1 and 2·T1)", n)
	}
	if _, err := raw.WriteToUDP(msg("ACK", "z9hG4bK-reinvite-ack-1", ""), edgeAddr); err != nil {
		t.Fatal(err)
	}
	// The next copy was due at 3.5 s: none may come after the ACK.
	if n := oks(start.Add(4200 * time.Millisecond)); n != 0 {
		t.Fatalf("%d copies of the 200 after the ACK", n)
	}
	if a.byes.Load() != 0 || r.edge.ActiveCalls() != 1 {
		t.Fatal("the re-INVITE ended the call")
	}
}
