package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"callgate/pool"
)

// sz returns the i-th of some Shenzhen callees; xx of callees in no known city.
func sz(i int) string { return fmt.Sprintf("+867551234%04d", 5600+i) }
func xx(i int) string { return fmt.Sprintf("+86170123%05d", 45600+i) }
func dg(i int) string { return fmt.Sprintf("+867691234%04d", 5600+i) }

func fixedOnly(numbers ...string) func(*TenantPlan) {
	return func(p *TenantPlan) {
		p.Numbers = nil
		for _, n := range numbers {
			p.Numbers = append(p.Numbers, num(n, KindFixed, nil, nil))
		}
	}
}

// TestOutboundRules runs one scenario per rule of caller-number selection, with an
// injected clock.
func TestOutboundRules(t *testing.T) {
	type call struct {
		after   time.Duration // clock moves on before the call
		callee  string
		want    string       // caller number
		step    string       // strategy step that allowed it, if checked
		err     error        // instead of want
		skips   []SkipReason // if checked
		release Outcome      // "" keeps the lease
	}
	const (
		answered   = OutcomeAnswered
		unanswered = OutcomeUnanswered
		notPlaced  = OutcomeNotPlaced
	)
	tests := []struct {
		name  string
		plan  func(*TenantPlan)
		calls []call
	}{
		{name: "certified number usable in the callee's city, written in either language", calls: []call{
			{callee: calleeSZ, want: certSZ, step: "certified/city", release: answered},
			{callee: calleeGZ, want: certSZ, release: answered},
			{callee: calleeBJ, want: certBJ, release: answered},
		}},
		{name: "fallback: mobile of the city, then of the province, then fixed", calls: []call{
			{callee: sz(1), want: certSZ},
			{callee: sz(2), want: mobSZ, step: "mobile/city"},
			{callee: sz(3), want: mobGZ, step: "mobile/province"},
			{callee: sz(4), want: fixA, step: "fixed/any"},
			{callee: sz(5), want: fixB},
			{callee: sz(6), err: ErrNoCallerNumber},
		}},
		{name: "no certified number for the city: mobiles of the province, least recently used first", calls: []call{
			{callee: dg(1), want: mobSZ, step: "mobile/province", release: answered},
			{after: time.Second, callee: dg(2), want: mobGZ, release: answered},
			{after: time.Second, callee: dg(3), want: mobSZ, release: answered},
		}},
		{name: "callee in no known city: fixed lines only", calls: []call{
			{callee: xx(1), want: fixA, step: "fixed/any", release: answered},
			{after: time.Second, callee: xx(2), want: fixB, release: answered},
			{after: time.Second, callee: xx(3), want: fixA, release: answered},
		}},
		{name: "escalation after unanswered calls, wrapping round, reset by an answer", calls: []call{
			{callee: calleeSZ, want: certSZ, release: unanswered},
			{after: time.Minute, callee: calleeSZ, want: mobSZ, step: "mobile/city", release: unanswered},
			{after: time.Minute, callee: calleeSZ, want: fixA, step: "fixed/any", release: unanswered},
			{after: time.Minute, callee: calleeSZ, want: certSZ, step: "certified/city", release: answered},
			{after: time.Minute, callee: calleeSZ, want: certSZ, release: notPlaced},
			{after: time.Minute, callee: calleeSZ, want: certSZ},
		}},
		{name: "a call never placed does not escalate", calls: []call{
			{callee: calleeSZ, want: certSZ, release: notPlaced},
			{callee: calleeSZ, want: certSZ},
		}},
		{name: "escalation lasts escalate_within", plan: func(p *TenantPlan) { p.EscalateWithin = time.Hour }, calls: []call{
			{callee: calleeSZ, want: certSZ, release: unanswered},
			{after: time.Hour, callee: calleeSZ, want: mobSZ, release: answered},
			{callee: calleeBJ, want: certBJ, release: unanswered},
			{after: time.Hour + time.Millisecond, callee: calleeBJ, want: certBJ},
		}},
		{name: "pair cap at the boundary", plan: func(p *TenantPlan) { p.Caps.PairPerDay = 2 }, calls: []call{
			{callee: calleeSZ, want: certSZ, release: answered},
			{after: time.Minute, callee: calleeSZ, want: certSZ, release: answered},
			{after: time.Minute, callee: calleeSZ, want: mobSZ, skips: []SkipReason{SkipPairCap}, release: answered},
		}},
		{name: "callee cap at the boundary", plan: func(p *TenantPlan) { p.Caps.CalleePerDay = 3 }, calls: []call{
			{callee: calleeSZ, want: certSZ, release: answered},
			{callee: calleeSZ, want: certSZ, release: answered},
			{callee: "0755 1234 5678", want: certSZ, release: answered},
			{callee: "+86 755 1234 5678", err: ErrCalleeCapped},
			{callee: calleeGZ, want: certSZ, release: answered},
		}},
		{name: "caller day cap", plan: func(p *TenantPlan) { fixedOnly(fixA, fixB)(p); p.Caps.CallerPerDay = 2 }, calls: []call{
			{callee: xx(1), want: fixA, release: answered},
			{callee: xx(2), want: fixB, release: answered},
			{after: time.Second, callee: xx(3), want: fixA, release: answered},
			{after: time.Second, callee: xx(4), want: fixB, release: answered},
			{after: time.Second, callee: xx(5), err: ErrNoCallerNumber},
		}},
		{name: "per-number limit overrides the tenant's", plan: func(p *TenantPlan) {
			fixedOnly(fixA, fixB)(p)
			p.Caps.CallerPerDay = 1
			p.Numbers[0].PerDay = -1 // no cap for fixA
		}, calls: []call{
			{callee: xx(1), want: fixA, release: answered},
			{after: time.Second, callee: xx(2), want: fixB, release: answered},
			{after: time.Second, callee: xx(3), want: fixA, release: answered},
			{after: time.Second, callee: xx(4), want: fixA, release: answered},
		}},
		{name: "day rollover in the tenant's time zone", plan: func(p *TenantPlan) { p.Caps.CalleePerDay = 1 }, calls: []call{
			// t0 is 17:00 in Shanghai; 6h59m59.999s later it is 23:59:59.999.
			{after: 7*time.Hour - time.Millisecond, callee: calleeSZ, want: certSZ, release: answered},
			{callee: calleeSZ, err: ErrCalleeCapped},
			{after: time.Millisecond, callee: calleeSZ, want: certSZ, release: answered}, // 00:00 in Shanghai, 16:00 UTC
		}},
		{name: "sliding hour", plan: func(p *TenantPlan) { fixedOnly(fixA)(p); p.Caps.CallerPerHour = 1 }, calls: []call{
			{callee: xx(1), want: fixA, release: answered},
			{after: time.Hour - time.Millisecond, callee: xx(2), err: ErrNoCallerNumber},
			{after: time.Millisecond, callee: xx(3), want: fixA, release: answered},
		}},
		{name: "a number whose answer rate collapsed rests", plan: func(p *TenantPlan) {
			fixedOnly(fixA, fixB)(p)
			p.Health = pool.HealthRule{MinAttempts: 2, AnswerRateFloor: 0.5, Window: time.Hour, Rest: 2 * time.Hour}
		}, calls: []call{
			{callee: xx(1), want: fixA, release: unanswered},
			{after: time.Second, callee: xx(2), want: fixB, release: answered},
			{after: time.Second, callee: xx(3), want: fixA, release: unanswered}, // 0 of 2: rests
			{after: time.Second, callee: xx(4), want: fixB, release: answered},
			{after: time.Second, callee: xx(5), want: fixB, release: answered},
			{after: 2 * time.Hour, callee: xx(6), want: fixA, release: answered},
		}},
		{name: "a call never placed gives its counts back", plan: func(p *TenantPlan) {
			p.Caps = pool.Caps{PairPerDay: 1, CalleePerDay: 1, CallerPerDay: 1, CallerPerHour: 1}
		}, calls: []call{
			{callee: calleeSZ, want: certSZ, release: notPlaced},
			{callee: calleeSZ, want: certSZ, release: answered},
			{callee: calleeSZ, err: ErrCalleeCapped},
		}},
		{name: "a lease whose holder vanished expires", plan: fixedOnly(fixA), calls: []call{
			{callee: xx(1), want: fixA},
			{after: time.Minute - time.Millisecond, callee: xx(2), err: ErrNoCallerNumber},
			{after: time.Millisecond, callee: xx(3), want: fixA, release: answered},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := acmePlan()
			if tt.plan != nil {
				tt.plan(&p)
			}
			r, _, clock := newTestRouter(t, p)
			for i, c := range tt.calls {
				clock.Add(c.after)
				d, err := r.Route(context.Background(), OutboundCall{Tenant: "acme", To: c.callee})
				if c.err != nil {
					if !errors.Is(err, c.err) || !errors.Is(err, ErrNoRoute) {
						t.Fatalf("call %d to %s: %+v, %v; want %v", i, c.callee, d.From, err, c.err)
					}
					continue
				}
				if err != nil || d.From != c.want {
					t.Fatalf("call %d to %s: %s, %v; want %s", i, c.callee, d.From, err, c.want)
				}
				if c.step != "" && d.Step.String() != c.step {
					t.Errorf("call %d: step %s, want %s", i, d.Step, c.step)
				}
				if c.skips != nil {
					var got []SkipReason
					for _, s := range d.Skipped {
						got = append(got, s.Reason)
					}
					if !slices.Equal(got, c.skips) {
						t.Errorf("call %d: skipped %v, want %v", i, d.Skipped, c.skips)
					}
				}
				if d.Trunk != d.Trunks[0] || d.Lease == nil || d.Lease.Number() != d.From || d.Callee.E164 == "" {
					t.Errorf("call %d: decision %+v", i, d)
				}
				if c.release != "" {
					d.Lease.Release(c.release)
				}
			}
		})
	}
}

