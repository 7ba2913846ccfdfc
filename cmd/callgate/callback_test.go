package main

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"callgate/pool"
	"callgate/sip/demo"
)

// The numbers of the callback tests: the tenant's only caller number, the customer
// an agent calls from it, and the hotline a forward fallback calls.
const (
	callerNumber = "+862100000001"
	customer     = "+8613900000002"
	hotline      = "+864000000000"
	bobToken     = "tok-bob-0123456789abcdef0"
	// customerHz is the tone the customer's carrier plays on a callback: neither the
	// agent's 1 kHz nor the demo carrier's 440 Hz.
	customerHz = 660
)

// callbackRig is callgate serving tenant acme with agents alice and bob, the demo
// carrier on the trunk (answering agents' calls and forwards, 440 Hz), and the
// carrier's originating side (demo.Caller, 660 Hz) on the trunk's host, which places
// customers' calls back into callgate.
type callbackRig struct {
	*agentRig
	sip    netip.AddrPort
	caller *demo.Caller
}

// newCallbackRig starts callgate with the tenant's callbacks section callbacksYAML
// (flow-style YAML, e.g. "{ring_timeout: 5s}").
func newCallbackRig(t *testing.T, callbacksYAML string) *callbackRig {
	t.Helper()
	carrier := startToneCarrier(t)
	caller := &demo.Caller{ToneHz: customerHz}
	if err := caller.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caller.Close() })
	dir := t.TempDir()
	db := filepath.Join(dir, "callgate.db")
	t.Setenv("ALICE_TOKEN", agentToken)
	t.Setenv("BOB_TOKEN", bobToken)
	cfgText := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: "off"
media:
  bind_address: 127.0.0.1
  port_min: 36000
  port_max: 36998
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
    seats: 4
    callers:
      caps: %s
    callbacks: %s
agents:
  - {tenant: acme, name: alice, token_env: ALICE_TOKEN}
  - {tenant: acme, name: bob, token_env: BOB_TOKEN}
trunks:
  - name: carrier
    host: 127.0.0.1
    port: %d
pools:
  - name: acme-fixed
    supplier: c
    type: fixed
    tenant: acme
    trunks: [carrier]
    numbers: [%q]
