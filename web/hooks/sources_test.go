package hooks

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
	"callgate/sip"
	"callgate/web"
	"callgate/web/apiclient"
)

// The dispatcher and the fan-out fit sip.WithObserver.
var (
	_ sip.CallObserver = (*Dispatcher)(nil)
	_ sip.CallObserver = Observers{}
)

// Bindings made through the real business API on a real store are published once
// each; the GC's reclaimed ones as binding.expired.
func TestBindingEvents(t *testing.T) {
	ctx := context.Background()
	rc := newReceiver(t, nil)
	d := newDispatcher(t, []Target{testTarget(rc.url())})

	store, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "callgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var ns []pool.VirtualNumber
	for _, n := range []string{"+8675561000001", "+8675561000002"} {
		ns = append(ns, pool.VirtualNumber{Number: n, Pool: "acme-v", Tenant: "acme", Trunk: "carrier-b"})
	}
	if err := store.SyncVirtualNumbers(ctx, ns); err != nil {
		t.Fatal(err)
	}
	policy, err := pool.NewPolicy([]pool.PoolInfo{{Name: "acme-v", Tenant: "acme"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := web.NewInternal(web.InternalDeps{Bindings: d.Bindings(store), Nonces: store, Policy: policy,
		Apps: []web.APIApp{{Name: testApp, Secret: testSecret, Tenants: []string{"acme"}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	cl, err := apiclient.New(srv.URL, testApp, testSecret)
	if err != nil {
		t.Fatal(err)
	}

	expiry := &apiclient.Expiry{Type: "after_bind", Seconds: 60}
	axb := apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000001", B: "+8613900000001", Expiry: expiry, IdempotencyKey: "k1"}
	first, err := cl.CreateBinding(ctx, axb)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := cl.CreateBinding(ctx, axb); err != nil || again.ID != first.ID {
		t.Fatalf("idempotent replay: %+v %v", again, err)
	}
	lob := apiclient.LookupOrBindRequest{Mode: "AXB", A: "+8613800000001", B: "+8613900000001"}
	if _, created, err := cl.LookupOrBind(ctx, lob); err != nil || created {
		t.Fatalf("lookup of the bound pair: created %v, %v", created, err)
	}
	lob.A, lob.B, lob.Expiry = "+8613800000002", "+8613900000002", expiry
	second, made, err := cl.LookupOrBind(ctx, lob)
	if err != nil || !made {
		t.Fatalf("lookup-or-bind of a new pair: created %v, %v", made, err)
	}
	waitFor(t, "two binding.created", func() bool { return d.Stats("acme").Delivered == 2 })

	gc, err := pool.NewCollector(store, time.Hour, pool.WithOnPass(d.Reclaimed),
		pool.WithCollectorClock(func() time.Time { return time.Now().Add(2 * time.Minute) }))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := gc.RunOnce(ctx); err != nil || r.Expired != 2 {
		t.Fatalf("GC pass: %+v, %v", r, err)
	}
	waitFor(t, "two binding.expired", func() bool { return d.Stats("acme").Delivered == 4 })

	var created, expired []apiclient.Binding
	for _, g := range rc.deliveries() {
		var b apiclient.Binding
		if err := json.Unmarshal(g.Data, &b); err != nil {
			t.Fatal(err)
		}
		if g.Event.Tenant != "acme" || b.Tenant != "acme" || b.Mode != "AXB" {
			t.Errorf("event %+v: binding %+v", g.Event, b)
		}
		switch g.Event.Type {
		case TypeBindingCreated:
			created = append(created, b)
			if !g.Event.Time.Equal(b.CreatedAt) || b.State != apiclient.StateActive || b.EndsAt == nil {
				t.Errorf("binding.created: %+v %+v", g.Event, b)
			}
		case TypeBindingExpired:
			expired = append(expired, b)
			if b.State != apiclient.StateEnded || b.EndReason != string(pool.EndExpired) || b.EndedAt == nil || !g.Event.Time.Equal(*b.EndedAt) {
				t.Errorf("binding.expired: %+v %+v", g.Event, b)
			}
		default:
			t.Errorf("unexpected event %+v", g.Event)
		}
	}
	ids := func(bs []apiclient.Binding) []int64 {
		var out []int64
		for _, b := range bs {
			out = append(out, b.ID)
		}
		slices.Sort(out)
		return out
	}
	want := []int64{first.ID, second.ID}
	slices.Sort(want)
	if !slices.Equal(ids(created), want) || !slices.Equal(ids(expired), want) {
		t.Errorf("created %v, expired %v; want %v each", ids(created), ids(expired), want)
	}
	if created[0].A == "" || created[0].X == "" || created[0].B == "" {
		t.Errorf("binding data misses parties: %+v", created[0])
	}
}

func TestCallEndedData(t *testing.T) {
	rc := newReceiver(t, nil)
	d := newDispatcher(t, []Target{testTarget(rc.url())})
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	rec := pool.Call{ID: "c1", Tenant: "acme", Direction: pool.Inbound, Caller: "+8613800000001", Callee: "+8613900000001",
		Virtual: "+8675561000001", SIPCode: 200, Reason: "caller_bye", HangupBy: "caller", SetupAt: t0,
		RingAt: t0.Add(time.Second), AnswerAt: t0.Add(3 * time.Second), EndAt: t0.Add(63500 * time.Millisecond), BilledSec: 61}
	var seen []string
	Observers{observerFunc(func(r pool.Call) { seen = append(seen, "metrics:"+r.ID) }), d}.CallEnded(rec, time.Millisecond)
	unanswered := pool.Call{ID: "c2", Tenant: "acme", Direction: pool.Outbound, Agent: "alice", Caller: "+8675500000009",
		Callee: "+8613900000002", SIPCode: 486, Reason: "callee_486", HangupBy: "callee", SetupAt: t0, EndAt: t0.Add(2 * time.Second)}
	d.CallEnded(unanswered, 0)
	if !slices.Equal(seen, []string{"metrics:c1"}) {
		t.Errorf("fan-out reached %v", seen)
	}
	waitFor(t, "two call.ended", func() bool { return d.Stats("acme").Delivered == 2 })
	byID := map[string]string{}
	for _, g := range rc.deliveries() {
		var c CallData
		if err := json.Unmarshal(g.Data, &c); err != nil {
			t.Fatal(err)
		}
		if g.Event.Type != TypeCallEnded || !g.Event.Time.Equal(c.EndAt) {
			t.Errorf("event %+v", g.Event)
		}
		byID[c.CallID] = string(g.Data)
	}
	for id, want := range map[string]string{
		"c1": `{"call_id":"c1","direction":"inbound","caller":"+8613800000001","callee":"+8613900000001","virtual":"+8675561000001",` +
			`"sip_code":200,"reason":"caller_bye","hangup_by":"caller","setup_at":"2026-11-20T09:00:00Z","ring_at":"2026-11-20T09:00:01Z",` +
			`"answer_at":"2026-11-20T09:00:03Z","end_at":"2026-11-20T09:01:03.5Z","duration_ms":63500,"talk_ms":60500,"billed_s":61}`,
		"c2": `{"call_id":"c2","direction":"outbound","agent":"alice","caller":"+8675500000009","callee":"+8613900000002",` +
			`"sip_code":486,"reason":"callee_486","hangup_by":"callee","setup_at":"2026-11-20T09:00:00Z","end_at":"2026-11-20T09:00:02Z",` +
			`"duration_ms":2000,"talk_ms":0,"billed_s":0}`,
	} {
		if byID[id] != want {
			t.Errorf("call %s data:\n got %s\nwant %s", id, byID[id], want)
		}
	}
}

// A call in progress publishes call.started, call.ringing and call.answered, each
// with the times so far; the fan-out passes progress only to observers that want it.
func TestCallProgressEvents(t *testing.T) {
	rc := newReceiver(t, nil)
	d := newDispatcher(t, []Target{testTarget(rc.url())})
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	rec := pool.Call{ID: "c1", Tenant: "acme", Direction: pool.Outbound, Agent: "alice", Caller: "+8675500000009",
		Callee: "+8613900000002", State: "setup", SetupAt: t0}
	fan := Observers{observerFunc(func(pool.Call) {}), d}
	fan.CallProgress(rec)
	rec.State, rec.RingAt = "ringing", t0.Add(time.Second)
	fan.CallProgress(rec)
	rec.State, rec.AnswerAt, rec.SIPCode = "answered", t0.Add(3*time.Second), 200
	fan.CallProgress(rec)
	rec.State = "transferring" // not a progress state: nothing sent
	fan.CallProgress(rec)
	d.CallProgress(pool.Call{ID: "orphan", State: "setup", SetupAt: t0}) // no tenant: nothing sent
	waitFor(t, "three progress events", func() bool { return d.Stats("acme").Delivered == 3 })
	got := map[string]string{}
	for _, g := range rc.deliveries() {
		got[g.Event.Type] = g.Event.Time.Format(time.RFC3339) + " " + string(g.Data)
	}
	base := `{"call_id":"c1","direction":"outbound","agent":"alice","caller":"+8675500000009","callee":"+8613900000002","setup_at":"2026-11-20T09:00:00Z"`
	for typ, want := range map[string]string{
		TypeCallStarted:  "2026-11-20T09:00:00Z " + base + `}`,
		TypeCallRinging:  "2026-11-20T09:00:01Z " + base + `,"ring_at":"2026-11-20T09:00:01Z"}`,
		TypeCallAnswered: "2026-11-20T09:00:03Z " + base + `,"ring_at":"2026-11-20T09:00:01Z","answer_at":"2026-11-20T09:00:03Z"}`,
	} {
		if got[typ] != want {
			t.Errorf("%s:\n got %s\nwant %s", typ, got[typ], want)
		}
	}
	if len(got) != 3 {
		t.Errorf("events %v, want exactly the three progress types", got)
	}
}

type observerFunc func(pool.Call)

func (f observerFunc) CallEnded(r pool.Call, _ time.Duration) { f(r) }

func TestTargetsFromConfig(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("s", 40)
	if err := os.WriteFile(filepath.Join(dir, "crm.secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `tenants:
  - name: acme
    events:
      url: https://crm.example.com/events
      app: crm
      types: [call.ended]
      workers: 3
  - name: globex
api:
  apps:
    - name: crm
      tenants: ["*"]
      secret_file: crm.secret
`
	path := filepath.Join(dir, "callgate.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := TargetsFrom(cfg)
	want := Target{Tenant: "acme", URL: "https://crm.example.com/events", App: "crm", Secret: secret, Types: []string{"call.ended"},
		Timeout: 5 * time.Second, MaxAttempts: 6, Backoff: time.Second, MaxBackoff: time.Minute, Queue: 1000, Workers: 3}
	if len(ts) != 1 || ts[0].Tenant != want.Tenant || ts[0].URL != want.URL || ts[0].App != want.App || ts[0].Secret != want.Secret ||
		!slices.Equal(ts[0].Types, want.Types) || ts[0].Timeout != want.Timeout || ts[0].MaxAttempts != want.MaxAttempts ||
		ts[0].Backoff != want.Backoff || ts[0].MaxBackoff != want.MaxBackoff || ts[0].Queue != want.Queue || ts[0].Workers != want.Workers {
		t.Errorf("targets = %+v, want [%+v]", ts, want)
	}
	d, err := New(ts)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if !slices.Equal(configs.EventTypes(), []string{TypeBindingCreated, TypeBindingExpired, TypeCallStarted,
		TypeCallRinging, TypeCallAnswered, TypeCallEnded}) {
		t.Errorf("the config knows event types %v", configs.EventTypes())
	}
}