func TestOutboundDoNotCall(t *testing.T) {
	ctx := context.Background()
	other := acmePlan()
	other.Tenant = "globex"
	other.Numbers = []pool.CallerNumber{{Number: "+862100000009", Tenant: "globex", Kind: KindFixed, Trunks: []string{"t"}}}
	r, store, _ := newTestRouter(t, acmePlan(), other)
	if n, err := r.AddDoNotCall(ctx, "acme", []string{"+86 138-0013-8000", "0755 1234 5678"}, "complaint"); err != nil || n != 2 {
		t.Fatalf("add: %d, %v", n, err)
	}
	if _, err := r.AddDoNotCall(ctx, "", []string{"(020) 1234-5678"}, "regulator"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddDoNotCall(ctx, "acme", []string{"not a number"}, "x"); !errors.Is(err, ErrInvalidNumber) {
		t.Fatalf("bad number: %v", err)
	}
	if _, err := r.AddDoNotCall(ctx, "nobody", []string{calleeSZ}, "x"); !errors.Is(err, ErrUnknownTenant) {
		t.Fatalf("unknown tenant: %v", err)
	}
	fw := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '０' + r - '0'
		}
		return r
	}, "13800138000")
	for _, variant := range []string{"13800138000", "+8613800138000", "008613800138000", "8613800138000", "138 0013 8000",
		"138-0013-8000", fw, "075512345678", "+86 (755) 1234-5678", "0086 755 12345678"} {
		_, err := r.Route(ctx, OutboundCall{Tenant: "acme", To: variant})
		var re *RefusedError
		if !errors.Is(err, ErrDoNotCall) || !errors.As(err, &re) || !strings.Contains(re.Detail, "tenant's") {
			t.Errorf("acme calling %q: %v; want ErrDoNotCall from the tenant's list", variant, err)
		}
	}
	// The tenant's list binds only the tenant; the global one everybody.
	if _, err := r.Route(ctx, OutboundCall{Tenant: "globex", To: "13800138000"}); err != nil {
		t.Errorf("globex calling acme's do-not-call number: %v", err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := r.Route(ctx, OutboundCall{Tenant: tenant, To: "020-12345678"}); !errors.Is(err, ErrDoNotCall) {
			t.Errorf("%s calling a globally listed number: %v", tenant, err)
		}
	}
	if ok, err := r.RemoveDoNotCall(ctx, "acme", "0086 138 0013 8000"); !ok || err != nil {
		t.Fatalf("remove: %v, %v", ok, err)
	}
	if on, _ := r.OnDoNotCall("acme", "13800138000"); on {
		t.Fatal("still listed after removal")
	}
	route(t, r, "13800138000").Lease.Release(OutcomeAnswered)

	imp, err := r.ImportDoNotCall(ctx, "acme", strings.NewReader("phone,source\n139 1234 5678,crm\nbad,\n+86 189 1234 5678\n"), "csv:test.csv")
	if err != nil || imp.Read != 2 || imp.Added != 2 || len(imp.Problems) != 1 || imp.Problems[0].Line != 3 {
		t.Fatalf("import: %+v, %v", imp, err)
	}
	if _, err := r.Route(ctx, OutboundCall{Tenant: "acme", To: "+8618912345678"}); !errors.Is(err, ErrDoNotCall) {
		t.Errorf("imported number: %v", err)
	}
	entries, err := store.ListDoNotCall(ctx, pool.DNCFilter{Tenant: "acme"})
	if err != nil || len(entries) != 3 || entries[0].Number != "+8613912345678" || entries[0].Source != "crm" ||
		entries[2].Number != "+8675512345678" || entries[2].Source != "complaint" {
		t.Fatalf("stored list %+v, %v", entries, err)
	}
	for _, e := range entries {
		if e.Number == "+8618912345678" && e.Source != "csv:test.csv" {
			t.Errorf("imported entry %+v", e)
		}
	}
}

