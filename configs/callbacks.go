package configs

import (
	"cmp"
	"strings"
	"time"
)

// This file holds each tenant's callbacks section: how long a customer who calls back
// the caller number an agent used reaches that agent, how long the agent's page
// rings, and what the call gets when no agent takes it.

// Callbacks is what happens when a customer calls back a caller number an agent used.
// An agent's outbound call from number N to customer C creates the relation; a call
// from C to N then rings the agent's page. Zero values take the defaults.
type Callbacks struct {
	// Expiry is how long after the agent's last call to the customer the relation
	// lasts; each new call refreshes it. Default 72h; negative: callbacks off (calls
	// back get the no-binding treatment of masking.no_binding).
	Expiry Duration `yaml:"expiry"`
	// RingTimeout is how long each agent's page rings before the next agent or the
	// fallback; default 30s; at most 5m.
	RingTimeout Duration `yaml:"ring_timeout"`
	// Fallback is what the call gets when the agent is offline, busy, declines or does
	// not answer in time.
	Fallback CallbackFallback `yaml:"fallback"`
}

// CallbackFallback is what a callback gets when its agent does not take it: first the
// pages of Agents ring (those online, in order), then Action applies.
type CallbackFallback struct {
	// Agents are other agents of the tenant to ring, in order; default none.
	Agents []string `yaml:"agents"`
	// Action is "reject" (the default: answer Status) or "forward" (call Number
	// through Trunk and bridge the customer to it).
	Action string `yaml:"action"`
	// Status is the SIP status of reject, 400-699; default 480.
	Status int `yaml:"status"`
	// Number is where forward sends the call (E.164), e.g. the tenant's hotline.
	Number string `yaml:"number"`
	// Trunk carries the forwarded call; default: the trunk the call came in on.
	Trunk string `yaml:"trunk"`
	// ShowAs is the caller ID Number sees: "caller" (the customer's number, the
	// default) or "number" (the caller number the customer dialled).
	ShowAs string `yaml:"show_as"`
}

// The fallback actions of a callback and what a forwarded call shows.
const (
	CallbackReject  = "reject"
	CallbackForward = "forward"

	CallbackShowCaller = "caller"
	CallbackShowNumber = "number"
)

// Defaults and limits of the callbacks section.
const (
	defaultCallbackExpiry      = 72 * time.Hour   // tenants[].callbacks.expiry (negative: off)
	defaultCallbackRingTimeout = 30 * time.Second // tenants[].callbacks.ring_timeout
	maxCallbackRingTimeout     = 5 * time.Minute  //
	defaultCallbackStatus      = 480              // tenants[].callbacks.fallback.status (reject)
	// tenants[].callbacks.fallback.action: reject; .show_as: caller (forward); .agents: none.
)

// callbackDefaults fills the zero settings of t's callbacks section.
func callbackDefaults(t *Tenant) {
	c := &t.Callbacks
	c.Expiry = cmp.Or(c.Expiry, Duration(defaultCallbackExpiry))
	c.RingTimeout = cmp.Or(c.RingTimeout, Duration(defaultCallbackRingTimeout))
	f := &c.Fallback
	f.Action = cmp.Or(strings.ToLower(strings.TrimSpace(f.Action)), CallbackReject)
	f.ShowAs = strings.ToLower(strings.TrimSpace(f.ShowAs))
	switch f.Action {
	case CallbackReject:
		f.Status = cmp.Or(f.Status, defaultCallbackStatus)
	case CallbackForward:
		f.ShowAs = cmp.Or(f.ShowAs, CallbackShowCaller)
	}
}

// callbacks checks every tenant's callbacks section: the fallback's agents must be
// the tenant's, its trunk a configured one.
func (v *validation) callbacks(trunks names) {
	agents := map[agentKey]bool{}
	for _, a := range v.cfg.Agents {
		agents[agentKey{a.Tenant, a.Name}] = true
	}
	for i := range v.cfg.Tenants {
		t, o := &v.cfg.Tenants[i], v.src.tenants[i]
		v.tenantCallbacks(itemPlace(o, "tenant", t.Name, "tenants"), t, agents, trunks)
	}
}

// tenantCallbacks checks one tenant's callbacks section.
func (v *validation) tenantCallbacks(pl place, t *Tenant, agents map[agentKey]bool, trunks names) {
	c := &t.Callbacks
	if rt := c.RingTimeout; rt <= 0 || rt.Std() > maxCallbackRingTimeout {
		v.bad(pl, at("callbacks", "ring_timeout"), "must be positive and at most %s, got %s", Duration(maxCallbackRingTimeout), rt)
	}
	f := &c.Fallback
	key := func(k string, rest ...any) []any { return append([]any{"callbacks", "fallback", k}, rest...) }
	listed := map[string]int{}
	for i, a := range f.Agents {
		if first, dup := listed[a]; dup {
			v.bad(pl, key("agents", i), "agent %q is listed twice (first as agents[%d])", a, first)
			continue
		}
		listed[a] = i
		if !agents[agentKey{t.Name, a}] && !v.src.partial {
			v.bad(pl, key("agents", i), "unknown agent %q of tenant %q", a, t.Name)
		}
	}
	switch f.Action {
	case CallbackReject:
		if f.Status < 400 || f.Status > 699 {
			v.bad(pl, key("status"), "must be a SIP failure status, 400-699, got %d", f.Status)
		}
		for _, k := range []struct{ key, val string }{{"number", f.Number}, {"trunk", f.Trunk}, {"show_as", f.ShowAs}} {
			if k.val != "" {
				v.bad(pl, key(k.key), "%s applies to action forward only (action is reject)", k.key)
			}
		}
	case CallbackForward:
		if f.Status != 0 {
			v.bad(pl, key("status"), "status applies to action reject only: a forwarded call ends with the target's answer")
		}
		if !isE164(f.Number) {
			v.bad(pl, key("number"), "forward needs the number to call, in E.164 (+ and 8 to 15 digits), got %q", f.Number)
		}
		if f.Trunk != "" && !v.src.partial {
			if _, ok := trunks[f.Trunk]; !ok {
				v.bad(pl, key("trunk"), "unknown trunk %q", f.Trunk)
			}
		}
		if f.ShowAs != CallbackShowCaller && f.ShowAs != CallbackShowNumber {
			v.bad(pl, key("show_as"), "unknown show_as %q: want caller or number", f.ShowAs)
		}
	default:
		v.bad(pl, key("action"), "unknown action %q: want reject or forward", f.Action)
	}
}
