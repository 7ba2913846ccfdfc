package web

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"callgate/routing"
)

func verdictOf(t *testing.T, ex CallerExplanation, number string) CandidateVerdict {
	t.Helper()
	i := slices.IndexFunc(ex.Candidates, func(v CandidateVerdict) bool { return v.Number == number })
	if i < 0 {
		t.Fatalf("%s is not a candidate: %+v", number, ex.Candidates)
	}
	return ex.Candidates[i]
}

func TestAPIExplain(t *testing.T) {
	e := newOutEnv(t)
	ctx := context.Background()
	// fixA carries a call to someone else and stays in it.
	held, err := e.router.Route(ctx, routing.OutboundCall{Tenant: "acme", To: "+8617012345600", CallID: "call-1"})
	if err != nil || held.From != outFixA {
		t.Fatalf("first call: %+v, %v", held, err)
	}
	e.clk.Add(time.Second)

	// A Shenzhen callee: the certified Shenzhen number first.
	var ex CallerExplanation
	res := e.call("crm", "GET", "/v1/tenants/acme/explain?callee=0755-1234%205678", nil, &ex)
	if res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if ex.Tenant != "acme" || ex.Callee.E164 != "+8675512345678" || ex.Callee.City != "Shenzhen" || ex.Callee.Type != "fixed_line" ||
		ex.Chosen != outCertSZ || ex.Refused != nil || !ex.At.Equal(apiT0.Add(time.Second)) ||
		!slices.Equal(ex.Strategy, []string{"certified/city", "mobile/city", "fixed/any"}) || len(ex.Candidates) != 4 {
		t.Fatalf("explanation %+v", ex)
	}
	for _, w := range []struct {
		number, status, reason, step string
	}{
		{outCertSZ, "chosen", "", "certified/city"},
		{outFixA, "skipped", "locked", "fixed/any"},
		{outFixB, "eligible", "", "fixed/any"},
		{outMobBJ, "skipped", "no_rule", ""},
	} {
		v := verdictOf(t, ex, w.number)
		if v.Status != w.status || v.Reason != w.reason || v.Step != w.step || len(v.Trunks) == 0 {
			t.Errorf("%s: %+v; want %s %s %s", w.number, v, w.status, w.reason, w.step)
		}
	}
	if v := verdictOf(t, ex, outFixA); v.Until == nil || !v.Until.Equal(apiT0.Add(time.Minute)) || v.Detail != "in call call-1" || v.LastUsed == nil {
		t.Errorf("locked verdict %+v", v)
	}
	if v := verdictOf(t, ex, outMobBJ); v.Detail == "" {
		t.Errorf("no-rule verdict without detail %+v", v)
	}

	// Explaining reserved nothing: the call made now gets the chosen number, and
	// then fixB is the next explanation's pick (certSZ locked, fixA too).
	d, err := e.router.Route(ctx, routing.OutboundCall{Tenant: "acme", To: "075512345678"})
	if err != nil || d.From != outCertSZ {
		t.Fatalf("call after explain: %+v, %v", d.From, err)
	}
	e.call("crm", "GET", "/v1/tenants/acme/explain?callee=%2B8675512345679", nil, &ex)
	if ex.Chosen != outFixB || verdictOf(t, ex, outCertSZ).Reason != "locked" {
		t.Errorf("second explanation chose %s: %+v", ex.Chosen, ex.Candidates)
	}
	d.Lease.Release(routing.OutcomeAnswered)
	held.Lease.Release(routing.OutcomeAnswered)

	// The cap of one call an hour per number: certSZ and fixA are capped now.
	e.clk.Add(time.Second)
	e.call("crm", "GET", "/v1/tenants/acme/explain?callee=075512345678", nil, &ex)
	if v := verdictOf(t, ex, outCertSZ); v.Reason != "caller_hour_cap" || v.Until == nil {
		t.Errorf("capped verdict %+v", v)
	}
	if ex.Chosen != outFixB || ex.CalleeCallsToday != 1 {
		t.Errorf("chosen %s, callee calls %d", ex.Chosen, ex.CalleeCallsToday)
	}

	// A listed callee: refused whatever the numbers.
	if res := e.call("crm", "POST", "/v1/tenants/acme/dnc", AddDoNotCallRequest{Number: "075512345678"}, nil); res.status != 200 {
		t.Fatalf("add: %d %s", res.status, res.body)
	}
	e.call("crm", "GET", "/v1/tenants/acme/explain?callee=%2B86%20755%201234%205678", nil, &ex)
	if ex.Refused == nil || ex.Refused.Reason != "do_not_call" || ex.Refused.Message == "" || ex.Chosen != "" {
		t.Errorf("listed callee: refused %+v chosen %q", ex.Refused, ex.Chosen)
	}
}

func TestAPIExplainRefuses(t *testing.T) {
	e := newOutEnv(t)
	for _, tc := range []struct {
		name, app, target string
		status            int
		code, field       string
	}{
		{"no callee", "crm", "/v1/tenants/acme/explain", 400, "invalid_field", "callee"},
		{"bad callee", "crm", "/v1/tenants/acme/explain?callee=12", 400, "invalid_field", "callee"},
		{"header injection", "crm", "/v1/tenants/acme/explain?callee=138%0D%0AVia:%20x", 400, "invalid_field", "callee"},
		{"another tenant", "crm", "/v1/tenants/globex/explain?callee=13800138000", 403, "tenant_not_allowed", "tenant"},
		{"unknown tenant", "ops", "/v1/tenants/nobody/explain?callee=13800138000", 404, "unknown_tenant", "tenant"},
		{"unknown parameter", "crm", "/v1/tenants/acme/explain?to=13800138000", 400, "unknown_field", "to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.call(tc.app, "GET", tc.target, nil, nil), tc.status, tc.code, tc.field)
		})
	}
	wantError(t, e.call("crm", "POST", "/v1/tenants/acme/explain?callee=13800138000", map[string]any{}, nil), 405, "method_not_allowed", "")
}