func TestOutboundRefusesBadInput(t *testing.T) {
	r, _, _ := newTestRouter(t, acmePlan())
	ctx := context.Background()
	if _, err := r.Route(ctx, OutboundCall{Tenant: "acme", To: "138\r\nVia: x"}); !errors.Is(err, ErrInvalidNumber) {
		t.Errorf("header injection: %v", err)
	}
	var ne *NumberError
	if _, err := r.Route(ctx, OutboundCall{Tenant: "acme", To: "110"}); !errors.As(err, &ne) || ne.Reason != ReasonTooShort {
		t.Errorf("110: %v", err)
	}
	if _, err := r.Route(ctx, OutboundCall{Tenant: "nobody", To: calleeSZ}); !errors.Is(err, ErrNoRoute) {
		t.Errorf("unknown tenant: %v", err)
	}
}

func TestOutboundRenewsLeases(t *testing.T) {
	p := acmePlan()
	fixedOnly(fixA, fixB)(&p)
	r, _, clock := newTestRouter(t, p)
	held := route(t, r, xx(1))
	clock.Add(40 * time.Second)
	r.renew()
	clock.Add(40 * time.Second) // 80 s after the reservation: past the first lease
	d := route(t, r, xx(2))
	if d.From == held.From {
		t.Fatalf("renewed lease on %s ignored", held.From)
	}
	d.Lease.Release(OutcomeAnswered)
	clock.Add(41 * time.Second) // 61 s after the renewal
	if d := route(t, r, xx(3)); d.From != held.From {
		t.Fatalf("got %s; the unrenewed lease on %s should have expired", d.From, held.From)
	}
	held.Lease.Release(OutcomeAnswered) // taken over: nothing happens
	held.Lease.Release(OutcomeAnswered)
	var nilLease *Lease
	nilLease.Release(OutcomeAnswered)
}

