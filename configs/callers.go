package configs

import (
	"cmp"
	"fmt"
	"math"
	"strings"
)

// This file holds caller-number selection for agents' outbound calls: each tenant's
// callers section (strategy, frequency caps, lease, escalation, number health) and
// the keys of fixed, certified and mobile pools that say where their numbers count as
// local and how often each may call.

// Callers is how a tenant's agents' calls get their caller numbers. Zero values take
// the defaults of defaults.go.
type Callers struct {
	// Strategy lists the steps tried in order: numbers of a type that match the
	// callee. The order of the types' first steps is also the escalation order: a
	// callee who did not answer a call from one type is next called from the next.
	// Default: certified/city, mobile/city, mobile/province, fixed/any.
	Strategy []CallerStep `yaml:"strategy"`
	// Caps are the frequency caps, counted at each call attempt.
	Caps CallerCaps `yaml:"caps"`
	// Lease is how long a number stays locked for a call if callgate stops renewing
	// the lock (it died); default 2m; at least 3s.
	Lease Duration `yaml:"lease"`
	// EscalateWithin is how long an unanswered call changes the order for the
	// callee's next call; default 72h; negative: no escalation.
	EscalateWithin Duration `yaml:"escalate_within"`
	// Health rests numbers whose answer rate collapses.
	Health CallerHealth `yaml:"health"`
}

// CallerStep is one step of a strategy.
type CallerStep struct {
	// Type is fixed, certified or mobile.
	Type string `yaml:"type"`
	// Match is city (numbers local to the callee's city), province, or any (every
	// number of the type). Default: city for certified (which only allows city or
	// province), any for the others.
	Match string `yaml:"match"`
}

// CallerCaps are a tenant's frequency caps; windows are calendar days in the tenant's
// time zone and the sliding hour. Negative: no cap.
type CallerCaps struct {
	PairPerDay    int `yaml:"pair_per_day"`    // one caller number to one callee; default 2
	CalleePerDay  int `yaml:"callee_per_day"`  // one callee, from all numbers; default 3
	CallerPerDay  int `yaml:"caller_per_day"`  // one caller number; default 300
	CallerPerHour int `yaml:"caller_per_hour"` // one caller number; default 60
}

// CallerHealth says when a number's answer rate has collapsed (it is likely labelled
// as spam) and how long it then rests.
type CallerHealth struct {
	// MinAttempts is how many placed calls in Window it takes to judge; default
	// 30; negative: no health checks.
	MinAttempts int `yaml:"min_attempts"`
	// AnswerRateFloor is the lowest acceptable share of answered calls, above 0 and
	// at most 1; default 0.1.
	AnswerRateFloor float64 `yaml:"answer_rate_floor"`
	// Window is how far back calls count; default 24h.
	Window Duration `yaml:"window"`
	// Rest is how long a collapsed number is not used; default 24h.
	Rest Duration `yaml:"rest"`
}

// NumberOverride changes the settings of one number of a pool.
type NumberOverride struct {
	// Number is one of the pool's numbers.
	Number string `yaml:"number"`
	// Cities replaces the pool's cities (certified pools).
	Cities []string `yaml:"cities"`
	// City and Province replace the pool's (mobile and fixed pools).
	City     string `yaml:"city"`
	Province string `yaml:"province"`
	// CallsPerDay and CallsPerHour replace the pool's (0: the pool's).
	CallsPerDay  int `yaml:"calls_per_day"`
	CallsPerHour int `yaml:"calls_per_hour"`
}

// The number types that carry agents' calls, and how steps match callees.
const (
	poolFixed     = "fixed"
	poolCertified = "certified"
	poolMobile    = "mobile"

	matchCity     = "city"
	matchProvince = "province"
	matchAny      = "any"
)

// CallerPool reports whether pool p holds caller numbers for agents' outbound calls:
// a fixed, certified or mobile pool that belongs to a tenant. (A caller pool without
// tenant is not used for outbound calls: a caller number is locked and capped within
// one tenant.)
func (p Pool) CallerPool() bool {
	return p.Tenant != "" && (p.Type == poolFixed || p.Type == poolCertified || p.Type == poolMobile)
}

