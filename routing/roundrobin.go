package routing

import (
	"context"
	"fmt"
	"sync/atomic"
)

// CallerPool is a set of caller numbers a tenant may show on outbound calls, and the
// trunks that carry calls from them, in order.
//
// Deprecated: the input of RoundRobin; Outbound takes TenantPlans.
type CallerPool struct {
	Name    string
	Tenant  string
	Numbers []string // E.164
	Trunks  []string
}

// RoundRobin rotates through each tenant's caller numbers in config order, with no
// locks, caps or do-not-call lists.
//
// Deprecated: the placeholder cmd/callgate wires until it builds an Outbound with
// NewOutboundFromConfig; it goes once nothing uses it.
type RoundRobin struct {
	byTenant map[string][]CallerPool
	next     map[string]*atomic.Uint64
}

// NewOutbound returns a RoundRobin over the tenants' caller pools.
//
// Deprecated: use NewOutboundFromConfig or NewOutboundRouter.
func NewOutbound(pools []CallerPool) *RoundRobin {
	o := &RoundRobin{byTenant: map[string][]CallerPool{}, next: map[string]*atomic.Uint64{}}
	for _, p := range pools {
		if len(p.Numbers) == 0 || len(p.Trunks) == 0 {
			continue
		}
		o.byTenant[p.Tenant] = append(o.byTenant[p.Tenant], p)
		if o.next[p.Tenant] == nil {
			o.next[p.Tenant] = new(atomic.Uint64)
		}
	}
	return o
}

// Route picks the next caller number of the tenant and the first trunk of its pool.
// c.To must already be E.164; the decision holds no lease.
func (o *RoundRobin) Route(_ context.Context, c OutboundCall) (OutboundDecision, error) {
	pools := o.byTenant[c.Tenant]
	total := 0
	for _, p := range pools {
		total += len(p.Numbers)
	}
	if total == 0 {
		return OutboundDecision{}, fmt.Errorf("%w: tenant %q has no caller numbers", ErrNoRoute, c.Tenant)
	}
	i := int((o.next[c.Tenant].Add(1) - 1) % uint64(total))
	for _, p := range pools {
		if i < len(p.Numbers) {
			return OutboundDecision{From: p.Numbers[i], Trunk: p.Trunks[0], Trunks: p.Trunks, Pool: p.Name,
				Callee: Callee{E164: c.To}}, nil
		}
		i -= len(p.Numbers)
	}
	panic("unreachable")
}