func TestOutboundMaxHold(t *testing.T) {
	p := acmePlan()
	fixedOnly(fixA)(&p)
	store := openStore(t, t.TempDir()+"/db")
	clock := &testClock{now: t0}
	r, err := NewOutboundRouter(context.Background(), store, []TenantPlan{p}, WithClock(clock.Now),
		WithAnalyzer(sharedAnalyzer), WithMaxHold(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	route(t, r, xx(1))
	for range 4 {
		clock.Add(30 * time.Second)
		r.renew()
	}
	clock.Add(31 * time.Second) // renewed at 30, 60 (not at 90 or 120): expired at 120
	route(t, r, xx(2))
}

func TestOutboundExplain(t *testing.T) {
	ctx := context.Background()
	p := acmePlan()
	p.Caps.PairPerDay = 1
	r, _, clock := newTestRouter(t, p)
	route(t, r, calleeGZ).Lease.Release(OutcomeAnswered) // certSZ: pair cap for calleeGZ reached
	clock.Add(time.Second)
	held := route(t, r, calleeSZ) // mobSZ? no: certSZ is free again, so certSZ
	clock.Add(time.Second)
	ex, err := r.Explain(ctx, "acme", "(020) 1234 5678")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Callee.E164 != calleeGZ || ex.Chosen != mobGZ || ex.Refused != nil || ex.CalleeCallsToday != 1 {
		t.Fatalf("explanation %+v", ex)
	}
	got := map[string]Verdict{}
	var order []string
	for _, v := range ex.Candidates {
		got[v.Number] = v
		order = append(order, v.Number)
	}
	want := map[string][2]string{
		certSZ: {StatusSkipped, string(SkipLocked)},
		mobGZ:  {StatusChosen, ""},
		mobSZ:  {StatusEligible, ""},
		fixA:   {StatusEligible, ""},
		fixB:   {StatusEligible, ""},
		certBJ: {StatusSkipped, string(SkipNoRule)},
		mobBJ:  {StatusSkipped, string(SkipNoRule)},
	}
	for n, w := range want {
		if v := got[n]; v.Status != w[0] || string(v.Reason) != w[1] {
			t.Errorf("%s: %+v; want %v", n, v, w)
		}
	}
	if !slices.Equal(order[:5], []string{certSZ, mobGZ, mobSZ, fixA, fixB}) {
		t.Errorf("order %v", order)
	}
	if d := got[certBJ].Detail; !strings.Contains(d, "北京") || !strings.Contains(d, "Guangzhou") {
		t.Errorf("no-rule detail %q", d)
	}
	// Explain reserved nothing: the call gets what it said.
	if d := route(t, r, calleeGZ); d.From != mobGZ {
		t.Errorf("after explain: %s", d.From)
	}
	held.Lease.Release(OutcomeAnswered)
	if _, err := r.AddDoNotCall(ctx, "acme", []string{calleeBJ}, "t"); err != nil {
		t.Fatal(err)
	}
	ex, _ = r.Explain(ctx, "acme", calleeBJ)
	if !errors.Is(ex.Refused, ErrDoNotCall) || ex.Chosen != "" {
		t.Errorf("explain for a listed callee: %+v", ex)
	}
}

func TestOutcomeOf(t *testing.T) {
	at := t0
	for _, tc := range []struct {
		c    pool.Call
		want Outcome
	}{
		{pool.Call{AnswerAt: at, RingAt: at, SIPCode: 200}, OutcomeAnswered},
		{pool.Call{RingAt: at, SIPCode: 487}, OutcomeUnanswered},
		{pool.Call{SIPCode: 486}, OutcomeUnanswered},
		{pool.Call{SIPCode: 603}, OutcomeUnanswered},
		{pool.Call{SIPCode: 487}, OutcomeNotPlaced},
		{pool.Call{SIPCode: 503}, OutcomeNotPlaced},
		{pool.Call{SIPCode: 404}, OutcomeNotPlaced},
		{pool.Call{}, OutcomeNotPlaced},
	} {
		if got := OutcomeOf(tc.c); got != tc.want {
			t.Errorf("OutcomeOf(%+v) = %s, want %s", tc.c, got, tc.want)
		}
	}
}

func TestNewOutboundRouterChecksPlans(t *testing.T) {
	store := openStore(t, t.TempDir()+"/db")
	for name, change := range map[string]func(*TenantPlan){
		"certified any":    func(p *TenantPlan) { p.Strategy = []Step{{KindCertified, MatchAny}} },
		"empty strategy":   func(p *TenantPlan) { p.Strategy = nil },
		"step twice":       func(p *TenantPlan) { p.Strategy = append(p.Strategy, p.Strategy[0]) },
		"foreign number":   func(p *TenantPlan) { p.Numbers[0].Tenant = "globex" },
		"number no trunks": func(p *TenantPlan) { p.Numbers[0].Trunks = nil },
		"not E.164":        func(p *TenantPlan) { p.Numbers[0].Number = "075561000001" },
		"no lease":         func(p *TenantPlan) { p.Lease = 0 },
		"unknown region":   func(p *TenantPlan) { p.Region = "XX" },
	} {
		p := acmePlan()
		change(&p)
		if _, err := NewOutboundRouter(context.Background(), store, []TenantPlan{p}); !errors.Is(err, ErrPlan) {
			t.Errorf("%s: %v, want ErrPlan", name, err)
		}
	}
	p := acmePlan()
	q := acmePlan()
	q.Tenant = "globex"
	for i := range q.Numbers {
		q.Numbers[i].Tenant = "globex"
	}
	if _, err := NewOutboundRouter(context.Background(), store, []TenantPlan{p, q}); !errors.Is(err, ErrPlan) {
		t.Errorf("a number in two plans: %v", err)
	}
}
