package main

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"callgate/pool"
	"callgate/pool/pgtest"
	"callgate/sip/demo"
)

// TestPostgresServesCalls runs the whole server on PostgreSQL (storage: postgres,
// on a throwaway server on 127.0.0.1 that dies with the test) and places one masked
// call (a customer dials a virtual number bound AXN to a party the carrier answers)
// and one agent call (a Go browser dials out), then reads both records back from
// the database, written by this instance.
func TestPostgresServesCalls(t *testing.T) {
	srv, err := pgtest.Start(context.Background())
	if err != nil {
		var none *pgtest.Server
		pgtest.Require(t, none) // skip (or fail under CALLGATE_REQUIRE_POSTGRES) without PostgreSQL
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dsn := srv.Database(t)

	const (
		instance = "cg-pg-test"
		virtual  = "+8675500000071"
		partyB   = "+8613900000071"
		caller   = "+8613800000071"
	)
	carrier := &demo.Carrier{RingFor: 100 * time.Millisecond, Tone: time.Minute, ToneHz: 440}
	if err := carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	customer := &demo.Caller{ToneHz: customerHz}
	if err := customer.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { customer.Close() })
	dir := t.TempDir()
	t.Setenv("ALICE_TOKEN", agentToken)
	t.Setenv("CALLGATE_TEST_PG_DSN", dsn)
	cfgText := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: "off"
media:
  bind_address: 127.0.0.1
  port_min: 39100
  port_max: 39998
storage:
  postgres:
    dsn_env: CALLGATE_TEST_PG_DSN
    instance: %s
    max_conns: 8
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
  - name: carrier
    host: 127.0.0.1
    port: %d
pools:
  - name: acme-fixed
    supplier: c
    type: fixed
    tenant: acme
    trunks: [carrier]
    numbers: ["+862100000001"]
bindings:
  - mode: AXN
    tenant: acme
    virtual: "%s"
    b: "%s"
    trunk: carrier
`, instance, noCaps, carrier.Addr().Port(), virtual, partyB)
	cg := serveYAML(t, dir, cfgText)
	base, out := cg.base, cg.out
	sipAddr := netip.MustParseAddrPort(out.wait(t, regexp.MustCompile(`SIP on udp (127\.0\.0\.1:\d+)`))[1])

	// The records are read back through a store of another instance on the same
	// database, as a second callgate would see them.
	store, err := pool.OpenPostgres(context.Background(), pool.PostgresConfig{DSN: dsn, Instance: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ended := func(match func(pool.Call) bool) pool.Call {
		t.Helper()
		var found pool.Call
		eventually(t, "an ended call record in PostgreSQL", func() bool {
			cs, err := store.Calls(context.Background(), pool.CallFilter{Tenant: "acme", Limit: -1})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if c.State == "ended" && match(c) {
					found = c
					return true
				}
			}
			return false
		})
		return found
	}

	// A masked call: the customer dials V and reaches B through the carrier.
	oc, err := customer.Call(sipAddr, caller, virtual)
	if err != nil {
		t.Fatal(err)
	}
	if code := finalCode(t, oc); code != 200 {
		t.Fatalf("the masked call got %d", code)
	}
	eventually(t, "the carrier answers B", func() bool {
		for _, c := range carrier.Calls() {
			if c.To == partyB {
				return true
			}
		}
		return false
	})
	select {
	case <-oc.Answered(): // ACKed: the call is up
	case <-time.After(30 * time.Second):
		t.Fatal("the masked call was answered but never ACKed")
	}
	if err := oc.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	masked := ended(func(c pool.Call) bool { return c.Direction == pool.Inbound && c.Virtual == virtual })
	if masked.Caller != caller || masked.Callee != partyB || masked.InTrunk != "carrier" || masked.OutTrunk != "carrier" ||
		masked.SIPCode != 200 || masked.AnswerAt.IsZero() || masked.HangupBy != "caller" {
		t.Fatalf("masked call record %+v", masked)
	}
	bs, err := store.ActiveBindings(context.Background(), virtual, time.Time{})
	if err != nil || len(bs) != 1 || bs[0].LastCall.IsZero() {
		t.Fatalf("the static binding in PostgreSQL: %+v %v (want its call time)", bs, err)
	}

	// An agent call from the Go browser.
	a := newGoAgent(t, base, agentToken)
	id := a.dial("+8613900000003")
	a.state("connected")
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended")
	rec := ended(func(c pool.Call) bool { return c.ID == id })
	if rec.Direction != pool.Outbound || rec.Agent != "alice" || rec.Caller != "+862100000001" || rec.Callee != "+8613900000003" ||
		rec.SIPCode != 200 || rec.HangupBy != "agent" || rec.AnswerAt.IsZero() || len(rec.Attempts) == 0 {
		t.Fatalf("agent call record %+v", rec)
	}

	// Both were written by the serving instance, in its PostgreSQL database.
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM calls WHERE instance = $1 AND id = ANY($2::text[])`,
		instance, []string{masked.ID, rec.ID}).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d of the two records name instance %s (%v)", n, instance, err)
	}
}
