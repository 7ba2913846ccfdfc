package web

import (
	"net/http"
	"testing"
	"time"
)

func TestAPICost(t *testing.T) {
	e := newOutEnv(t)
	storeCalls(t, e.store) // a0: 61 s at 0.060/min 60/6 = 66; a3: 10 s = 60 (the first minute)
	e.clk.Set(apiT0.Add(time.Hour))
	tests := []struct {
		name, app, tenant, query string
		want                     CostReport
	}{
		{"acme's day", "crm", "acme", "since=2026-11-20T00:00:00Z&until=2026-11-21T00:00:00Z", CostReport{
			Tenant: "acme", Since: apiT0.Add(-9 * time.Hour), Until: apiT0.Add(15 * time.Hour),
			CostTotals: CostTotals{Calls: 4, Answered: 2, BilledSec: 71, CostMilli: 126, Cost: "0.126"},
			Trunks: []TrunkCost{
				{Trunk: "carrier-a", CostTotals: CostTotals{Calls: 2, Answered: 2, BilledSec: 71, CostMilli: 126, Cost: "0.126"}},
				{Trunk: "carrier-b", CostTotals: CostTotals{Calls: 2, Cost: "0.000"}},
			}}},
		{"until defaults to now", "crm", "acme", "since=" + unix(apiT0.Add(time.Minute)), CostReport{
			Tenant: "acme", Since: apiT0.Add(time.Minute), Until: apiT0.Add(time.Hour),
			CostTotals: CostTotals{Calls: 3, Answered: 1, BilledSec: 10, CostMilli: 60, Cost: "0.060"},
			Trunks: []TrunkCost{
				{Trunk: "carrier-a", CostTotals: CostTotals{Calls: 1, Answered: 1, BilledSec: 10, CostMilli: 60, Cost: "0.060"}},
				{Trunk: "carrier-b", CostTotals: CostTotals{Calls: 2, Cost: "0.000"}},
			}}},
		{"another tenant's", "ops", "globex", "since=2026-11-20T00:00:00Z", CostReport{
			Tenant: "globex", Since: apiT0.Add(-9 * time.Hour), Until: apiT0.Add(time.Hour),
			CostTotals: CostTotals{Calls: 1, Answered: 1, BilledSec: 600, CostMilli: 600, Cost: "0.600"},
			Trunks:     []TrunkCost{{Trunk: "carrier-a", CostTotals: CostTotals{Calls: 1, Answered: 1, BilledSec: 600, CostMilli: 600, Cost: "0.600"}}}}},
		{"an empty window", "crm", "acme", "since=2026-11-19T00:00:00Z&until=2026-11-20T00:00:00Z", CostReport{
			Tenant: "acme", Since: apiT0.Add(-33 * time.Hour), Until: apiT0.Add(-9 * time.Hour),
			CostTotals: CostTotals{Cost: "0.000"}, Trunks: []TrunkCost{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got CostReport
			res := e.call(tc.app, "GET", "/v1/tenants/"+tc.tenant+"/cost?"+tc.query, nil, &got)
			if res.status != http.StatusOK {
				t.Fatalf("%d %s", res.status, res.body)
			}
			if !got.Since.Equal(tc.want.Since) || !got.Until.Equal(tc.want.Until) {
				t.Errorf("window %v – %v, want %v – %v", got.Since, got.Until, tc.want.Since, tc.want.Until)
			}
			got.Since, got.Until = tc.want.Since, tc.want.Until
			if got.Tenant != tc.want.Tenant || got.CostTotals != tc.want.CostTotals || len(got.Trunks) != len(tc.want.Trunks) {
				t.Fatalf("report %+v\nwant %+v", got, tc.want)
			}
			for i := range got.Trunks {
				if got.Trunks[i] != tc.want.Trunks[i] {
					t.Errorf("trunk %d: %+v, want %+v", i, got.Trunks[i], tc.want.Trunks[i])
				}
			}
		})
	}
}

func TestAPICostRefuses(t *testing.T) {
	e := newOutEnv(t)
	for _, tc := range []struct {
		name, app, target string
		status            int
		code, field       string
	}{
		{"since is required", "crm", "/v1/tenants/acme/cost", 400, "invalid_field", "since"},
		{"bad since", "crm", "/v1/tenants/acme/cost?since=monday", 400, "invalid_field", "since"},
		{"bad until", "crm", "/v1/tenants/acme/cost?since=1&until=2026-13-01T00:00:00Z", 400, "invalid_field", "until"},
		{"until before since", "crm", "/v1/tenants/acme/cost?since=2026-11-20T00:00:00Z&until=2026-11-19T00:00:00Z", 400, "invalid_field", "until"},
		{"another tenant", "crm", "/v1/tenants/globex/cost?since=1", 403, "tenant_not_allowed", "tenant"},
		{"unknown parameter", "crm", "/v1/tenants/acme/cost?since=1&trunk=a", 400, "unknown_field", "trunk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.call(tc.app, "GET", tc.target, nil, nil), tc.status, tc.code, tc.field)
		})
	}
}

func TestMilliText(t *testing.T) {
	for in, want := range map[int64]string{0: "0.000", 5: "0.005", 1234: "1.234", 1_000_000: "1000.000", -1500: "-1.500"} {
		if got := milliText(in); got != want {
			t.Errorf("milliText(%d) = %q, want %q", in, got, want)
		}
	}
}
