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
	// Trunks carry calls from the number, in order (shared with the router: read only).
	Trunks []string
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
// why every other number would not, without reserving or counting anything. It holds
// the tenant's lock only to copy each number's state; the rest of the work (a sort of
// all the tenant's numbers) runs outside it.
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
	st := t.snapshot(key, now)
	t.mu.Unlock()
	st.explain(&ex)
	return ex, nil
}

// numberSnap is one number's state as Explain needs it.
type numberSnap struct {
	c        *callerState // for its config, which never changes
	lastUsed int64
	why      SkipReason // why it cannot carry any call now, or ""
	until    int64
	detail   string
	pairs    int // calls to this callee today
}

// explainSnap is a tenant's state for one callee at one moment.
type explainSnap struct {
	steps   []Step
	from    pool.NumberKind
	calls   int // to the callee today
	pairCap int
	dayEnds int64
	nums    []numberSnap
	tenant  string
}

// snapshot copies what explaining a call to callee key at now needs.
func (t *tenantIndex) snapshot(key uint64, now time.Time) explainSnap {
	nowMS := now.UnixMilli()
	t.roll(now)
	t.wakeDue(nowMS)
	st := explainSnap{tenant: t.plan.Tenant, pairCap: t.plan.Caps.PairPerDay, dayEnds: t.dayEnds.UnixMilli(),
		nums: make([]numberSnap, len(t.nums))}
	st.steps, st.from = t.strategyFor(key, nowMS)
	var pairs map[*callerState]int
	if cd := t.callees[key]; cd != nil {
		st.calls = cd.total
		pairs = make(map[*callerState]int, len(cd.pairs))
		for _, p := range cd.pairs {
			pairs[p.c] = p.n
		}
	}
	for i, c := range t.nums {
		why, until, detail := t.blocked(c, nowMS)
		st.nums[i] = numberSnap{c: c, lastUsed: c.lastUsed, why: why, until: until, detail: detail, pairs: pairs[c]}
	}
	return st
}

// explain fills ex from the snapshot.
func (st *explainSnap) explain(ex *Explanation) {
	cal := &ex.Callee
	ex.CalleeCallsToday, ex.EscalatedFrom = st.calls, st.from
	if ex.CalleeCap > 0 && st.calls >= ex.CalleeCap && ex.Refused == nil {
		ex.Refused = &RefusedError{Tenant: st.tenant, Callee: cal.E164, Reason: ErrCalleeCapped,
			Detail: fmt.Sprintf("%d of %d calls today", st.calls, ex.CalleeCap)}
	}
	for _, s := range st.steps {
		ex.Strategy = append(ex.Strategy, s.String())
	}
	type ranked struct {
		n    *numberSnap
		step int
	}
	allowed := make([]ranked, 0, len(st.nums))
	var others []Verdict
	for i := range st.nums {
		n := &st.nums[i]
		step := slices.IndexFunc(st.steps, func(s Step) bool { return allows(s, n.c, cal) })
		if step < 0 {
			v := verdictOf(n)
			v.Status, v.Reason, v.Detail = StatusSkipped, SkipNoRule, noRuleDetail(n.c, st.steps, cal)
			others = append(others, v)
			continue
		}
		allowed = append(allowed, ranked{n: n, step: step})
	}
	slices.SortFunc(allowed, func(a, b ranked) int {
		switch {
		case a.step != b.step:
			return a.step - b.step
		case a.n.lastUsed < b.n.lastUsed:
			return -1
		case a.n.lastUsed > b.n.lastUsed:
			return 1
		}
		return a.n.c.idx - b.n.c.idx
	})
	ex.Candidates = make([]Verdict, 0, len(st.nums))
	for _, a := range allowed {
		n := a.n
		v := verdictOf(n)
		v.Step = st.steps[a.step].String()
		why, until, detail := n.why, n.until, n.detail
		if why == "" && st.pairCap > 0 && n.pairs >= st.pairCap {
			why, until = SkipPairCap, st.dayEnds
			detail = fmt.Sprintf("%d of %d calls to this callee today", n.pairs, st.pairCap)
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

func verdictOf(n *numberSnap) Verdict {
	v := Verdict{Number: n.c.n.Number, Kind: n.c.n.Kind, Pool: n.c.n.Pool, Trunks: n.c.n.Trunks}
	if n.lastUsed > 0 {
		v.LastUsed = time.UnixMilli(n.lastUsed).UTC()
	}
	return v
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
