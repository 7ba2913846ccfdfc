package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"callgate/pool"
	"callgate/routing"
	"callgate/web/apiclient"
)

// The caller numbers of the outbound tests: acme has a certified number for
// Shenzhen, a Beijing mobile and two fixed lines; globex one fixed line.
const (
	outCertSZ = "+8675561000001"
	outMobBJ  = "+8613800000009"
	outFixA   = "+862100000001"
	outFixB   = "+862100000002"
	outGlobex = "+862100000009"
)

// outAnalyzer is shared by the tests' routers: loading the geocoding data is slow.
var outAnalyzer = routing.NewAnalyzer()

// outEnv is the business API with its outbound endpoints, over a real router on a
// real SQLite file.
type outEnv struct {
	*apiEnv
	router *routing.Outbound
}

func outPlans() []routing.TenantPlan {
	acme := routing.TenantPlan{
		Tenant: "acme", Region: "CN", Lease: time.Minute,
		Strategy: []routing.Step{{Kind: routing.KindCertified, Match: routing.MatchCity},
			{Kind: routing.KindMobile, Match: routing.MatchCity}, {Kind: routing.KindFixed, Match: routing.MatchAny}},
		Caps: pool.Caps{CallerPerHour: 1},
		Numbers: []pool.CallerNumber{
			{Number: outCertSZ, Tenant: "acme", Kind: routing.KindCertified, Pool: "acme-cert", Trunks: []string{"carrier-a"}, Cities: []string{"Shenzhen"}},
			{Number: outMobBJ, Tenant: "acme", Kind: routing.KindMobile, Pool: "acme-mobile", Trunks: []string{"carrier-b"}, Cities: []string{"Beijing"}, Provinces: []string{"Beijing"}},
			{Number: outFixA, Tenant: "acme", Kind: routing.KindFixed, Pool: "acme-fixed", Trunks: []string{"carrier-a", "carrier-b"}},
			{Number: outFixB, Tenant: "acme", Kind: routing.KindFixed, Pool: "acme-fixed", Trunks: []string{"carrier-a", "carrier-b"}},
		},
	}
	globex := routing.TenantPlan{
		Tenant: "globex", Region: "CN", Lease: time.Minute,
		Strategy: []routing.Step{{Kind: routing.KindFixed, Match: routing.MatchAny}},
		Numbers:  []pool.CallerNumber{{Number: outGlobex, Tenant: "globex", Kind: routing.KindFixed, Trunks: []string{"carrier-a"}}},
	}
	return []routing.TenantPlan{acme, globex}
}

