package pool

import (
	"math"

	"callgate/configs"
)

// This file turns the loaded config into what the store and the policy take.

// VirtualNumbersFrom returns the numbers of the config's virtual pools, for
// SyncVirtualNumbers. A number's trunk is its pool's first trunk.
func VirtualNumbersFrom(cfg *configs.Config) []VirtualNumber {
	var out []VirtualNumber
	for _, p := range cfg.Pools {
		if p.Type != "virtual" {
			continue
		}
		trunk := ""
		if len(p.Trunks) > 0 {
			trunk = p.Trunks[0]
		}
		for _, n := range p.Numbers {
			out = append(out, VirtualNumber{Number: n, Pool: p.Name, Tenant: p.Tenant, Supplier: p.Supplier,
				Region: p.Region, Trunk: trunk})
		}
	}
	return out
}

// PolicyFrom returns the pool policy of the config's masking section. Pools without
// trunks are left out of the implied default (the config refuses them in policies).
func PolicyFrom(cfg *configs.Config) (*Policy, error) {
	var pools []PoolInfo
	for _, p := range cfg.Pools {
		if p.Type == "virtual" && len(p.Trunks) > 0 {
			pools = append(pools, PoolInfo{Name: p.Name, Tenant: p.Tenant})
		}
	}
	rules := make([]PolicyRule, 0, len(cfg.Masking.Policies))
	for _, r := range cfg.Masking.Policies {
		rules = append(rules, PolicyRule{Tenant: r.Tenant, City: r.City, Channel: r.Channel, Pools: r.Pools})
	}
	return NewPolicy(pools, rules, cfg.Masking.DefaultPools)
}

// BindingRulesFrom returns the allocation and GC limits of the config's masking
// section, for WithBindingRules or SetBindingRules.
func BindingRulesFrom(cfg *configs.Config) BindingRules {
	m := cfg.Masking
	r := BindingRules{MaxPerNumber: m.MaxBindingsPerNumber, CoolDown: m.CoolDown.Std(), IdleReclaim: m.IdleReclaim.Std()}
	if r.MaxPerNumber < 0 {
		r.MaxPerNumber = math.MaxInt32 // no limit
	}
	return r
}
