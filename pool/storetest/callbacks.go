package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"callgate/pool"
)

// Callbacks keeps the relations agents' outbound calls create.
type Callbacks interface {
	RememberCallback(ctx context.Context, r pool.CallbackRelation) error
	CallbackRelation(ctx context.Context, number, customer string, now time.Time) (pool.CallbackRelation, error)
}

func testCallbacks(t *testing.T, open Opener) {
	s := open(t)
	cb := need[Callbacks](t, s)
	ctx := ctxT(t)
	const n, c = "+862100000001", "+8613900000002"
	rel := func(agent, call string, at time.Time, ttl time.Duration) pool.CallbackRelation {
		return pool.CallbackRelation{Tenant: "acme", Number: n, Customer: c, Agent: agent, CallID: call, LastCallAt: at, ExpiresAt: at.Add(ttl)}
	}
	_, err := cb.CallbackRelation(ctx, n, c, t0)
	wantErr(t, err, pool.ErrNotFound)
	first := rel("alice", "call-1", t0, 72*time.Hour)
	must(t, cb.RememberCallback(ctx, first))
	got, err := cb.CallbackRelation(ctx, n, c, t0.Add(time.Hour))
	must(t, err)
	if got != first {
		t.Fatalf("got %+v\nwant %+v", got, first)
	}
	// A later call by bob takes the relation over and pushes the expiry out; a call
	// that ended late but started earlier does not take it back.
	second := rel("bob", "call-2", t0.Add(24*time.Hour), 72*time.Hour)
	must(t, cb.RememberCallback(ctx, second))
	must(t, cb.RememberCallback(ctx, rel("carol", "call-0", t0.Add(time.Hour), 72*time.Hour)))
	if got, err := cb.CallbackRelation(ctx, n, c, t0.Add(80*time.Hour)); err != nil || got != second {
		t.Fatalf("after refresh: %+v %v, want %+v", got, err, second)
	}
	_, err = cb.CallbackRelation(ctx, n, "+8613900000003", t0)
	wantErr(t, err, pool.ErrNotFound)
	// Expired: never returned, even before it is deleted.
	_, err = cb.CallbackRelation(ctx, n, c, second.ExpiresAt)
	wantErr(t, err, pool.ErrNotFound)

	for _, bad := range []pool.CallbackRelation{
		{Number: n, Customer: c, Agent: "alice", LastCallAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Tenant: "acme", Number: n, Customer: c, LastCallAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Tenant: "acme", Number: n, Customer: c, Agent: "alice", ExpiresAt: t0},
		{Tenant: "acme", Number: n, Customer: c, Agent: "alice", LastCallAt: t0},
	} {
		wantErr(t, cb.RememberCallback(ctx, bad), pool.ErrInvalid)
	}
}

// Writes delete expired relations, never live ones: after many writes of relations
// that expire, the live ones are all there.
func testCallbacksSweep(t *testing.T, open Opener) {
	s := open(t)
	cb := need[Callbacks](t, s)
	ctx := ctxT(t)
	live := pool.CallbackRelation{Tenant: "acme", Number: "+862100000002", Customer: "+8613900000002", Agent: "bob",
		LastCallAt: t0, ExpiresAt: t0.Add(10 * time.Hour)}
	must(t, cb.RememberCallback(ctx, live))
	for i := range 60 {
		r := pool.CallbackRelation{Tenant: "acme", Number: "+862100000001", Customer: fmt.Sprintf("+86139000%05d", i), Agent: "alice",
			LastCallAt: t0.Add(time.Duration(i) * time.Minute), ExpiresAt: t0.Add(time.Duration(i)*time.Minute + 5*time.Minute)}
		must(t, cb.RememberCallback(ctx, r))
	}
	if got, err := cb.CallbackRelation(ctx, live.Number, live.Customer, t0.Add(9*time.Hour)); err != nil || got != live {
		t.Fatalf("the live relation: %+v %v", got, err)
	}
	// The last few written are still active at the time of the last write.
	last := t0.Add(59 * time.Minute)
	for i := 55; i < 60; i++ {
		if _, err := cb.CallbackRelation(ctx, "+862100000001", fmt.Sprintf("+86139000%05d", i), last); err != nil {
			t.Fatalf("relation %d, active at the last write: %v", i, err)
		}
	}
}