// newOutEnv serves the API with every outbound endpoint.
func newOutEnv(t *testing.T) *outEnv {
	t.Helper()
	ctx := context.Background()
	e := &apiEnv{t: t, path: filepath.Join(t.TempDir(), "callgate.db"), clk: &apiClock{now: apiT0}}
	s, err := pool.OpenSQLite(ctx, e.path, pool.WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	r, err := routing.NewOutboundRouter(ctx, s, outPlans(), routing.WithClock(e.clk.Now), routing.WithAnalyzer(outAnalyzer),
		routing.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewInternal(InternalDeps{Bindings: s, Nonces: s, Policy: testPolicy(t), Apps: testApps, Now: e.clk.Now,
		Outbound: OutboundAPI{DoNotCall: r, Lists: s, Explainer: r, Records: s, Costs: s}})
	if err != nil {
		t.Fatal(err)
	}
	e.store, e.srv = s, httptest.NewServer(h)
	t.Cleanup(func() {
		e.srv.Close()
		if err := r.Close(); err != nil {
			t.Errorf("close router: %v", err)
		}
		e.store.Close()
	})
	return &outEnv{apiEnv: e, router: r}
}

// secrets of the test apps.
var appSecrets = map[string]string{"crm": crmSecret, "ops": opsSecret, "globex-app": globexSecret}

// call sends a request signed by app and decodes a 2xx answer into out (if not nil).
func (e *outEnv) call(app, method, target string, body any, out any) response {
	e.t.Helper()
	req := e.request(method, target, body)
	if s, ok := body.(string); ok && s != "" {
		req.Header.Set("Content-Type", "text/csv")
	} else if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.send(app, req, out)
}

// send signs req as app, sends it and decodes a 2xx answer into out.
func (e *outEnv) send(app string, req *http.Request, out any) response {
	e.t.Helper()
	if err := apiclient.Sign(req, app, appSecrets[app], e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
	res := e.do(req)
	if res.status < 300 && out != nil {
		dec := json.NewDecoder(bytes.NewReader(res.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", req.Method, req.URL, res.body, err)
		}
	}
	return res
}

// wantError fails unless res is the error status/code naming field.
func wantError(t *testing.T, res response, status int, code, field string) {
	t.Helper()
	if res.status != status || res.err.Code != code || res.err.Field != field {
		t.Errorf("got %d %s field %q (%s); want %d %s field %q", res.status, res.err.Code, res.err.Field, res.err.Message,
			status, code, field)
	}
}

// storeCalls writes call records for the calls tests; see the comments.
func storeCalls(t *testing.T, s *pool.SQLiteStore) {
	t.Helper()
	ctx := context.Background()
	at := func(min int) time.Time { return apiT0.Add(time.Duration(min) * time.Minute) }
	tariff := pool.Tariff{RatePerMinute: 60, FirstSec: 60, NextSec: 6}
	calls := []pool.Call{
		// a0: alice to a Shenzhen mobile, answered on carrier-a after a failover, 61 s.
		{ID: "a0", Tenant: "acme", Direction: pool.Outbound, Agent: "alice", Caller: outFixA, Callee: "+8613510001000",
			OutTrunk: "carrier-a", SIPCode: 200, Reason: "caller_bye", HangupBy: "agent", SetupAt: at(0),
			RingAt: at(0).Add(2 * time.Second), AnswerAt: at(0).Add(5 * time.Second), EndAt: at(0).Add(66 * time.Second),
			BilledSec: 61, CostMilli: tariff.Cost(61), PacketsFromA: 3050, PacketsToA: 3049, PacketsFromB: 3048, PacketsToB: 3050,
			Attempts: []pool.Attempt{
				{Seq: 1, Trunk: "carrier-b", From: outFixA, To: "+8613510001000", SIPCode: 503, StartAt: at(0), EndAt: at(0)},
				{Seq: 2, Trunk: "carrier-a", From: outFixA, To: "+8613510001000", SIPCode: 200, StartAt: at(0),
					RingAt: at(0).Add(2 * time.Second), AnswerAt: at(0).Add(5 * time.Second), EndAt: at(0).Add(66 * time.Second)},
			}},
		// a1: bob, rang out.
		{ID: "a1", Tenant: "acme", Direction: pool.Outbound, Agent: "bob", Caller: outFixB, Callee: "+8613510001001",
			OutTrunk: "carrier-b", SIPCode: 487, Reason: "cancel", SetupAt: at(1), RingAt: at(1).Add(time.Second), EndAt: at(1).Add(30 * time.Second)},
		// a2: alice, busy.
		{ID: "a2", Tenant: "acme", Direction: pool.Outbound, Agent: "alice", Caller: outFixB, Callee: "+8613510001000",
			OutTrunk: "carrier-b", SIPCode: 486, SetupAt: at(2), EndAt: at(2)},
		// a3: inbound to a virtual number, answered 9.5 s.
		{ID: "a3", Tenant: "acme", Direction: pool.Inbound, Caller: "+8613510001002", Callee: "+8613900000001",
			Virtual: "+8675561000009", InTrunk: "carrier-in", OutTrunk: "carrier-a", SIPCode: 200, SetupAt: at(3),
			AnswerAt: at(3), EndAt: at(3).Add(9500 * time.Millisecond), BilledSec: 10, CostMilli: tariff.Cost(10)},
		// g0: globex's.
		{ID: "g0", Tenant: "globex", Direction: pool.Outbound, Agent: "alice", Caller: outGlobex, Callee: "+8613510001000",
			OutTrunk: "carrier-a", SIPCode: 200, SetupAt: at(3), AnswerAt: at(3), BilledSec: 600, CostMilli: tariff.Cost(600)},
	}
	for _, c := range calls {
		c.State = "ended"
		if err := s.StartCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []pool.Feedback{
		{CallID: "a0", Kind: pool.FeedbackNoise, Note: "crackle", Agent: "alice", CreatedAt: at(10)},
		{CallID: "a2", Kind: pool.FeedbackWrongNumber, Agent: "alice", CreatedAt: at(11)},
		{CallID: "g0", Kind: pool.FeedbackNoise, Agent: "alice", CreatedAt: at(12)},
	} {
		if _, err := s.AddFeedback(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
}

func callIDs(cs []CallRecord) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestAPICallsFilters(t *testing.T) {
	e := newOutEnv(t)
	storeCalls(t, e.store)
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"all, newest first", "", []string{"a3", "a2", "a1", "a0"}},
		{"window in RFC 3339", "since=2026-11-20T09:01:00Z&until=2026-11-20T09:03:00Z", []string{"a2", "a1"}},
		{"window in unix seconds and an offset", "since=" + unix(apiT0.Add(2*time.Minute)) + "&until=2026-11-20T17:10:00%2B08:00", []string{"a3", "a2"}},
		{"agent", "agent=alice", []string{"a2", "a0"}},
		{"callee in national format", "callee=135%201000%201000", []string{"a2", "a0"}},
		{"caller number", "caller=%2B862100000002", []string{"a2", "a1"}},
		{"caller number with 0086", "caller=0086%2021%200000%200002", []string{"a2", "a1"}},
		{"answered", "answered=true", []string{"a3", "a0"}},
		{"not answered", "answered=false", []string{"a2", "a1"}},
		{"result unanswered: rang or busy", "result=unanswered", []string{"a2", "a1"}},
		{"result not placed", "result=not_placed", nil},
		{"direction", "direction=inbound", []string{"a3"}},
		{"trunk", "trunk=carrier-b", []string{"a2", "a1"}},
		{"with feedback", "feedback=any", []string{"a2", "a0"}},
		{"with noise", "feedback=noise", []string{"a0"}},
		{"combined", "agent=alice&answered=true&since=2026-11-20T09:00:00Z", []string{"a0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var list CallList
			res := e.call("crm", "GET", "/v1/tenants/acme/calls?"+tc.query, nil, &list)
			if res.status != http.StatusOK {
				t.Fatalf("%d %s", res.status, res.body)
			}
			if got := callIDs(list.Calls); !slices.Equal(got, tc.want) || list.NextCursor != "" {
				t.Errorf("calls %v next %q, want %v", got, list.NextCursor, tc.want)
			}
			for _, c := range list.Calls {
				if c.Tenant != "acme" {
					t.Errorf("call %s of tenant %s", c.ID, c.Tenant)
				}
			}
		})
	}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestAPICallRecordShape(t *testing.T) {
	e := newOutEnv(t)
	storeCalls(t, e.store)
	var c CallRecord
	if res := e.call("crm", "GET", "/v1/tenants/acme/calls/a0", nil, &c); res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if c.ID != "a0" || c.Direction != "outbound" || c.Agent != "alice" || c.Caller != outFixA || c.Result != "answered" ||
		c.SIPCode != 200 || c.BilledSec != 61 || c.CostMilli != 66 || c.Cost != "0.066" || c.Packets.ToB != 3050 ||
		c.AnswerAt == nil || !c.AnswerAt.Equal(apiT0.Add(5*time.Second)) || c.HangupBy != "agent" {
		t.Errorf("call %+v", c)
	}
	if len(c.Attempts) != 2 || c.Attempts[0].Trunk != "carrier-b" || c.Attempts[0].SIPCode != 503 ||
		c.Attempts[1].AnswerAt == nil || c.Attempts[0].RingAt != nil {
		t.Errorf("attempts %+v", c.Attempts)
	}
	if len(c.Feedback) != 1 || c.Feedback[0].Kind != "noise" || c.Feedback[0].Note != "crackle" || c.Feedback[0].Call != nil {
		t.Errorf("feedback %+v", c.Feedback)
	}
	// The same call in the list, attempts and feedback joined.
	var list CallList
	e.call("crm", "GET", "/v1/tenants/acme/calls?agent=alice&answered=true", nil, &list)
	if len(list.Calls) != 1 || len(list.Calls[0].Attempts) != 2 || len(list.Calls[0].Feedback) != 1 {
		t.Errorf("listed %+v", list.Calls)
	}
	// Every call's result is what routing.OutcomeOf makes of it: the filter agrees.
	var all CallList
	e.call("ops", "GET", "/v1/tenants/acme/calls", nil, &all)
	for _, r := range []string{"answered", "unanswered", "not_placed"} {
		var got CallList
		e.call("ops", "GET", "/v1/tenants/acme/calls?result="+r, nil, &got)
		var want []string
		for _, c := range all.Calls {
			if c.Result == r {
				want = append(want, c.ID)
			}
		}
		if !slices.Equal(callIDs(got.Calls), want) {
			t.Errorf("result=%s: %v, want %v", r, callIDs(got.Calls), want)
		}
	}
	// Empty lists are lists.
	res := e.call("crm", "GET", "/v1/tenants/acme/calls?agent=nobody", nil, nil)
	if string(res.body) != "{\"calls\":[]}\n" {
		t.Errorf("empty list %s", res.body)
	}
}

func TestAPICallsPaging(t *testing.T) {
	e := newOutEnv(t)
	storeCalls(t, e.store)
	var got []string
	target := "/v1/tenants/acme/calls?limit=3"
	for range 5 {
		var page CallList
		if res := e.call("crm", "GET", target, nil, &page); res.status != http.StatusOK {
			t.Fatalf("%d %s", res.status, res.body)
		}
		got = append(got, callIDs(page.Calls)...)
		if page.NextCursor == "" {
			break
		}
		target = "/v1/tenants/acme/calls?limit=3&cursor=" + url.QueryEscape(page.NextCursor)
	}
	if !slices.Equal(got, []string{"a3", "a2", "a1", "a0"}) {
		t.Errorf("paged %v", got)
	}
}

func TestAPIFeedbackList(t *testing.T) {
	e := newOutEnv(t)
	storeCalls(t, e.store)
	var list FeedbackList
	if res := e.call("crm", "GET", "/v1/tenants/acme/feedback", nil, &list); res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if len(list.Feedback) != 2 || list.Feedback[0].CallID != "a2" || list.Feedback[0].Kind != "wrong_number" ||
		list.Feedback[0].Call == nil || list.Feedback[0].Call.Callee != "+8613510001000" || list.Feedback[0].Call.Attempts != nil ||
		list.Feedback[1].CallID != "a0" {
		t.Fatalf("feedback %+v", list.Feedback)
	}
	var page FeedbackList
	e.call("crm", "GET", "/v1/tenants/acme/feedback?limit=1", nil, &page)
	if len(page.Feedback) != 1 || page.NextCursor == "" {
		t.Fatalf("page %+v", page)
	}
	var page2 FeedbackList
	e.call("crm", "GET", "/v1/tenants/acme/feedback?limit=1&cursor="+page.NextCursor, nil, &page2)
	if len(page2.Feedback) != 1 || page2.Feedback[0].CallID != "a0" || page2.NextCursor != "" {
		t.Fatalf("page 2 %+v", page2)
	}
	var noise FeedbackList
	e.call("crm", "GET", "/v1/tenants/acme/feedback?kind=noise&since=2026-11-20T09:10:00Z", nil, &noise)
	if len(noise.Feedback) != 1 || noise.Feedback[0].CallID != "a0" {
		t.Fatalf("noise %+v", noise)
	}
}

func TestAPICallsRefuses(t *testing.T) {
	e := newOutEnv(t)
	storeCalls(t, e.store)
	tests := []struct {
		name, app, target string
		status            int
		code, field       string
	}{
		{"another tenant's call is not found", "crm", "/v1/tenants/acme/calls/g0", 404, "not_found", ""},
		{"no such call", "crm", "/v1/tenants/acme/calls/nope", 404, "not_found", ""},
		{"tenant not allowed", "crm", "/v1/tenants/globex/calls", 403, "tenant_not_allowed", "tenant"},
		{"tenant not allowed, one call", "globex-app", "/v1/tenants/acme/calls/a0", 403, "tenant_not_allowed", "tenant"},
		{"the wildcard is no tenant", "ops", "/v1/tenants/%2A/calls", 400, "invalid_field", "tenant"},
		{"bad time", "crm", "/v1/tenants/acme/calls?since=yesterday", 400, "invalid_field", "since"},
		{"empty window", "crm", "/v1/tenants/acme/calls?since=2026-11-20T10:00:00Z&until=2026-11-20T09:00:00Z", 400, "invalid_field", "until"},
		{"bad callee", "crm", "/v1/tenants/acme/calls?callee=call-me", 400, "invalid_field", "callee"},
		{"bad direction", "crm", "/v1/tenants/acme/calls?direction=up", 400, "invalid_field", "direction"},
		{"bad result", "crm", "/v1/tenants/acme/calls?result=maybe", 400, "invalid_field", "result"},
		{"bad answered", "crm", "/v1/tenants/acme/calls?answered=perhaps", 400, "invalid_field", "answered"},
		{"bad feedback", "crm", "/v1/tenants/acme/calls?feedback=loud", 400, "invalid_field", "feedback"},
		{"bad cursor", "crm", "/v1/tenants/acme/calls?cursor=abc", 400, "invalid_field", "cursor"},
		{"bad limit", "crm", "/v1/tenants/acme/calls?limit=501", 400, "invalid_field", "limit"},
		{"unknown parameter", "crm", "/v1/tenants/acme/calls?agnet=alice", 400, "unknown_field", "agnet"},
		{"repeated parameter", "crm", "/v1/tenants/acme/calls?agent=a&agent=b", 400, "invalid_field", "agent"},
		{"parameter on one call", "crm", "/v1/tenants/acme/calls/a0?x=1", 400, "unknown_field", "x"},
		{"bad feedback kind", "crm", "/v1/tenants/acme/feedback?kind=loud", 400, "invalid_field", "kind"},
		{"bad feedback cursor", "crm", "/v1/tenants/acme/feedback?cursor=-1", 400, "invalid_field", "cursor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.call(tc.app, "GET", tc.target, nil, nil), tc.status, tc.code, tc.field)
		})
	}
	res := e.call("crm", "POST", "/v1/tenants/acme/calls", map[string]any{}, nil)
	wantError(t, res, 405, "method_not_allowed", "")
	if res.header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", res.header.Get("Allow"))
	}
	// Unsigned requests never reach the handlers.
	if res := e.do(e.request("GET", "/v1/tenants/acme/calls", nil)); res.status != 401 {
		t.Errorf("unsigned: %d", res.status)
	}
}

// Without the outbound parts, their paths are not served.
func TestAPIOutboundEndpointsOptional(t *testing.T) {
	e := newAPIEnv(t, pool.BindingRules{}, apiNumbers())
	for _, p := range []string{"/v1/dnc", "/v1/dnc/global", "/v1/tenants/acme/dnc", "/v1/tenants/acme/explain?callee=1",
		"/v1/tenants/acme/calls", "/v1/tenants/acme/calls/x", "/v1/tenants/acme/feedback", "/v1/tenants/acme/cost?since=1"} {
		if res := e.do(e.signed("GET", p, nil)); res.status != 404 || res.err.Code != "not_found" {
			t.Errorf("%s: %d %s", p, res.status, res.err.Code)
		}
	}
}
