package routing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"callgate/pool"
)

// This file answers "which caller number would a call to this callee get now, and
// why not the others?" without reserving anything: the business API's explain call.

// Statuses of a candidate in an Explanation.
const (
	StatusChosen   = "chosen"   // the number a call now would get
	StatusEligible = "eligible" // free, but later in the order than the chosen one
	StatusSkipped  = "skipped"  // see Reason
)

// Verdict is what selection makes of one caller number for a callee.
type Verdict struct {
	Number string
	Kind   pool.NumberKind
	Pool   string
	// Step is the first strategy step that allows the number for this callee; ""
	// with Reason no_rule.
	Step     string
	Status   string
	Reason   SkipReason
	Until    time.Time // when Reason ends, if known
	Detail   string
	LastUsed time.Time
}

// Explanation is the whole selection for one callee at one moment.
type Explanation struct {
	Tenant string
	Callee Callee
	At     time.Time
	// Strategy is the order applied, after escalation.
	Strategy      []string
	EscalatedFrom pool.NumberKind
	// CalleeCallsToday counts the callee's calls today, against CalleeCap (0: none).
	CalleeCallsToday int
	CalleeCap        int
	// Refused is set when a call now would be refused whatever the numbers: the
	// callee is on a do-not-call list or at its daily cap (a *RefusedError).
	Refused error
	// Chosen is the number a call now would get; "" if none.
	Chosen string
	// Candidates has every number of the tenant: the ones some step allows, in the
	// order selection tries them, then the others.
	Candidates []Verdict
}

// Explain says which caller number a call from tenant to callee would get now and
// why every other number would not, without reserving or counting anything. It
// holds the tenant's lock for a pass over all its numbers.
func (r *Outbound) Explain(_ context.Context, tenant, callee string) (Explanation, error) {
	if r.closed.Load() {
		return Explanation{}, ErrClosed
	}
	t := r.tenants[tenant]
	if t == nil {
		return Explanation{}, fmt.Errorf("%w: %q", ErrUnknownTenant, tenant)
	}
	cal, err := r.analyzer.Analyze(callee, t.plan.Region)
	if err != nil {
		return Explanation{}, err
	}
	key, _ := e164Key(cal.E164)
	now := r.now()
	ex := Explanation{Tenant: tenant, Callee: cal, At: now, CalleeCap: max(t.plan.Caps.CalleePerDay, 0)}
	if list, ok := r.dnc.listed(t.id, key); ok {
		ex.Refused = &RefusedError{Tenant: tenant, Callee: cal.E164, Reason: ErrDoNotCall, Detail: list}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.explain(&ex, key, now)
	return ex, nil
}

// explain fills ex for callee key at now.
func (t *tenantIndex) explain(ex *Explanation, key uint64, now time.Time) {
	nowMS := now.UnixMilli()
	t.roll(now)
	t.wakeDue(nowMS)
	cal := &ex.Callee
	cd := t.callees[key]
	if cd != nil {
		ex.CalleeCallsToday = cd.total
	}
	if ex.CalleeCap > 0 && ex.CalleeCallsToday >= ex.CalleeCap && ex.Refused == nil {
		ex.Refused = &RefusedError{Tenant: t.plan.Tenant, Callee: cal.E164, Reason: ErrCalleeCapped,
			Detail: fmt.Sprintf("%d of %d calls today", ex.CalleeCallsToday, ex.CalleeCap)}
	}
	steps, from := t.strategyFor(key, nowMS)
	ex.EscalatedFrom = from
	for _, s := range steps {
		ex.Strategy = append(ex.Strategy, s.String())
	}
	type ranked struct {
		v    Verdict
		step int
		c    *callerState
	}
	var allowed []ranked
	var others []Verdict
	for _, c := range t.nums {
		v := Verdict{Number: c.n.Number, Kind: c.n.Kind, Pool: c.n.Pool}
		if c.lastUsed > 0 {
			v.LastUsed = time.UnixMilli(c.lastUsed).UTC()
		}
		step := slices.IndexFunc(steps, func(s Step) bool { return allows(s, c, cal) })
		if step < 0 {
			v.Status, v.Reason, v.Detail = StatusSkipped, SkipNoRule, noRuleDetail(c, steps, cal)
			others = append(others, v)
			continue
		}
		v.Step = steps[step].String()
		allowed = append(allowed, ranked{v: v, step: step, c: c})
	}
	slices.SortStableFunc(allowed, func(a, b ranked) int {
		if a.step != b.step {
			return a.step - b.step
		}
		if a.c.lastUsed != b.c.lastUsed {
			if a.c.lastUsed < b.c.lastUsed {
				return -1
			}
			return 1
		}
		return a.c.idx - b.c.idx
	})
	for _, a := range allowed {
		v := a.v
		why, until, detail := t.blocked(a.c, nowMS)
		if why == "" {
			why, detail = t.pairBlocked(a.c, cd)
			until = t.dayEnds.UnixMilli()
		}
		switch {
		case why != "":
			v.Status, v.Reason, v.Detail = StatusSkipped, why, detail
			if until > 0 {
				v.Until = time.UnixMilli(until).UTC()
			}
		case ex.Chosen == "" && ex.Refused == nil:
			v.Status, ex.Chosen = StatusChosen, v.Number
		default:
			v.Status = StatusEligible
		}
		ex.Candidates = append(ex.Candidates, v)
	}
	ex.Candidates = append(ex.Candidates, others...)
}

// noRuleDetail says why no step allows number c for callee.
func noRuleDetail(c *callerState, steps []Step, cal *Callee) string {
	kinds := false
	for _, s := range steps {
		kinds = kinds || s.Kind == c.n.Kind
	}
	if !kinds {
		return fmt.Sprintf("the strategy uses no %s numbers", c.n.Kind)
	}
	where := cal.City
	if where == "" {
		where = "an unknown city"
	} else if cal.Province != "" && cal.Province != cal.City {
		where += ", " + cal.Province
	}
	local := strings.Join(append(append([]string{}, c.n.Cities...), c.n.Provinces...), ", ")
	if local == "" {
		local = "no place"
	}
	return fmt.Sprintf("local to %s; callee in %s", local, where)
}
