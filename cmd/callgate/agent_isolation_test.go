package main

import (
	"testing"
	"time"
)

// An agent cannot act on another agent's call, even in the same tenant and knowing
// its id: every control message and feedback is refused with no_call, and the call
// goes on untouched (no BYE, no digits, no re-INVITE, no REFER at the carrier).
func TestAgentCannotActOnAnotherAgentsCall(t *testing.T) {
	r := newCallbackRig(t, "{ring_timeout: 5s}")
	alice := newGoAgent(t, r.base, agentToken)
	bob := newGoAgent(t, r.base, bobToken)
	id := alice.dial("+8613900000002")
	alice.state("connected")
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	customer := r.carrier.Calls()[0]

	for i, m := range []map[string]any{
		{"type": "hangup", "call": id},
		{"type": "dtmf", "call": id, "digits": "1"},
		{"type": "mute", "call": id, "muted": true},
		{"type": "hold", "call": id, "on": true},
		{"type": "transfer", "call": id, "to": "+8613900000003"},
		{"type": "feedback", "call": id, "kind": "noise"},
	} {
		m["id"] = string(rune('a' + i))
		bob.send(m)
		if got := bob.next("error", "ok", "call"); got["type"] != "error" || got["code"] != "no_call" || got["id"] != m["id"] {
			t.Errorf("bob's %s on alice's call: %v; want error no_call", m["type"], got)
		}
	}
	time.Sleep(300 * time.Millisecond) // anything bob caused would have reached the carrier by now
	if customer.GotBye() || customer.Digits() != "" || customer.Held() || customer.ReferredTo() != "" {
		t.Fatalf("bob's messages touched alice's call: bye %v digits %q held %v refer %q",
			customer.GotBye(), customer.Digits(), customer.Held(), customer.ReferredTo())
	}
	eventually(t, "alice still heard by the customer", func() bool { return dominant(customer.Heard(), 1000, 440) })

	alice.send(map[string]any{"type": "hangup", "call": id})
	alice.state("ended")
	eventually(t, "BYE at the carrier", customer.GotBye)
	rec := r.record(t, id)
	// After the call: its record is still not bob's to annotate.
	bob.send(map[string]any{"type": "feedback", "id": "late", "call": id, "kind": "noise"})
	if got := bob.next("error", "ok"); got["code"] != "no_call" {
		t.Errorf("bob's feedback on alice's ended call: %v; want no_call", got)
	}
	if rec.Agent != "alice" || rec.HangupBy == "" {
		t.Errorf("record %+v", rec)
	}
}