// callerDefaults fills the zero settings of t's callers section.
func callerDefaults(t *Tenant) {
	t.DefaultRegion = strings.ToUpper(cmp.Or(strings.TrimSpace(t.DefaultRegion), defaultRegion))
	c := &t.Callers
	if len(c.Strategy) == 0 {
		c.Strategy = defaultStrategy()
	}
	for i := range c.Strategy {
		s := &c.Strategy[i]
		s.Type = strings.ToLower(strings.TrimSpace(s.Type))
		s.Match = strings.ToLower(strings.TrimSpace(s.Match))
		if s.Match == "" {
			s.Match = matchAny
			if s.Type == poolCertified {
				s.Match = matchCity
			}
		}
	}
	c.Caps.PairPerDay = cmp.Or(c.Caps.PairPerDay, defaultPairPerDay)
	c.Caps.CalleePerDay = cmp.Or(c.Caps.CalleePerDay, defaultCalleePerDay)
	c.Caps.CallerPerDay = cmp.Or(c.Caps.CallerPerDay, defaultCallerPerDay)
	c.Caps.CallerPerHour = cmp.Or(c.Caps.CallerPerHour, defaultCallerPerHour)
	c.Lease = cmp.Or(c.Lease, Duration(defaultCallerLease))
	c.EscalateWithin = cmp.Or(c.EscalateWithin, Duration(defaultEscalateWithin))
	h := &c.Health
	h.MinAttempts = cmp.Or(h.MinAttempts, defaultHealthMinAttempts)
	h.AnswerRateFloor = cmp.Or(h.AnswerRateFloor, defaultHealthAnswerFloor)
	h.Window = cmp.Or(h.Window, Duration(defaultHealthWindow))
	h.Rest = cmp.Or(h.Rest, Duration(defaultHealthRest))
}

// callers checks every tenant's callers section and the caller keys of every pool.
func (v *validation) callers() {
	for i := range v.cfg.Tenants {
		t, o := &v.cfg.Tenants[i], v.src.tenants[i]
		v.tenantCallers(itemPlace(o, "tenant", t.Name, "tenants"), t)
	}
	for i := range v.cfg.Pools {
		p, o := &v.cfg.Pools[i], v.src.pools[i]
		v.callerPool(itemPlace(o, "pool", p.Name, "pools"), p)
	}
}

// tenantCallers checks one tenant's default region and callers section.
func (v *validation) tenantCallers(pl place, t *Tenant) {
	if r := t.DefaultRegion; len(r) != 2 || r[0] < 'A' || r[0] > 'Z' || r[1] < 'A' || r[1] > 'Z' {
		v.bad(pl, at("default_region"), "unknown region %q: want a two-letter ISO 3166 code such as CN", r)
	}
	c := &t.Callers
	seen := map[CallerStep]int{}
	for i, s := range c.Strategy {
		path := at("callers", "strategy", i)
		switch s.Type {
		case poolFixed, poolCertified, poolMobile:
		default:
			v.bad(pl, append(path, "type"), "unknown type %q: want fixed, certified or mobile", s.Type)
			continue
		}
		switch s.Match {
		case matchCity, matchProvince:
		case matchAny:
			if s.Type == poolCertified {
				v.bad(pl, append(path, "match"), "certified numbers are usable only in their cities: want match city or province")
				continue
			}
		default:
			v.bad(pl, append(path, "match"), "unknown match %q: want city, province or any", s.Match)
			continue
		}
		if first, dup := seen[s]; dup {
			v.bad(pl, path, "step %s/%s is listed twice (first as step %d)", s.Type, s.Match, first)
			continue
		}
		seen[s] = i
	}
	if c.Lease.Std() < minCallerLease {
		v.bad(pl, at("callers", "lease"), "must be at least %s, got %s", Duration(minCallerLease), c.Lease)
	}
	h := &c.Health
	if h.MinAttempts > 0 {
		if f := h.AnswerRateFloor; math.IsNaN(f) || f <= 0 || f > 1 {
			v.bad(pl, at("callers", "health", "answer_rate_floor"), "must be above 0 and at most 1, got %v", f)
		}
		if h.Window < Duration(minHealthWindow) {
			v.bad(pl, at("callers", "health", "window"), "must be at least %s, got %s", Duration(minHealthWindow), h.Window)
		}
		if h.Rest <= 0 {
			v.bad(pl, at("callers", "health", "rest"), "must be positive, got %s (turn health checks off with a negative min_attempts)", h.Rest)
		}
	}
}

