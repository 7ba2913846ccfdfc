package routing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"callgate/configs"
	"callgate/pool"
)

// This file is callback-to-agent routing. An agent's outbound call from caller number
// N to customer C creates an implicit A-V-B relation (C, N) → agent, with its own
// expiry; a carrier's call from C to N that no virtual-number binding takes follows
// it to the agent's page. The agent may be offline, busy, decline or not answer: the
// tenant's fallback then rings other agents and finally rejects the call or forwards
// it to a number.

// CallbackStore keeps the callback relations.
type CallbackStore interface {
	// RememberCallback stores or refreshes the relation on (r.Number, r.Customer).
	RememberCallback(ctx context.Context, r pool.CallbackRelation) error
	// CallbackRelation returns the relation on (number, customer) active at now, or
	// an error wrapping pool.ErrNotFound.
	CallbackRelation(ctx context.Context, number, customer string, now time.Time) (pool.CallbackRelation, error)
}

var _ CallbackStore = (*pool.SQLiteStore)(nil)

// AgentPresence says whether an agent's page is logged in and can take a call.
type AgentPresence interface {
	Online(tenant, agent string) bool
}

// PresenceFunc adapts a function to AgentPresence.
type PresenceFunc func(tenant, agent string) bool

// Online calls f.
func (f PresenceFunc) Online(tenant, agent string) bool { return f(tenant, agent) }

// CallbackAction is what a callback gets when no agent takes it.
type CallbackAction string

// The fallback actions.
const (
	// CallbackReject answers the call with CallbackFallback.Status.
	CallbackReject CallbackAction = "reject"
	// CallbackForward calls CallbackFallback.Number and bridges the customer to it.
	CallbackForward CallbackAction = "forward"
)

// CallbackFallback is what a callback gets when its agent does not take it: the
// pages of Agents ring in turn, then Action applies.
type CallbackFallback struct {
	Agents []string
	Action CallbackAction
	// Status is the final SIP status of CallbackReject.
	Status int
	// Number (E.164) is where CallbackForward sends the call, through Trunk (empty:
	// the trunk the call came in on). The target sees the customer's number, or with
	// ShowNumber the caller number the customer dialled.
	Number     string
	Trunk      string
	ShowNumber bool
}

// CallbackPolicy is one tenant's callback settings.
type CallbackPolicy struct {
	// Expiry is how long a relation lasts after the agent's last call to the
	// customer; negative turns callbacks off.
	Expiry time.Duration
	// RingTimeout bounds the ringing of each agent's page.
	RingTimeout time.Duration
	Fallback    CallbackFallback
}

// DefaultCallbackPolicy is the policy of a tenant the router has none for: relations
// last 72 h, pages ring 30 s, then the call is rejected with 480.
func DefaultCallbackPolicy() CallbackPolicy {
	return CallbackPolicy{Expiry: 72 * time.Hour, RingTimeout: 30 * time.Second,
		Fallback: CallbackFallback{Action: CallbackReject, Status: 480}}
}

// CallbackPoliciesFrom takes every tenant's callback policy out of a loaded config.
func CallbackPoliciesFrom(cfg *configs.Config) map[string]CallbackPolicy {
	out := make(map[string]CallbackPolicy, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		c := t.Callbacks
		out[t.Name] = CallbackPolicy{
			Expiry:      c.Expiry.Std(),
			RingTimeout: c.RingTimeout.Std(),
			Fallback: CallbackFallback{
				Agents:     append([]string(nil), c.Fallback.Agents...),
				Action:     CallbackAction(c.Fallback.Action),
				Status:     c.Fallback.Status,
				Number:     c.Fallback.Number,
				Trunk:      c.Fallback.Trunk,
				ShowNumber: c.Fallback.ShowAs == configs.CallbackShowNumber,
			},
		}
	}
	return out
}

// PlacedCall is an agent's outbound call as the callback relation remembers it.
type PlacedCall struct {
	Tenant, Agent string
	// Number is the caller number the customer saw; Customer the number called.
	// Both E.164.
	Number, Customer string
	CallID           string
}

// CallbackDecision says how a customer's callback is offered.
type CallbackDecision struct {
	Tenant string
	// Agent is the agent of the relation, whether or not online.
	Agent string
	// Agents are the pages to ring, in order: the relation's agent, then the
	// fallback's, those online when the call arrived. Empty: Fallback at once.
	Agents      []string
	RingTimeout time.Duration
	Fallback    CallbackFallback
	// ExpiresAt is when the relation the call followed expires.
	ExpiresAt time.Time
}

