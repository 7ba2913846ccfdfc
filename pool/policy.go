package pool

import (
	"fmt"
	"slices"
	"strings"
)

// Wildcard in a PolicyRule field matches any value, including none.
const Wildcard = "*"

// PolicyRule maps (tenant, city, channel) to the virtual pools bindings are
// allocated from, in order of preference. A field set to Wildcard matches anything;
// city and channel compare without regard to case.
type PolicyRule struct {
	Tenant, City, Channel string
	Pools                 []string
}

// PoolInfo names a virtual pool and the tenant it belongs to ("" when shared).
type PoolInfo struct {
	Name, Tenant string
}

// Policy picks the virtual pools for a binding from its tenant, city and channel. It
// is immutable and safe for concurrent use.
type Policy struct {
	pools    []PoolInfo        // every virtual pool, in config order
	owner    map[string]string // pool → tenant ("" shared)
	rules    []PolicyRule
	defaults []string
}

// NewPolicy returns the policy of rules over the virtual pools pools. defaults are
// the pools used when no rule matches; when defaults is empty too, a tenant uses
// its own pools, then the shared ones, in the order of pools. Every pool a rule or
// defaults names must be in pools.
func NewPolicy(pools []PoolInfo, rules []PolicyRule, defaults []string) (*Policy, error) {
	p := &Policy{pools: slices.Clone(pools), owner: make(map[string]string, len(pools)),
		defaults: slices.Clone(defaults)}
	for _, pi := range pools {
		if _, dup := p.owner[pi.Name]; dup {
			return nil, fmt.Errorf("pool: policy: %w: pool %q listed twice", ErrInvalid, pi.Name)
		}
		p.owner[pi.Name] = pi.Tenant
	}
	check := func(names []string, where string) error {
		for _, n := range names {
			if _, ok := p.owner[n]; !ok {
				return fmt.Errorf("pool: policy: %w: %s names unknown virtual pool %q", ErrInvalid, where, n)
			}
		}
		return nil
	}
	if err := check(defaults, "defaults"); err != nil {
		return nil, err
	}
	for i, r := range rules {
		if err := check(r.Pools, fmt.Sprintf("rule %d", i)); err != nil {
			return nil, err
		}
		r.Pools = slices.Clone(r.Pools)
		p.rules = append(p.rules, r)
	}
	return p, nil
}

// Resolve returns the pools a binding of tenant in city over channel is allocated
// from, in order: those of the most specific matching rule (an exact tenant counts
// more than an exact city, which counts more than an exact channel; among equals the
// first rule wins), else the defaults. Pools the tenant may not use (another
// tenant's) are left out. The result is the caller's to keep.
func (p *Policy) Resolve(tenant, city, channel string) []string {
	if p == nil {
		return nil
	}
	best, bestScore := -1, -1
	for i, r := range p.rules {
		score, ok := 0, true
		for _, f := range []struct {
			rule, req string
			weight    int
			fold      bool
		}{{r.Tenant, tenant, 4, false}, {r.City, city, 2, true}, {r.Channel, channel, 1, true}} {
			switch {
			case f.rule == Wildcard:
			case f.rule == f.req || f.fold && strings.EqualFold(f.rule, f.req):
				score += f.weight
			default:
				ok = false
			}
		}
		if ok && score > bestScore {
			best, bestScore = i, score
		}
	}
	var names []string
	switch {
	case best >= 0:
		names = p.rules[best].Pools
	case len(p.defaults) > 0:
		names = p.defaults
	default:
		for _, pi := range p.pools {
			if pi.Tenant == tenant && tenant != "" {
				names = append(names, pi.Name)
			}
		}
		for _, pi := range p.pools {
			if pi.Tenant == "" {
				names = append(names, pi.Name)
			}
		}
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if owner := p.owner[n]; owner == "" || owner == tenant {
			out = append(out, n)
		}
	}
	return out
}
