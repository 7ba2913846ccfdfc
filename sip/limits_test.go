package sip_test

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

func TestEarlyMediaRelayed(t *testing.T) {
	r := newRig(t, func(c *rigConfig) {
		c.carrier.EarlyMedia = true
		c.carrier.RingFor = time.Minute
	})
	a := newCaller(t, "127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := a.invite(ctx, r.edge.Addr("udp"), numA, numV)
	if err != nil {
		t.Fatal(err)
	}
	early := make(chan *sip.Response, 1)
	go func() {
		_ = d.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 183 {
				select {
				case early <- res:
				default:
				}
			}
			return nil
		}})
	}()
	var res *sip.Response
	select {
	case res = <-early:
	case <-time.After(5 * time.Second):
		t.Fatal("no 183 relayed")
	}
	// Early media: audio to the SDP in the 183 is echoed by B before any answer.
	a.sendRTPTo(res.Body(), 8, 20)
	eventually(t, "early media echoed", func() bool { return len(a.packets()) >= 18 })
	cancel()
	if rec := r.record(); rec.SIPCode != 487 || !rec.AnswerAt.IsZero() || rec.PacketsToA < 18 {
		t.Fatalf("record code %d answer %v packets to A %d", rec.SIPCode, rec.AnswerAt, rec.PacketsToA)
	}
}

func TestTrunkConcurrencyLimit(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.trunkB.MaxConcurrentCalls = 1 })
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d2, err := a.invite(ctx, r.edge.Addr("udp"), numA, numV)
	if err != nil {
		t.Fatal(err)
	}
	if code := responseCode(d2.WaitAnswer(ctx, sipgo.AnswerOptions{})); code != 503 {
		t.Fatalf("second call on a full trunk got %d, want 503", code)
	}
	if n := len(r.carrier.Invites()); n != 1 {
		t.Fatalf("carrier got %d INVITEs, want 1", n)
	}
	_ = d.Bye(ctx)
	eventually(t, "trunk slot freed", func() bool { return r.edge.ActiveCalls() == 0 })
	d3 := a.call(r.edge.Addr("udp"), numV) // the slot is back
	_ = d3.Bye(ctx)
}

func TestMaxCallDuration(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.set.MaxCallDuration = 300 * time.Millisecond })
	a := newCaller(t, "127.0.0.2")
	a.call(r.edge.Addr("udp"), numV)
	eventually(t, "both legs hung up", func() bool {
		calls := r.carrier.Calls()
		return a.byes.Load() == 1 && len(calls) == 1 && calls[0].GotBye()
	})
	if rec := r.record(); rec.Reason != "max_duration" || rec.HangupBy != "system" || rec.BilledSec != 1 {
		t.Fatalf("record reason=%q by=%q billed=%d", rec.Reason, rec.HangupBy, rec.BilledSec)
	}
}

func TestRTPTimeout(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.set.RTPTimeout = 400 * time.Millisecond })
	a := newCaller(t, "127.0.0.2")
	a.call(r.edge.Addr("udp"), numV) // and never sends audio
	eventually(t, "silent call hung up", func() bool { return a.byes.Load() == 1 })
	if rec := r.record(); rec.Reason != "rtp_timeout" || rec.HangupBy != "system" {
		t.Fatalf("record reason=%q by=%q", rec.Reason, rec.HangupBy)
	}
}

func TestDrainingRefusesNewCalls(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.set.ShutdownGrace = 5 * time.Second })
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- r.edge.Shutdown(ctx) }()
	eventually(t, "draining", r.edge.Draining)
	d2, err := a.invite(ctx, r.edge.Addr("udp"), numA, numV)
	if err != nil {
		t.Fatal(err)
	}
	if code := responseCode(d2.WaitAnswer(ctx, sipgo.AnswerOptions{})); code != 503 {
		t.Fatalf("new call while draining got %d, want 503", code)
	}
	if r.edge.ActiveCalls() != 1 {
		t.Fatal("draining dropped the call in progress")
	}
	_ = d.Bye(ctx) // the last call ends: shutdown completes before its grace
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("shutdown did not finish once the last call ended")
	}
}
