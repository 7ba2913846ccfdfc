package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
	"callgate/web"
	"callgate/web/apiclient"
)

const apiRigSecret = "crm-secret-0123456789abcdef0123456789abcdef"

// newAPIRig is the agent rig with the business API on the internal listener and a
// tariff on the trunk: 0.060 a minute, the default 60/60 increment.
func newAPIRig(t *testing.T) (*agentRig, string) {
	t.Helper()
	carrier := startToneCarrier(t)
	internal := freeTCPAddr(t) // for the internal listener
	dir := t.TempDir()
	db := filepath.Join(dir, "callgate.db")
	t.Setenv("ALICE_TOKEN", agentToken)
	t.Setenv("CRM_SECRET", apiRigSecret)
	cfgText := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: %s
media:
  bind_address: 127.0.0.1
  port_min: 35000
  port_max: 35998
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
  - name: carrier
    host: 127.0.0.1
    port: %d
    rate_per_minute: 60
pools:
  - name: acme-fixed
    supplier: c
    type: fixed
    tenant: acme
    trunks: [carrier]
    numbers: ["+862100000001"]
api:
  apps:
    - name: crm
      tenants: [acme]
      secret_env: CRM_SECRET
`, internal, db, noCaps, carrier.Addr().Port())
	srv := serveYAML(t, dir, cfgText)
	base, logs := srv.base, srv.logs
	return &agentRig{base: base, carrier: carrier, dbPath: db, logs: logs}, "http://" + internal
}

// An agent's answered call is priced at its trunk's tariff when it ends, and the
// business API reports it; a number the API puts on the tenant's do-not-call list
// is refused at the agent's next dial, before any SIP.
func TestAPICostAndDoNotCallEndToEnd(t *testing.T) {
	r, internal := newAPIRig(t)
	ctx := context.Background()
	api := signedClient{t: t, base: internal}
	a := newGoAgent(t, r.base, agentToken)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	id := a.dial("+86 139-0000-0002")
	a.state("connected")
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended")
	rec := r.record(t, id)
	if rec.AnswerAt.IsZero() || rec.BilledSec < 1 || rec.CostMilli != pool.TariffOf(configs.Trunk{RatePerMinute: 60}).Cost(rec.BilledSec) ||
		rec.CostMilli < 60 {
		t.Fatalf("record: billed %d s, cost %d; want the started minutes at 60", rec.BilledSec, rec.CostMilli)
	}

	var cost web.CostReport
	api.do(ctx, "GET", "/v1/tenants/acme/cost?since="+url.QueryEscape(since), nil, &cost)
	if cost.Calls != 1 || cost.Answered != 1 || cost.CostMilli != rec.CostMilli || len(cost.Trunks) != 1 ||
		cost.Trunks[0].Trunk != "carrier" || cost.Trunks[0].BilledSec != rec.BilledSec {
		t.Fatalf("cost report %+v", cost)
	}
	var call web.CallRecord
	api.do(ctx, "GET", "/v1/tenants/acme/calls/"+id, nil, &call)
	if call.Result != "answered" || call.CostMilli != rec.CostMilli || call.Agent != "alice" || call.OutTrunk != "carrier" {
		t.Fatalf("call %+v", call)
	}

	var added web.DoNotCallAdded
	api.do(ctx, "POST", "/v1/tenants/acme/dnc", web.AddDoNotCallRequest{Number: "0086 139 0000 0003"}, &added)
	if added.Added != 1 || added.Numbers[0] != "+8613900000003" {
		t.Fatalf("added %+v", added)
	}
	a.send(map[string]any{"type": "dial", "id": "listed", "to": "139-0000-0003"})
	if m := a.next("error", "call"); m["type"] != "error" || m["code"] != "do_not_call" {
		t.Fatalf("dial to a listed number: %v", m)
	}
	if n := len(r.carrier.Invites()); n != 1 {
		t.Fatalf("the carrier got %d INVITEs, want 1: a listed number must not reach SIP", n)
	}
}

// signedClient sends requests signed by the rig's app crm.
type signedClient struct {
	t    *testing.T
	base string
}

// do sends a signed request with in as its JSON body (if not nil) and decodes the
// 200 answer into out; anything else fails the test.
func (c signedClient) do(ctx context.Context, method, target string, in, out any) {
	c.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			c.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+target, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := apiclient.Sign(req, "crm", apiRigSecret, time.Now()); err != nil {
		c.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, target, res.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		c.t.Fatalf("%s %s: %s: %v", method, target, data, err)
	}
}
