package routing

import (
	"context"
	"fmt"
	"time"

	"callgate/configs"
	"callgate/pool"
)

// PlansFromConfig turns a loaded config into the tenants' plans: every tenant gets
// one (a tenant without caller pools has no numbers, and its do-not-call list still
// works); every number of its fixed, certified and mobile pools becomes a caller
// number with the pool's trunks, supplier and limits and its override's. A certified
// number is local to its cities; a mobile or fixed number to the pool's (or its
// override's) city and province, else to its own home as its prefix tells. a
// geocodes the homes (nil: a new Analyzer).
func PlansFromConfig(cfg *configs.Config, a *Analyzer) ([]TenantPlan, error) {
	if a == nil {
		a = NewAnalyzer()
	}
	plans := make([]TenantPlan, 0, len(cfg.Tenants))
	index := map[string]int{}
	for _, t := range cfg.Tenants {
		loc, err := time.LoadLocation(t.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("%w: tenant %s: time zone: %v", ErrPlan, t.Name, err)
		}
		c := t.Callers
		p := TenantPlan{
			Tenant:   t.Name,
			Location: loc,
			Region:   t.DefaultRegion,
			Caps: pool.Caps{PairPerDay: c.Caps.PairPerDay, CalleePerDay: c.Caps.CalleePerDay,
				CallerPerDay: c.Caps.CallerPerDay, CallerPerHour: c.Caps.CallerPerHour},
			Lease:          c.Lease.Std(),
			EscalateWithin: c.EscalateWithin.Std(),
			Health: pool.HealthRule{MinAttempts: c.Health.MinAttempts, AnswerRateFloor: c.Health.AnswerRateFloor,
				Window: c.Health.Window.Std(), Rest: c.Health.Rest.Std()},
		}
		for _, s := range c.Strategy {
			p.Strategy = append(p.Strategy, Step{Kind: pool.NumberKind(s.Type), Match: Match(s.Match)})
		}
		index[t.Name] = len(plans)
		plans = append(plans, p)
	}
	for _, cp := range cfg.Pools {
		if !cp.CallerPool() {
			continue
		}
		i, ok := index[cp.Tenant]
		if !ok {
			return nil, fmt.Errorf("%w: pool %s: unknown tenant %q", ErrPlan, cp.Name, cp.Tenant)
		}
		overrides := map[string]configs.NumberOverride{}
		for _, o := range cp.Overrides {
			overrides[o.Number] = o
		}
		for _, num := range cp.Numbers {
			o := overrides[num]
			n := pool.CallerNumber{Number: num, Tenant: cp.Tenant, Kind: pool.NumberKind(cp.Type), Pool: cp.Name,
				Supplier: cp.Supplier, Trunks: cp.Trunks, PerDay: cp.CallsPerDay, PerHour: cp.CallsPerHour}
			if o.CallsPerDay != 0 {
				n.PerDay = o.CallsPerDay
			}
			if o.CallsPerHour != 0 {
				n.PerHour = o.CallsPerHour
			}
			if n.Kind == KindCertified {
				n.Cities = cp.Cities
				if len(o.Cities) > 0 {
					n.Cities = o.Cities
				}
			} else {
				city, province := cp.City, cp.Province
				if o.City != "" || o.Province != "" {
					city, province = o.City, o.Province
				}
				if city == "" && province == "" {
					home := a.Locate(num)
					n.Cities = nonEmpty(home.City, home.CityZH)
					n.Provinces = nonEmpty(home.Province, home.ProvinceZH)
				} else {
					n.Cities, n.Provinces = nonEmpty(city), nonEmpty(province)
					if province == "" && city != "" {
						// The province of a city written in config is the home
						// province if the home city is that city.
						if home := a.Locate(num); intersects(placeKeys(city), Place{City: home.City, CityZH: home.CityZH}.CityKeys()) {
							n.Provinces = nonEmpty(home.Province, home.ProvinceZH)
						}
					}
				}
			}
			plans[i].Numbers = append(plans[i].Numbers, n)
		}
	}
	return plans, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func placeKeys(name string) []string { return appendKey(nil, name) }

// NewOutboundFromConfig builds the outbound router of a loaded config over store:
// the plans of PlansFromConfig, and leases renewed for at most the longest call
// (sip.ring_timeout plus sip.max_call_duration, when that is on).
func NewOutboundFromConfig(ctx context.Context, cfg *configs.Config, store CallerStore, opts ...RouterOption) (*Outbound, error) {
	a := NewAnalyzer()
	plans, err := PlansFromConfig(cfg, a)
	if err != nil {
		return nil, err
	}
	base := []RouterOption{WithAnalyzer(a)}
	if d := cfg.SIP.MaxCallDuration.Std(); d > 0 {
		base = append(base, WithMaxHold(d+cfg.SIP.RingTimeout.Std()+time.Minute))
	}
	return NewOutboundRouter(ctx, store, plans, append(base, opts...)...)
}