// callerPool checks the caller-number keys of pool p: cities for certified pools,
// city and province for mobile and fixed ones, and the overrides.
func (v *validation) callerPool(pl place, p *Pool) {
	caller := p.Type == poolFixed || p.Type == poolCertified || p.Type == poolMobile
	if !caller {
		for _, k := range []struct {
			key string
			set bool
		}{{"cities", len(p.Cities) > 0}, {"city", p.City != ""}, {"province", p.Province != ""},
			{"calls_per_day", p.CallsPerDay != 0}, {"calls_per_hour", p.CallsPerHour != 0}, {"overrides", len(p.Overrides) > 0}} {
			if k.set {
				v.bad(pl, at(k.key), "only fixed, certified and mobile pools hold caller numbers: %s does not apply to a %s pool", k.key, cmp.Or(p.Type, "typeless"))
			}
		}
		return
	}
	v.places(pl, nil, p.Type, p.Cities, p.City, p.Province)
	inPool := map[string]bool{}
	for _, n := range p.Numbers {
		inPool[n] = true
	}
	overridden := map[string]bool{}
	certifiedEverywhere := len(p.Cities) > 0
	for i, o := range p.Overrides {
		path := at("overrides", i)
		switch {
		case !isE164(o.Number):
			v.bad(pl, append(path, "number"), "%q is not an E.164 number: want + and 8 to 15 digits", o.Number)
		case !inPool[o.Number]:
			v.bad(pl, append(path, "number"), "%s is not one of the pool's numbers", o.Number)
		case overridden[o.Number]:
			v.bad(pl, append(path, "number"), "%s has two overrides", o.Number)
		}
		overridden[o.Number] = true
		v.places(pl, path, p.Type, o.Cities, o.City, o.Province)
	}
	if p.Type == poolCertified && !certifiedEverywhere {
		for j, n := range p.Numbers {
			if !v.overrideHasCities(p, n) {
				v.bad(pl, at("numbers", j), "certified number %s has no cities: set cities for the pool or in an override", n)
			}
		}
	}
	if p.Tenant == "" && len(p.Overrides)+len(p.Cities) > 0 {
		v.bad(pl, at("tenant"), "a %s pool serves agents' calls only with a tenant: set tenant", p.Type)
	}
}

func (v *validation) overrideHasCities(p *Pool, n string) bool {
	for _, o := range p.Overrides {
		if o.Number == n && len(o.Cities) > 0 {
			return true
		}
	}
	return false
}

// places checks the place keys of a pool or of one override (base: its path) for
// numbers of type typ.
func (v *validation) places(pl place, base []any, typ string, cities []string, city, province string) {
	key := func(k string, rest ...any) []any { return append(append(append([]any{}, base...), k), rest...) }
	if typ == poolCertified {
		if city != "" {
			v.bad(pl, key("city"), "a certified number is local to the cities it is certified for: use cities")
		}
		if province != "" {
			v.bad(pl, key("province"), "a certified number is local to the cities it is certified for: use cities")
		}
	} else if len(cities) > 0 {
		v.bad(pl, key("cities"), "only certified numbers have a list of cities: use city (and province) for %s numbers", typ)
	}
	listed := map[string]bool{}
	for i, c := range cities {
		switch k := strings.ToLower(strings.TrimSpace(c)); {
		case k == "":
			v.bad(pl, key("cities", i), "empty city name")
		case listed[k]:
			v.bad(pl, key("cities", i), "city %q is listed twice", c)
		default:
			listed[k] = true
		}
	}
	for _, f := range []struct{ key, val string }{{"city", city}, {"province", province}} {
		if f.val != "" && strings.TrimSpace(f.val) == "" {
			v.bad(pl, key(f.key), "empty %s name", f.key)
		}
	}
}

// callerSummary writes the caller-number lines of Summary.
func callerSummary(b *strings.Builder, c *Config) {
	perTenant := map[string]int{}
	for _, p := range c.Pools {
		if p.CallerPool() {
			perTenant[p.Tenant] += len(p.Numbers)
		}
	}
	for _, t := range c.Tenants {
		cl := t.Callers
		steps := make([]string, len(cl.Strategy))
		for i, s := range cl.Strategy {
			steps[i] = s.Type + "/" + s.Match
		}
		k := cl.Caps
		fmt.Fprintf(b, "callers %s: %d numbers, region %s, strategy %s, caps pair %s callee %s caller %s/day %s/hour, lease %s\n",
			t.Name, perTenant[t.Name], t.DefaultRegion, strings.Join(steps, " > "), capText(k.PairPerDay), capText(k.CalleePerDay),
			capText(k.CallerPerDay), capText(k.CallerPerHour), cl.Lease)
	}
}

func capText(n int) string {
	if n < 0 {
		return "off"
	}
	return fmt.Sprint(n)
}
