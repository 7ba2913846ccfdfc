package routing

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
)

// relationList is an in-memory CallbackStore. Unlike the store, it returns relations
// whatever their expiry, so the router's own expiry check is tested.
type relationList map[[2]string]pool.CallbackRelation

func (l relationList) RememberCallback(_ context.Context, r pool.CallbackRelation) error {
	l[[2]string{r.Number, r.Customer}] = r
	return nil
}

func (l relationList) CallbackRelation(_ context.Context, number, customer string, _ time.Time) (pool.CallbackRelation, error) {
	r, ok := l[[2]string{number, customer}]
	if !ok {
		return r, pool.ErrNotFound
	}
	return r, nil
}

type onlineSet map[string]bool // "tenant/agent"

func (s onlineSet) Online(tenant, agent string) bool { return s[tenant+"/"+agent] }

func TestCallbackRememberAndRoute(t *testing.T) {
	const n, c, other = fixA, "+8613900000002", "+8613900000003"
	clock := &testClock{now: t0}
	policies := map[string]CallbackPolicy{
		"acme": {Expiry: 72 * time.Hour, RingTimeout: 20 * time.Second,
			Fallback: CallbackFallback{Agents: []string{"bob", "alice", "carol"}, Action: CallbackForward, Number: "+864000000000"}},
		"off": {Expiry: -1, RingTimeout: time.Second, Fallback: CallbackFallback{Action: CallbackReject, Status: 486}},
	}
	tests := []struct {
		name   string
		placed []PlacedCall
		after  time.Duration // from the last placed call to the call back
		policy map[string]CallbackPolicy
		online onlineSet
		caller string
		want   CallbackDecision
		err    error
	}{
		{
			name:   "agent online rings first, then the online fallback agents",
			placed: []PlacedCall{{Tenant: "acme", Agent: "alice", Number: n, Customer: c}},
			after:  time.Hour, online: onlineSet{"acme/alice": true, "acme/carol": true, "other/bob": true},
			want: CallbackDecision{Tenant: "acme", Agent: "alice", Agents: []string{"alice", "carol"}, RingTimeout: 20 * time.Second,
				Fallback: policies["acme"].Fallback, ExpiresAt: t0.Add(72 * time.Hour)},
		},
		{
			name:   "agent offline: only the fallback",
			placed: []PlacedCall{{Tenant: "acme", Agent: "alice", Number: n, Customer: c}},
			after:  71 * time.Hour, online: onlineSet{},
			want: CallbackDecision{Tenant: "acme", Agent: "alice", RingTimeout: 20 * time.Second,
				Fallback: policies["acme"].Fallback, ExpiresAt: t0.Add(72 * time.Hour)},
		},
		{
			name: "a new call refreshes the relation and the agent",
			placed: []PlacedCall{{Tenant: "acme", Agent: "alice", Number: n, Customer: c},
				{Tenant: "acme", Agent: "bob", Number: n, Customer: c}},
			after: 71 * time.Hour, online: onlineSet{"acme/alice": true, "acme/bob": true},
			want: CallbackDecision{Tenant: "acme", Agent: "bob", Agents: []string{"bob", "alice"}, RingTimeout: 20 * time.Second,
				Fallback: policies["acme"].Fallback, ExpiresAt: t0.Add(10*time.Minute + 72*time.Hour)},
		},
		{
			name:   "expired relation routes nowhere, even if the store returns it",
			placed: []PlacedCall{{Tenant: "acme", Agent: "alice", Number: n, Customer: c}},
			after:  72 * time.Hour, online: onlineSet{"acme/alice": true}, err: ErrNoRoute,
		},
		{
			name:   "another customer of the number",
			placed: []PlacedCall{{Tenant: "acme", Agent: "alice", Number: n, Customer: c}},
			caller: other, online: onlineSet{"acme/alice": true}, err: ErrNoRoute,
		},
		{
			name:   "anonymous caller",
			placed: []PlacedCall{{Tenant: "acme", Agent: "alice", Number: n, Customer: c}},
			caller: "-", online: onlineSet{"acme/alice": true}, err: ErrNoRoute,
		},
		{
			name:   "tenant with callbacks off remembers nothing",
			placed: []PlacedCall{{Tenant: "off", Agent: "alice", Number: n, Customer: c}},
			online: onlineSet{"off/alice": true}, err: ErrNoRoute,
		},
		{
			name:   "expiry shortened since the relation was made",
			placed: []PlacedCall{{Tenant: "acme", Agent: "alice", Number: n, Customer: c}},
			policy: map[string]CallbackPolicy{"acme": {Expiry: time.Hour}},
			after:  2 * time.Hour, online: onlineSet{"acme/alice": true}, err: ErrNoRoute,
		},
		{
			name:   "tenant without a policy gets the default",
			placed: []PlacedCall{{Tenant: "zeta", Agent: "zed", Number: n, Customer: c}},
			after:  time.Minute, online: onlineSet{"zeta/zed": true},
			want: CallbackDecision{Tenant: "zeta", Agent: "zed", Agents: []string{"zed"}, RingTimeout: 30 * time.Second,
				Fallback: CallbackFallback{Action: CallbackReject, Status: 480}, ExpiresAt: t0.Add(72 * time.Hour)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Set(t0)
			store := relationList{}
			r := NewCallbacks(store, tt.online, policies, clock.Now)
			for i, p := range tt.placed {
				if i > 0 {
					clock.Add(10 * time.Minute)
				}
				if err := r.Remember(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			}
			clock.Add(tt.after)
			if tt.policy != nil {
				r = NewCallbacks(store, tt.online, tt.policy, clock.Now)
			}
			caller := c
			switch tt.caller {
			case "":
			case "-":
				caller = ""
			default:
				caller = tt.caller
			}
			got, err := r.Route(context.Background(), InboundCall{Trunk: "carrier", Caller: caller, Callee: n})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCallbackFallbackDecisions(t *testing.T) {
	in := InboundCall{Trunk: "carrier-in", Caller: "+8613900000002", Callee: fixA}
	d := CallbackDecision{Tenant: "acme", Fallback: CallbackFallback{Action: CallbackForward, Number: "+864000000000"}}
	if got, want := d.ForwardDecision(in), (Decision{Tenant: "acme", Target: "+864000000000", ShowAs: in.Caller, Trunk: "carrier-in"}); got != want {
		t.Errorf("forward: %+v, want %+v", got, want)
	}
	d.Fallback.ShowNumber, d.Fallback.Trunk = true, "hotline"
	if got := d.ForwardDecision(in); got.ShowAs != fixA || got.Trunk != "hotline" {
		t.Errorf("forward showing the number: %+v", got)
	}
	d.Fallback = CallbackFallback{Action: CallbackReject, Status: 486}
	var nr *NoRouteError
	if err := d.RejectError(in); !errors.As(err, &nr) || !errors.Is(err, ErrNoRoute) || nr.Treatment.Status != 486 || nr.Treatment.Action != NoBindingReject {
		t.Errorf("reject: %v", err)
	}
}

func TestCallbackStoreFailureIsNotNoRoute(t *testing.T) {
	r := NewCallbacks(failingRelations{}, nil, nil, nil)
	_, err := r.Route(context.Background(), InboundCall{Caller: "+8613900000002", Callee: fixA})
	if err == nil || errors.Is(err, ErrNoRoute) {
		t.Fatalf("a store failure must not pass for \"no relation\": %v", err)
	}
}

type failingRelations struct{}

func (failingRelations) RememberCallback(context.Context, pool.CallbackRelation) error {
	return errors.New("disk on fire")
}

func (failingRelations) CallbackRelation(context.Context, string, string, time.Time) (pool.CallbackRelation, error) {
	return pool.CallbackRelation{}, errors.New("disk on fire")
}

func TestCallbackPoliciesFromConfig(t *testing.T) {
	cfg := &configs.Config{Tenants: []configs.Tenant{{Name: "acme", Callbacks: configs.Callbacks{
		Expiry: configs.Duration(time.Hour), RingTimeout: configs.Duration(15 * time.Second),
		Fallback: configs.CallbackFallback{Agents: []string{"bob"}, Action: "forward", Number: "+864000000000", Trunk: "t", ShowAs: "number"}}}}}
	got := CallbackPoliciesFrom(cfg)["acme"]
	want := CallbackPolicy{Expiry: time.Hour, RingTimeout: 15 * time.Second,
		Fallback: CallbackFallback{Agents: []string{"bob"}, Action: CallbackForward, Number: "+864000000000", Trunk: "t", ShowNumber: true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}
