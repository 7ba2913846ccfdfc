package routing

import (
	"context"
	"fmt"
	"sync/atomic"
)

// CallerPool is a set of caller numbers a tenant may show on outbound calls, and the
// trunks that carry calls from them, in order.
type CallerPool struct {
	Name    string
	Tenant  string
	Numbers []string // E.164
	Trunks  []string
}

// OutboundCall is an agent's call to a customer.
type OutboundCall struct {
	Tenant string
	Agent  string
	To     string // E.164, normalised
}

// OutboundDecision says how to place an outbound call.
type OutboundDecision struct {
	From  string // caller number shown to the callee
	Trunk string
	Pool  string
}

// Outbound chooses the caller number and trunk for agents' calls. Today it rotates
// through the tenant's caller numbers in config order; caller-number selection with
// locks, caps and do-not-call lists replaces it.
type Outbound struct {
	byTenant map[string][]CallerPool
	next     map[string]*atomic.Uint64
}

// NewOutbound returns an outbound router over the tenants' caller pools.
func NewOutbound(pools []CallerPool) *Outbound {
	o := &Outbound{byTenant: map[string][]CallerPool{}, next: map[string]*atomic.Uint64{}}
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
func (o *Outbound) Route(_ context.Context, c OutboundCall) (OutboundDecision, error) {
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
			return OutboundDecision{From: p.Numbers[i], Trunk: p.Trunks[0], Pool: p.Name}, nil
		}
		i -= len(p.Numbers)
	}
	panic("unreachable")
}