`, db, noCaps, callbacksYAML, carrier.Addr().Port(), callerNumber)
	srv := serveYAML(t, dir, cfgText)
	base, out, logs := srv.base, srv.out, srv.logs
	sipAddr := out.wait(t, regexp.MustCompile(`SIP on udp (127\.0\.0\.1:\d+)`))[1]
	return &callbackRig{agentRig: &agentRig{base: base, carrier: carrier, dbPath: db, logs: logs},
		sip: netip.MustParseAddrPort(sipAddr), caller: caller}
}

// callCustomer has agent a call the customer from the tenant's caller number (which
// creates the callback relation), then hangs up.
func (r *callbackRig) callCustomer(t *testing.T, a *goAgent) {
	t.Helper()
	id := a.dial(customer)
	conn := a.state("connected")
	if conn["from"] != callerNumber {
		t.Fatalf("the agent's call showed %v, want %s", conn["from"], callerNumber)
	}
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended")
}

// callBack places the customer's call back to the caller number.
func (r *callbackRig) callBack(t *testing.T) *demo.OutCall {
	t.Helper()
	oc, err := r.caller.Call(r.sip, customer, callerNumber)
	if err != nil {
		t.Fatal(err)
	}
	return oc
}

// finalCode waits for the final answer to a call back.
func finalCode(t *testing.T, oc *demo.OutCall) int {
	t.Helper()
	select {
	case <-oc.Final():
	case <-time.After(30 * time.Second):
		t.Fatal("the call back got no final answer")
	}
	return oc.Code()
}

// incoming waits for the page's incoming event for a call back.
func (a *goAgent) incoming() map[string]any {
	a.t.Helper()
	m := a.next("incoming", "error")
	if m["type"] != "incoming" {
		a.t.Fatalf("waiting for incoming: %v", m)
	}
	return m
}

// callbackRecord waits for the final record of the callback (the only inbound call).
func (r *callbackRig) callbackRecord(t *testing.T) pool.Call {
	t.Helper()
	store, err := pool.OpenSQLite(context.Background(), r.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		calls, err := store.Calls(context.Background(), pool.CallFilter{})
		if err == nil {
			for _, c := range calls {
				if c.Direction == pool.Inbound && c.State == "ended" {
					return c
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final record of the callback: %v %+v", err, calls)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCallbackReachesAgent: alice calls a customer; the customer calls the number back;
// alice's page rings with the customer's number, she accepts on the session's
// existing peer connection, audio flows both ways, and she hangs up. A second callback
// is hung up by the customer.
func TestCallbackReachesAgent(t *testing.T) {
	r := newCallbackRig(t, "{ring_timeout: 20s}")
	a := newGoAgent(t, r.base, agentToken)
	r.callCustomer(t, a)

	oc := r.callBack(t)
	in := a.incoming()
	if in["from"] != customer || in["to"] != callerNumber || in["tenant"] != "acme" || in["ring_ms"] != 20000.0 {
		t.Fatalf("incoming %v", in)
	}
	eventually(t, "the customer hears ringing", oc.Ringing)
	id := in["call"].(string)
	a.send(map[string]any{"type": "accept", "id": "acc", "call": id})
	if m := a.next("ok", "error"); m["type"] != "ok" || m["id"] != "acc" {
		t.Fatalf("accept: %v", m)
	}
	conn := a.state("connected")
	if conn["call"] != id || conn["from"] != customer || conn["to"] != callerNumber {
		t.Fatalf("connected %v", conn)
	}
	if code := finalCode(t, oc); code != 200 {
		t.Fatalf("the customer got %d", code)
	}
	eventually(t, "the customer hears the agent's 1 kHz", func() bool { return dominant(oc.Heard(), 1000, customerHz) })
	eventually(t, "the agent hears the customer's 660 Hz", func() bool { return dominant(a.heardSamples(), customerHz, 1000) })
	a.send(map[string]any{"type": "dtmf", "id": "k", "call": id, "digits": "7#"})
	if m := a.next("ok", "error"); m["type"] != "ok" {
		t.Fatalf("dtmf on a callback: %v", m)
	}
	eventually(t, "DTMF at the customer's carrier", func() bool { return oc.Digits() == "7#" })

	a.send(map[string]any{"type": "hangup", "call": id})
	ended := a.state("ended")
	if ended["by"] != "agent" || ended["code"] != 200.0 {
		t.Fatalf("ended %v", ended)
	}
	eventually(t, "BYE at the customer", oc.GotBye)
	rec := r.record(t, id)
	if rec.Direction != pool.Inbound || rec.Tenant != "acme" || rec.Agent != "alice" || rec.Caller != customer ||
		rec.Callee != callerNumber || rec.SIPCode != 200 || rec.HangupBy != "agent" || rec.InTrunk != "carrier" ||
		rec.AnswerAt.IsZero() || rec.PacketsFromA < 10 || rec.PacketsToA < 10 { // each side heard 200 ms of the other
		t.Fatalf("record %+v", rec)
	}

	// Again; this time the customer hangs up.
	oc = r.callBack(t)
	id = a.incoming()["call"].(string)
	a.send(map[string]any{"type": "accept", "call": id})
	a.state("connected")
	if code := finalCode(t, oc); code != 200 {
		t.Fatalf("second callback: %d", code)
	}
	if err := oc.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ended := a.state("ended"); ended["by"] != "caller" {
		t.Fatalf("ended %v", ended)
	}
	if rec := r.record(t, id); rec.HangupBy != "caller" || rec.Agent != "alice" {
		t.Fatalf("second record %+v", rec)
	}
	// The page can dial again: the callback left the session's media as it was.
	r.callCustomer(t, a)
}

// TestCallbackDeclinedAndUnansweredGetTheFallback: alice declines, and the customer
// gets the configured rejection; unanswered, the ringing stops after the ring timeout
// (incoming_cancelled) with the same fallback.
func TestCallbackDeclinedAndUnansweredGetTheFallback(t *testing.T) {
	r := newCallbackRig(t, "{ring_timeout: 2s, fallback: {action: reject, status: 486}}")
	a := newGoAgent(t, r.base, agentToken)
	r.callCustomer(t, a)

	oc := r.callBack(t)
	id := a.incoming()["call"].(string)
	a.send(map[string]any{"type": "decline", "id": "no", "call": id})
	if m := a.next("ok", "error"); m["type"] != "ok" || m["id"] != "no" {
		t.Fatalf("decline: %v", m)
	}
	if code := finalCode(t, oc); code != 486 {
		t.Fatalf("declined callback answered %d, want the fallback's 486", code)
	}
	if rec := r.record(t, id); rec.Direction != pool.Inbound || rec.Agent != "alice" || rec.SIPCode != 486 || !rec.AnswerAt.IsZero() {
		t.Fatalf("record %+v", rec)
	}

	oc = r.callBack(t)
	id = a.incoming()["call"].(string)
	m := a.next("incoming_cancelled")
	if m["call"] != id || m["reason"] != "no_answer" {
		t.Fatalf("after the ring timeout: %v", m)
	}
	if code := finalCode(t, oc); code != 486 {
		t.Fatalf("unanswered callback answered %d, want 486", code)
	}
	a.send(map[string]any{"type": "accept", "id": "late", "call": id})
	if m := a.next("error"); m["code"] != "no_call" {
		t.Fatalf("late accept: %v", m)
	}
}

// TestCallbackAgentOfflineRingsFallbackAgentThenForwards: alice has left; the
// fallback rings bob, who declines; the call is forwarded to the hotline through the
// trunk, showing the customer's number, and audio flows between customer and hotline.
func TestCallbackAgentOfflineRingsFallbackAgentThenForwards(t *testing.T) {
	r := newCallbackRig(t, fmt.Sprintf("{ring_timeout: 20s, fallback: {agents: [bob], action: forward, number: %q}}", hotline))
	a := newGoAgent(t, r.base, agentToken)
	r.callCustomer(t, a)
	a.ws.Close() // alice logs off
	bob := newGoAgent(t, r.base, bobToken)

	oc := r.callBack(t)
	in := bob.incoming()
	if in["from"] != customer || in["to"] != callerNumber {
		t.Fatalf("bob's incoming %v", in)
	}
	bob.send(map[string]any{"type": "decline", "call": in["call"]})
	if code := finalCode(t, oc); code != 200 {
		t.Fatalf("forwarded callback: %d", code)
	}
	var hot *demo.Call
	eventually(t, "the hotline answered", func() bool {
		for _, c := range r.carrier.Calls() {
			if c.To == hotline {
				hot = c
			}
		}
		return hot != nil
	})
	if hot.From != customer {
		t.Fatalf("the hotline sees %s, want the customer %s", hot.From, customer)
	}
	eventually(t, "the customer hears the hotline", func() bool { return dominant(oc.Heard(), 440, customerHz) })
	eventually(t, "the hotline hears the customer", func() bool { return dominant(hot.Heard(), customerHz, 440) })
	if err := oc.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "BYE at the hotline", hot.GotBye)
	rec := r.callbackRecord(t)
	if rec.Agent != "alice" || rec.Callee != hotline || rec.OutTrunk != "carrier" || rec.SIPCode != 200 || rec.Caller != customer {
		t.Fatalf("record %+v", rec)
	}
}

// TestCallbackCancelledWhileRinging: the customer gives up while the page rings; the
// page gets incoming_cancelled and the record says cancel by the caller.
func TestCallbackCancelledWhileRinging(t *testing.T) {
	r := newCallbackRig(t, "{ring_timeout: 60s}")
	a := newGoAgent(t, r.base, agentToken)
	r.callCustomer(t, a)

	oc := r.callBack(t)
	id := a.incoming()["call"].(string)
	eventually(t, "the customer hears ringing", oc.Ringing)
	oc.Cancel()
	m := a.next("incoming_cancelled")
	if m["call"] != id || m["reason"] != "cancel" {
		t.Fatalf("incoming_cancelled %v", m)
	}
	if code := finalCode(t, oc); code != 487 {
		t.Fatalf("cancelled callback: %d, want 487", code)
	}
	if rec := r.record(t, id); rec.SIPCode != 487 || rec.Reason != "cancel" || rec.HangupBy != "caller" || rec.Agent != "alice" {
		t.Fatalf("record %+v", rec)
	}
	// Nothing rings any more: the page can dial.
	r.callCustomer(t, a)
}

// TestCallbackExpiredRelation: with an expiry of 1ms the relation is over before the
// customer calls back: the call gets the no-binding treatment (404) and no page rings.
func TestCallbackExpiredRelation(t *testing.T) {
	r := newCallbackRig(t, "{expiry: 1ms}")
	a := newGoAgent(t, r.base, agentToken)
	r.callCustomer(t, a)

	oc := r.callBack(t)
	if code := finalCode(t, oc); code != 404 {
		t.Fatalf("callback after expiry: %d, want the no-binding 404", code)
	}
	rec := r.callbackRecord(t)
	if rec.Agent != "" || rec.SIPCode != 404 || rec.Reason != "no_route" {
		t.Fatalf("record %+v", rec)
	}
	// The page was not rung: its next message is the answer to a request made now.
	a.send(map[string]any{"type": "history", "id": "h"})
	if m := a.next("history", "incoming"); m["type"] != "history" {
		t.Fatalf("the page got %v", m)
	}
	if strings.Contains(r.logs.String(), "callback ringing") {
		t.Fatal("an expired relation rang the page")
	}
}
