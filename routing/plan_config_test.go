package routing

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
)

const plansYAML = `
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
    time_zone: Asia/Shanghai
    callers:
      strategy:
        - {type: certified}
        - {type: mobile, match: city}
        - {type: fixed}
      caps: {pair_per_day: 1, callee_per_day: -1}
      lease: 30s
      escalate_within: -1s
      health: {min_attempts: -1}
  - name: globex
trunks:
  - {name: tr-a, host: 192.0.2.1}
  - {name: tr-b, host: 192.0.2.2}
pools:
  - name: acme-cert
    type: certified
    tenant: acme
    supplier: carrier-a
    trunks: [tr-a, tr-b]
    cities: [深圳, Guangzhou]
    calls_per_hour: 20
    numbers: ["+8675561000001", "+8675561000002"]
    overrides:
      - {number: "+8675561000002", cities: [Beijing], calls_per_hour: -1}
  - name: acme-mobile
    type: mobile
    tenant: acme
    trunks: [tr-a]
    numbers: ["+8613510001000", "+8613500000000"]
    overrides:
      - {number: "+8613500000000", city: 东莞}
  - name: acme-fixed
    type: fixed
    tenant: acme
    trunks: [tr-b]
    city: Shanghai
    province: Shanghai
    numbers: ["+862100000001"]
  - name: shared-fixed
    type: fixed
    trunks: [tr-b]
    numbers: ["+862100000009"]
`

func TestPlansFromConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "callgate.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, plansYAML, filepath.Join(dir, "db")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := PlansFromConfig(cfg, sharedAnalyzer)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[1].Tenant != "globex" || len(plans[1].Numbers) != 0 || len(plans[1].Strategy) != 4 {
		t.Fatalf("plans %+v", plans)
	}
	p := plans[0]
	if p.Location.String() != "Asia/Shanghai" || p.Region != "CN" || p.Lease != 30*time.Second || p.EscalateWithin >= 0 ||
		p.Health.On() || p.Caps != (pool.Caps{PairPerDay: 1, CalleePerDay: -1, CallerPerDay: 300, CallerPerHour: 60}) {
		t.Errorf("plan settings %+v", p)
	}
	wantSteps := []Step{{KindCertified, MatchCity}, {KindMobile, MatchCity}, {KindFixed, MatchAny}}
	if !slices.Equal(p.Strategy, wantSteps) {
		t.Errorf("strategy %v", p.Strategy)
	}
	got := map[string]pool.CallerNumber{}
	for _, n := range p.Numbers {
		got[n.Number] = n
	}
	for number, want := range map[string]pool.CallerNumber{
		"+8675561000001": {Kind: KindCertified, Pool: "acme-cert", Supplier: "carrier-a", Trunks: []string{"tr-a", "tr-b"},
			Cities: []string{"深圳", "Guangzhou"}, PerHour: 20},
		"+8675561000002": {Kind: KindCertified, Cities: []string{"Beijing"}, PerHour: -1},
		"+8613510001000": {Kind: KindMobile, Cities: []string{"Shenzhen", "深圳市"}, Provinces: []string{"Guangdong", "广东"}},
		"+8613500000000": {Kind: KindMobile, Cities: []string{"东莞"}}, // home is Guangzhou: province unknown
		"+862100000001":  {Kind: KindFixed, Cities: []string{"Shanghai"}, Provinces: []string{"Shanghai"}},
	} {
		n, ok := got[number]
		if !ok || n.Tenant != "acme" || n.Kind != want.Kind || !slices.Equal(n.Cities, want.Cities) ||
			!slices.Equal(n.Provinces, want.Provinces) || n.PerHour != want.PerHour ||
			(want.Trunks != nil && !slices.Equal(n.Trunks, want.Trunks)) || (want.Pool != "" && n.Pool != want.Pool) {
			t.Errorf("%s: %+v, want %+v", number, n, want)
		}
	}
	if _, ok := got["+862100000009"]; ok || len(p.Numbers) != 5 {
		t.Errorf("numbers %v (a shared pool serves no tenant's agents)", p.Numbers)
	}

	store := openStore(t, cfg.Storage.SQLite.Path)
	r, err := NewOutboundFromConfig(context.Background(), cfg, store, WithClock((&testClock{now: t0}).Now))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.maxHold != 4*time.Hour+time.Minute+time.Minute {
		t.Errorf("max hold %v", r.maxHold)
	}
	d := route(t, r, "0769 1234 5678") // Dongguan: the mobile overridden to 东莞
	if d.From != "+8613500000000" || d.Trunk != "tr-a" {
		t.Errorf("Dongguan callee: %+v", d)
	}
}

func TestNewOutboundFromDefaultConfig(t *testing.T) {
	cfg, err := configs.Default()
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t, filepath.Join(t.TempDir(), "db"))
	r, err := NewOutboundFromConfig(context.Background(), cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 5 { // the demo tenant has no caps: the same customer, again and again
		d, err := r.Route(context.Background(), OutboundCall{Tenant: "demo", Agent: "demo", To: "+8613900000002"})
		if err != nil || d.Trunk != "demo-carrier" || !slices.Contains([]string{"+862100000001", "+862100000002"}, d.From) {
			t.Fatalf("%+v, %v", d, err)
		}
		d.Lease.Release(OutcomeUnanswered)
	}
}
