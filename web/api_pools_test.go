package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"callgate/pool"
	"callgate/routing"
	"callgate/web/apiclient"
)

// newPoolEnv serves the API with a real pool board: testPolicy's acme-sz (1 number,
// trunk t1) and shared (6 numbers, trunk t2); acme's policy lists acme-sz first.
func newPoolEnv(t *testing.T) (*apiEnv, *routing.PoolBoard, *routing.Scoreboard) {
	t.Helper()
	e := &apiEnv{t: t, path: filepath.Join(t.TempDir(), "callgate.db"), clk: &apiClock{now: apiT0}}
	ctx := context.Background()
	s, err := pool.OpenSQLite(ctx, e.path, pool.WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	ns := []pool.VirtualNumber{{Number: "+8675500000001", Pool: "acme-sz", Tenant: "acme", Supplier: "s1", Trunk: "t1"}}
	for i := range 6 {
		ns = append(ns, pool.VirtualNumber{Number: fmt.Sprintf("+861080000000%d", i), Pool: "shared", Supplier: "s2", Trunk: "t2"})
	}
	if err := s.SyncVirtualNumbers(ctx, ns); err != nil {
		t.Fatal(err)
	}
	trunks := routing.NewScoreboard(routing.ScoreSettings{}, e.clk.Now)
	trunks.SetTrunks([]string{"t1", "t2"}, nil)
	board := routing.NewPoolBoard(trunks, e.clk.Now, 2)
	board.SetPools([]routing.PoolDef{{Name: "acme-sz", Supplier: "s1", Trunks: []string{"t1"}}, {Name: "shared", Supplier: "s2", Trunks: []string{"t2"}}})
	if err := board.Refresh(ctx, s); err != nil {
		t.Fatal(err)
	}
	h, err := NewInternal(InternalDeps{Bindings: s, Nonces: s, Policy: testPolicy(t), Apps: testApps, Now: e.clk.Now, Pools: board})
	if err != nil {
		t.Fatal(err)
	}
	e.store, e.srv = s, httptest.NewServer(h)
	t.Cleanup(e.close)
	return e, board, trunks
}

func TestAPIPools(t *testing.T) {
	e, board, _ := newPoolEnv(t)
	ctx := context.Background()

	var list PoolList
	if res := e.trunkCall("ops", "GET", "/v1/pools", nil, &list); res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if len(list.Pools) != 2 {
		t.Fatalf("pools %+v", list.Pools)
	}
	sz, shared := list.Pools[0], list.Pools[1]
	if sz.Pool != "acme-sz" || sz.Remaining != 1 || sz.Total != 1 || sz.Weight != 1 || !sz.Takes || sz.Why == "" {
		t.Errorf("acme-sz %+v", sz)
	}
	if shared.Pool != "shared" || shared.Remaining != 6 || shared.Score <= sz.Score || !strings.Contains(shared.Why, "6 remaining of 6") {
		t.Errorf("shared %+v (acme-sz score %g)", shared, sz.Score)
	}

	// acme's policy lists acme-sz first, but shared has more room: a new binding's
	// number comes from shared.
	crm := e.client("crm", crmSecret)
	bind := func(a, b string) string {
		t.Helper()
		got, err := crm.CreateBinding(ctx, apiclient.CreateBindingRequest{Mode: "AXB", A: a, B: b})
		if err != nil {
			t.Fatal(err)
		}
		return got.X
	}
	if x := bind("+8613800000001", "+8613900000001"); !strings.HasPrefix(x, "+8610") {
		t.Errorf("first binding took %s, want a number of shared (more room)", x)
	}
	// Weigh acme-sz up by hand: the next binding takes its number.
	var v routing.PoolScore
	if res := e.trunkCall("ops", "PUT", "/v1/pools/acme-sz", map[string]any{"weight": 20}, &v); res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if v.Weight != 20 || v.Score <= shared.Score {
		t.Errorf("weighed %+v", v)
	}
	if x := bind("+8613800000002", "+8613900000002"); x != "+8675500000001" {
		t.Errorf("second binding took %s, want acme-sz's +8675500000001 (weight 20)", x)
	}
	// Drain shared: acme-sz alone is left, and a binding conflicting there fails
	// rather than falling back to the drained pool.
	if res := e.trunkCall("ops", "PUT", "/v1/pools/shared", map[string]any{"drained": true}, &v); res.status != http.StatusOK || !v.Drained || v.Takes {
		t.Fatalf("drain: %d %+v", res.status, v)
	}
	if got := board.Order([]string{"acme-sz", "shared"}); len(got) != 1 || got[0] != "acme-sz" {
		t.Errorf("order after drain %v", got)
	}
	if _, err := crm.CreateBinding(ctx, apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000002", B: "+8613900000009"}); err == nil {
		t.Errorf("a binding whose party holds acme-sz's number was placed, though shared is drained")
	}

	for _, tc := range []struct {
		name, app, method, target string
		body                      any
		status                    int
		code                      string
	}{
		{"tenant app may not read", "crm", "GET", "/v1/pools", nil, http.StatusForbidden, "pools_not_allowed"},
		{"tenant app may not change", "crm", "PUT", "/v1/pools/shared", map[string]any{"drained": false}, http.StatusForbidden, "pools_not_allowed"},
		{"unknown pool", "ops", "PUT", "/v1/pools/nope", map[string]any{"drained": true}, http.StatusNotFound, "not_found"},
		{"bad weight", "ops", "PUT", "/v1/pools/shared", map[string]any{"weight": -3}, http.StatusBadRequest, "invalid_field"},
		{"unknown field", "ops", "PUT", "/v1/pools/shared", map[string]any{"wieght": 1}, http.StatusBadRequest, ""},
		{"wrong method", "ops", "POST", "/v1/pools", map[string]any{}, http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.trunkCall(tc.app, tc.method, tc.target, tc.body, nil)
			if res.status != tc.status || (tc.code != "" && res.err.Code != tc.code) {
				t.Errorf("%d %s, want %d %s", res.status, res.body, tc.status, tc.code)
			}
		})
	}
	if res := e.do(e.request("GET", "/v1/pools", nil)); res.status != http.StatusUnauthorized {
		t.Errorf("unsigned: %d", res.status)
	}
	if s, _ := board.Score("shared"); !s.Drained {
		t.Errorf("a refused change undrained shared: %+v", s)
	}
}

func TestMetricsPools(t *testing.T) {
	_, board, trunks := newPoolEnv(t)
	trunks.SetProbe("t1", routing.ProbeDown)
	board.Publish()
	m := NewMetrics(MetricsSources{})
	if err := m.Register(NewPoolCollector(board)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{
		`callgate_pool_numbers_remaining{pool="shared",supplier="s2"} 6`,
		`callgate_pool_numbers_total{pool="acme-sz",supplier="s1"} 1`,
		`callgate_pool_score{pool="acme-sz",supplier="s1"} 0`, // its only trunk is down
		`callgate_pool_weight{pool="shared",supplier="s2"} 1`,
		`callgate_pool_takes_bindings{pool="shared",supplier="s2"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