// ForwardDecision is where a CallbackForward fallback sends call c: the fallback's
// number, through its trunk or else the one c came in on.
func (d CallbackDecision) ForwardDecision(c InboundCall) Decision {
	dec := Decision{Tenant: d.Tenant, Target: d.Fallback.Number, ShowAs: c.Caller, Trunk: d.Fallback.Trunk}
	if d.Fallback.ShowNumber || c.Caller == "" {
		dec.ShowAs = c.Callee
	}
	if dec.Trunk == "" {
		dec.Trunk = c.Trunk
	}
	return dec
}

// RejectError is the error a CallbackReject fallback ends call c with: a *NoRouteError
// (errors.Is ErrNoRoute) whose treatment rejects with the fallback's status.
func (d CallbackDecision) RejectError(c InboundCall) error {
	return &NoRouteError{Caller: c.Caller, Callee: c.Callee,
		Treatment: NoBinding{Action: NoBindingReject, Status: d.Fallback.Status}}
}

// Callbacks remembers agents' outbound calls and routes customers' calls back to the
// agents. It is safe for concurrent use.
type Callbacks struct {
	store    CallbackStore
	presence AgentPresence
	now      func() time.Time
	policies map[string]CallbackPolicy
}

// NewCallbacks returns the callback router over store; presence says which agents are
// online; policies maps tenant to policy (a tenant without one gets
// DefaultCallbackPolicy); now is the clock (time.Now if nil).
func NewCallbacks(store CallbackStore, presence AgentPresence, policies map[string]CallbackPolicy, now func() time.Time) *Callbacks {
	if now == nil {
		now = time.Now
	}
	p := make(map[string]CallbackPolicy, len(policies))
	for k, v := range policies {
		p[k] = v
	}
	return &Callbacks{store: store, presence: presence, now: now, policies: p}
}

func (r *Callbacks) policy(tenant string) CallbackPolicy {
	if p, ok := r.policies[tenant]; ok {
		return p
	}
	return DefaultCallbackPolicy()
}

// Remember records that p's customer saw p's caller number calling for p's agent: a
// call back reaches that agent for the tenant's expiry. It refreshes an existing
// relation. A tenant with callbacks off, or a call without numbers, records nothing.
func (r *Callbacks) Remember(ctx context.Context, p PlacedCall) error {
	pol := r.policy(p.Tenant)
	if pol.Expiry < 0 || p.Number == "" || p.Customer == "" || p.Agent == "" {
		return nil
	}
	now := r.now()
	err := r.store.RememberCallback(ctx, pool.CallbackRelation{Tenant: p.Tenant, Number: p.Number, Customer: p.Customer,
		Agent: p.Agent, CallID: p.CallID, LastCallAt: now, ExpiresAt: now.Add(pol.Expiry)})
	if err != nil {
		return fmt.Errorf("remember callback to %s: %w", p.Agent, err)
	}
	return nil
}

// Route decides where the call c goes when it is a customer's call back to a caller
// number an agent used. An anonymous caller, a call that follows no relation, a
// relation that has expired at the router's clock (whatever the store returned, and
// also if the tenant's expiry has been shortened since), or a tenant with callbacks
// off, is an error wrapping ErrNoRoute: the call is none of this router's.
func (r *Callbacks) Route(ctx context.Context, c InboundCall) (CallbackDecision, error) {
	if c.Caller == "" {
		return CallbackDecision{}, fmt.Errorf("%w: anonymous call to %s cannot be a callback", ErrNoRoute, c.Callee)
	}
	now := r.now()
	rel, err := r.store.CallbackRelation(ctx, c.Callee, c.Caller, now)
	if errors.Is(err, pool.ErrNotFound) {
		return CallbackDecision{}, fmt.Errorf("%w: no agent called %s from %s", ErrNoRoute, c.Caller, c.Callee)
	}
	if err != nil {
		return CallbackDecision{}, fmt.Errorf("look up callback %s → %s: %w", c.Caller, c.Callee, err)
	}
	pol := r.policy(rel.Tenant)
	expires := rel.ExpiresAt
	if e := rel.LastCallAt.Add(pol.Expiry); e.Before(expires) {
		expires = e
	}
	if pol.Expiry < 0 || !now.Before(expires) {
		return CallbackDecision{}, fmt.Errorf("%w: the callback relation %s → %s (agent %s) expired at %s",
			ErrNoRoute, c.Caller, c.Callee, rel.Agent, expires.UTC().Format(time.RFC3339))
	}
	d := CallbackDecision{Tenant: rel.Tenant, Agent: rel.Agent, RingTimeout: pol.RingTimeout, Fallback: pol.Fallback, ExpiresAt: expires}
	seen := map[string]bool{}
	for _, a := range append([]string{rel.Agent}, pol.Fallback.Agents...) {
		if seen[a] {
			continue
		}
		seen[a] = true
		if r.presence != nil && r.presence.Online(rel.Tenant, a) {
			d.Agents = append(d.Agents, a)
		}
	}
	return d, nil
}
