package routing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"callgate/pool"
)

// Each reason a number is passed over shows in the explanation, with the number
// a call would get instead; explaining changes nothing.
func TestExplainReasons(t *testing.T) {
	type want struct {
		number string
		status string
		reason SkipReason
		detail string // a part of Verdict.Detail
	}
	tests := []struct {
		name    string
		plan    func(*TenantPlan)
		before  func(t *testing.T, r *Outbound) // calls made first
		callee  string
		chosen  string
		refused error
		want    []want
	}{
		{name: "locked: in a call", plan: fixedOnly(fixA, fixB),
			before: func(t *testing.T, r *Outbound) { route(t, r, xx(1)) }, // held
			callee: xx(2), chosen: fixB,
			want: []want{{fixA, StatusSkipped, SkipLocked, "in a call"}, {fixB, StatusChosen, "", ""}}},
		{name: "capped: calls from the number this hour",
			plan:   func(p *TenantPlan) { fixedOnly(fixA, fixB)(p); p.Caps.CallerPerHour = 1 },
			before: func(t *testing.T, r *Outbound) { route(t, r, xx(1)).Lease.Release(OutcomeAnswered) },
			callee: xx(2), chosen: fixB,
			want: []want{{fixB, StatusChosen, "", ""}, {fixA, StatusSkipped, SkipCallerHourCap, "1 of 1 calls in the last hour"}}},
		{name: "capped: calls from the number today",
			plan:   func(p *TenantPlan) { fixedOnly(fixA, fixB)(p); p.Caps.CallerPerDay = 1 },
			before: func(t *testing.T, r *Outbound) { route(t, r, xx(1)).Lease.Release(OutcomeAnswered) },
			callee: xx(2), chosen: fixB,
			want: []want{{fixA, StatusSkipped, SkipCallerDayCap, "1 of 1 calls today"}}},
		{name: "capped: calls from the number to this callee today",
			plan:   func(p *TenantPlan) { fixedOnly(fixA, fixB)(p); p.Caps.PairPerDay = 1 },
			before: func(t *testing.T, r *Outbound) { route(t, r, xx(1)).Lease.Release(OutcomeAnswered) },
			callee: xx(1), chosen: fixB,
			want: []want{{fixA, StatusSkipped, SkipPairCap, "1 of 1 calls to this callee today"}}},
		{name: "resting: its answer rate collapsed", plan: func(p *TenantPlan) {
			fixedOnly(fixA, fixB)(p)
			p.Health = pool.HealthRule{MinAttempts: 1, AnswerRateFloor: 0.5, Window: time.Hour, Rest: 2 * time.Hour}
		}, before: func(t *testing.T, r *Outbound) { route(t, r, xx(1)).Lease.Release(OutcomeUnanswered) },
			callee: xx(2), chosen: fixB,
			want: []want{{fixA, StatusSkipped, SkipResting, ""}}},
		{name: "wrong city: no step allows it", callee: calleeBJ, chosen: certBJ,
			want: []want{{certBJ, StatusChosen, "", ""}, {certSZ, StatusSkipped, SkipNoRule, "callee in Beijing"},
				{mobSZ, StatusSkipped, SkipNoRule, "local to Shenzhen"}, {mobBJ, StatusEligible, "", ""}}},
		{name: "refused: the callee is on the global list",
			before: func(t *testing.T, r *Outbound) {
				if _, err := r.AddDoNotCall(context.Background(), "", []string{"010 1234 5678"}, "t"); err != nil {
					t.Fatal(err)
				}
			},
			callee: calleeBJ, refused: ErrDoNotCall,
			want: []want{{certBJ, StatusEligible, "", ""}}},
		{name: "refused: the callee had the day's calls",
			plan:   func(p *TenantPlan) { p.Caps.CalleePerDay = 1 },
			before: func(t *testing.T, r *Outbound) { route(t, r, calleeBJ).Lease.Release(OutcomeAnswered) },
			callee: calleeBJ, refused: ErrCalleeCapped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := acmePlan()
			if tc.plan != nil {
				tc.plan(&p)
			}
			r, _, clock := newTestRouter(t, p)
			if tc.before != nil {
				tc.before(t, r)
			}
			clock.Add(time.Second)
			ex, err := r.Explain(ctx, "acme", tc.callee)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Chosen != tc.chosen || !errors.Is(ex.Refused, tc.refused) || (tc.refused == nil) != (ex.Refused == nil) {
				t.Fatalf("chosen %q refused %v; want %q, %v", ex.Chosen, ex.Refused, tc.chosen, tc.refused)
			}
			if len(ex.Candidates) != len(p.Numbers) {
				t.Errorf("%d candidates for %d numbers", len(ex.Candidates), len(p.Numbers))
			}
			for _, w := range tc.want {
				i := slices.IndexFunc(ex.Candidates, func(v Verdict) bool { return v.Number == w.number })
				if i < 0 {
					t.Errorf("%s is not a candidate", w.number)
					continue
				}
				v := ex.Candidates[i]
				if v.Status != w.status || v.Reason != w.reason || !strings.Contains(v.Detail, w.detail) || len(v.Trunks) == 0 {
					t.Errorf("%s: %+v; want %s %s …%s…", w.number, v, w.status, w.reason, w.detail)
				}
			}
			// Explaining reserved nothing: a second explanation says the same, and
			// the call made now gets the number it named.
			again, _ := r.Explain(ctx, "acme", tc.callee)
			if again.Chosen != ex.Chosen || again.CalleeCallsToday != ex.CalleeCallsToday {
				t.Errorf("second explanation %q/%d, first %q/%d", again.Chosen, again.CalleeCallsToday, ex.Chosen, ex.CalleeCallsToday)
			}
			d, err := r.Route(ctx, OutboundCall{Tenant: "acme", To: tc.callee})
			switch {
			case tc.refused != nil && !errors.Is(err, tc.refused):
				t.Errorf("call after explain: %v, want %v", err, tc.refused)
			case tc.refused == nil && (err != nil || d.From != ex.Chosen):
				t.Errorf("call after explain: %s, %v; want %s", d.From, err, ex.Chosen)
			}
		})
	}
}

func TestExplainRefusesBadInput(t *testing.T) {
	r, _, _ := newTestRouter(t, acmePlan())
	if _, err := r.Explain(context.Background(), "nobody", calleeSZ); !errors.Is(err, ErrUnknownTenant) {
		t.Errorf("unknown tenant: %v", err)
	}
	var ne *NumberError
	if _, err := r.Explain(context.Background(), "acme", "138\r\nVia: x"); !errors.As(err, &ne) {
		t.Errorf("bad callee: %v", err)
	}
}
