package routing

import (
	"fmt"
	"time"

	"callgate/pool"

	"github.com/nyaruka/phonenumbers"
)

// This file holds what the outbound router is told about each tenant: its caller
// numbers, its strategy, caps, lease and health rules, and the checks on them.

// Kinds of caller numbers, as pool stores them.
const (
	KindFixed     = pool.KindFixed
	KindCertified = pool.KindCertified
	KindMobile    = pool.KindMobile
)

// Match says which numbers of a kind a strategy step allows for a callee.
type Match string

// The matches.
const (
	// MatchCity allows numbers local to the callee's city: a certified number
	// certified for it, a mobile or fixed number whose home it is.
	MatchCity Match = "city"
	// MatchProvince allows numbers local to the callee's province.
	MatchProvince Match = "province"
	// MatchAny allows every number of the kind (not for certified numbers).
	MatchAny Match = "any"
)

// Step is one rule of a tenant's strategy: numbers of Kind that Match the callee.
type Step struct {
	Kind  pool.NumberKind
	Match Match
}

// String returns "kind/match".
func (s Step) String() string { return string(s.Kind) + "/" + string(s.Match) }

// TenantPlan is how a tenant's agents' calls get their caller numbers.
type TenantPlan struct {
	Tenant string
	// Location is the tenant's time zone: caps count calendar days in it (nil: UTC).
	Location *time.Location
	// Region reads national numbers ("0755…", "138…"); "" means DefaultRegion.
	Region string
	// Strategy lists the steps in order: the first step with a free number wins;
	// within a step, the least recently used number first. The order of the kinds'
	// first steps is also the escalation order.
	Strategy []Step
	// Caps are the frequency caps (0 or less: none).
	Caps pool.Caps
	// Lease is how long a reservation holds a number without renewal.
	Lease time.Duration
	// EscalateWithin is how long after an unanswered call the callee's next call
	// starts from the next kind; 0 or less turns escalation off.
	EscalateWithin time.Duration
	// Health rests numbers whose answer rate collapses.
	Health pool.HealthRule
	// Numbers are the tenant's caller numbers. Cities and Provinces say where a
	// number is local; Kind, Trunks and the limits come from the pool.
	Numbers []pool.CallerNumber
}

// check reports what is wrong with p.
func (p *TenantPlan) check() error {
	if p.Tenant == "" {
		return fmt.Errorf("%w: a plan without tenant", ErrPlan)
	}
	if len(p.Strategy) == 0 {
		return fmt.Errorf("%w: tenant %s: empty strategy", ErrPlan, p.Tenant)
	}
	seen := map[Step]bool{}
	for i, s := range p.Strategy {
		switch {
		case !s.Kind.Valid():
			return fmt.Errorf("%w: tenant %s: step %d: unknown kind %q", ErrPlan, p.Tenant, i, s.Kind)
		case s.Match != MatchCity && s.Match != MatchProvince && s.Match != MatchAny:
			return fmt.Errorf("%w: tenant %s: step %d: unknown match %q", ErrPlan, p.Tenant, i, s.Match)
		case s.Kind == KindCertified && s.Match == MatchAny:
			return fmt.Errorf("%w: tenant %s: step %d: certified numbers are usable only in their cities", ErrPlan, p.Tenant, i)
		case seen[s]:
			return fmt.Errorf("%w: tenant %s: step %d: %s is listed twice", ErrPlan, p.Tenant, i, s)
		}
		seen[s] = true
	}
	if p.Region != "" && !phonenumbers.GetSupportedRegions()[p.Region] {
		return fmt.Errorf("%w: tenant %s: unknown region %q", ErrPlan, p.Tenant, p.Region)
	}
	if p.Lease <= 0 {
		return fmt.Errorf("%w: tenant %s: lease %v", ErrPlan, p.Tenant, p.Lease)
	}
	for _, n := range p.Numbers {
		switch {
		case n.Tenant != p.Tenant:
			return fmt.Errorf("%w: tenant %s: number %s belongs to tenant %q", ErrPlan, p.Tenant, n.Number, n.Tenant)
		case !n.Kind.Valid():
			return fmt.Errorf("%w: tenant %s: number %s: unknown kind %q", ErrPlan, p.Tenant, n.Number, n.Kind)
		case len(n.Trunks) == 0:
			return fmt.Errorf("%w: tenant %s: number %s has no trunk", ErrPlan, p.Tenant, n.Number)
		}
		if _, err := NormalizeE164(n.Number); err != nil || n.Number[0] != '+' {
			return fmt.Errorf("%w: tenant %s: number %q is not E.164", ErrPlan, p.Tenant, n.Number)
		}
	}
	return nil
}

// kinds returns the kinds in the order of their first steps: the escalation order.
func (p *TenantPlan) kinds() []pool.NumberKind {
	var out []pool.NumberKind
	for _, s := range p.Strategy {
		if !containsKind(out, s.Kind) {
			out = append(out, s.Kind)
		}
	}
	return out
}

func containsKind(ks []pool.NumberKind, k pool.NumberKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// escalated returns the strategy for a callee whose last call, from a number of
// kind last, went unanswered: the kinds after last come first, in the tenant's
// order, and last comes last; steps keep their order within a kind.
func escalated(strategy []Step, kinds []pool.NumberKind, last pool.NumberKind) []Step {
	at := -1
	for i, k := range kinds {
		if k == last {
			at = i
		}
	}
	if at < 0 {
		return strategy
	}
	order := append(append([]pool.NumberKind{}, kinds[at+1:]...), kinds[:at+1]...)
	out := make([]Step, 0, len(strategy))
	for _, k := range order {
		for _, s := range strategy {
			if s.Kind == k {
				out = append(out, s)
			}
		}
	}
	return out
}

// DayKey is t's calendar day in loc as yyyymmdd, the key of daily counters.
func DayKey(t time.Time, loc *time.Location) int {
	y, m, d := t.In(loc).Date()
	return y*10000 + int(m)*100 + d
}

// dayEnd is the start of the day after t's in loc.
func dayEnd(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}
