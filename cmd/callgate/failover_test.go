package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"callgate/sip/demo"
)

// An agent's call fails over inside one setup: the caller number's own trunk
// (carrier-a) answers 503, the pool's other trunk (carrier-b) connects the call, and
// the record keeps both attempts.
func TestFailoverAgentCall503ThenNextTrunk(t *testing.T) {
	a := &demo.Carrier{RingFor: 50 * time.Millisecond, Answer: func(string) int { return 503 }}
	b := &demo.Carrier{RingFor: 50 * time.Millisecond, Tone: time.Minute, ToneHz: 440}
	for _, k := range []*demo.Carrier{a, b} {
		if err := k.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close() })
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "callgate.db")
	t.Setenv("ALICE_TOKEN", agentToken)
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
    seats: 2
    callers:
      caps: %s
agents:
  - tenant: acme
    name: alice
    token_env: ALICE_TOKEN
trunks:
  - name: carrier-a
    host: 127.0.0.1
    port: %d
  - name: carrier-b
    host: 127.0.0.1
    port: %d
    weight: 2
pools:
  - name: acme-fixed
    supplier: c
    type: fixed
    tenant: acme
    trunks: [carrier-a, carrier-b]
    numbers: ["+862100000001"]
`, db, noCaps, a.Addr().Port(), b.Addr().Port())
	srv := serveYAML(t, dir, cfgText)
	base, logs := srv.base, srv.logs
	r := &agentRig{base: base, carrier: b, dbPath: db, logs: logs}

	agent := newGoAgent(t, r.base, agentToken)
	id := agent.dial("+8613900000002")
	agent.state("connected")
	eventually(t, "carrier B answered", func() bool { return len(b.Calls()) == 1 })
	if n := len(a.Invites()); n != 1 {
		t.Errorf("carrier A got %d INVITEs, want 1", n)
	}
	agent.send(map[string]any{"type": "hangup", "id": "h", "call": id})
	rec := r.record(t, id)
	if len(rec.Attempts) != 2 {
		t.Fatalf("attempts %+v, want 2", rec.Attempts)
	}
	if at := rec.Attempts[0]; at.Seq != 1 || at.Trunk != "carrier-a" || at.SIPCode != 503 {
		t.Errorf("first attempt %+v", at)
	}
	if at := rec.Attempts[1]; at.Seq != 2 || at.Trunk != "carrier-b" || at.SIPCode != 200 {
		t.Errorf("second attempt %+v", at)
	}
	if rec.OutTrunk != "carrier-b" || rec.SIPCode != 200 {
		t.Errorf("record: trunk %q code %d", rec.OutTrunk, rec.SIPCode)
	}
}
