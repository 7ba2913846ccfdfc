package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCallbackRelationRememberRefreshExpire(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	s := openAt(t, path)
	const n, c = "+862100000001", "+8613900000002"
	rel := func(agent, call string, at time.Time, ttl time.Duration) CallbackRelation {
		return CallbackRelation{Tenant: "acme", Number: n, Customer: c, Agent: agent, CallID: call, LastCallAt: at, ExpiresAt: at.Add(ttl)}
	}
	if _, err := s.CallbackRelation(ctx, n, c, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before any call: %v, want ErrNotFound", err)
	}
	first := rel("alice", "call-1", t0, 72*time.Hour)
	if err := s.RememberCallback(ctx, first); err != nil {
		t.Fatal(err)
	}
	got, err := s.CallbackRelation(ctx, n, c, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got != first {
		t.Fatalf("got %+v\nwant %+v", got, first)
	}

	// A later call by bob takes the relation over and pushes the expiry out.
	second := rel("bob", "call-2", t0.Add(24*time.Hour), 72*time.Hour)
	if err := s.RememberCallback(ctx, second); err != nil {
		t.Fatal(err)
	}
	// A call that ended late but started earlier does not take it back.
	if err := s.RememberCallback(ctx, rel("carol", "call-0", t0.Add(time.Hour), 72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CallbackRelation(ctx, n, c, t0.Add(80*time.Hour)); err != nil || got != second {
		t.Fatalf("after refresh: %+v %v, want %+v", got, err, second)
	}
	// Another customer on the same number is another relation.
	if _, err := s.CallbackRelation(ctx, n, "+8613900000003", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other customer: %v", err)
	}

	// It survives a restart.
	s.Close()
	s = openAt(t, path)
	if got, err := s.CallbackRelation(ctx, n, c, t0.Add(95*time.Hour)); err != nil || got != second {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	// Expired: never returned, even before it is deleted.
	if _, err := s.CallbackRelation(ctx, n, c, second.ExpiresAt); !errors.Is(err, ErrNotFound) {
		t.Fatalf("at expiry: %v, want ErrNotFound", err)
	}
}

func TestCallbackRelationWritesSweepExpired(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for i := 0; i < 3*callbackSweep; i++ {
		r := CallbackRelation{Tenant: "acme", Number: "+862100000001", Customer: fmt.Sprintf("+86139000%05d", i), Agent: "alice",
			LastCallAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.RememberCallback(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	live := CallbackRelation{Tenant: "acme", Number: "+862100000002", Customer: "+8613900000002", Agent: "bob",
		LastCallAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}
	for i := 0; i < 2; i++ {
		if err := s.RememberCallback(ctx, live); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM callback_relations`); n != 3*callbackSweep+1-2*callbackSweep {
		t.Fatalf("%d relations left, want %d: each write deletes %d expired ones", n, callbackSweep+1, callbackSweep)
	}
	if _, err := s.CallbackRelation(ctx, live.Number, live.Customer, live.LastCallAt); err != nil {
		t.Fatalf("the live relation was swept: %v", err)
	}
}

func TestCallbackRelationLookupUsesPrimaryKey(t *testing.T) {
	s := openTest(t)
	rows, err := s.r.Query(`EXPLAIN QUERY PLAN SELECT tenant, agent, call_id, last_call_at, expires_at
		FROM callback_relations WHERE number = ? AND customer = ? AND expires_at > ?`, "a", "b", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "USING PRIMARY KEY (number=? AND customer=?)") {
		t.Fatalf("query plan %q: want a primary-key search on (number, customer)", p)
	}
}

func TestCallbackRelationInvalid(t *testing.T) {
	s := openTest(t)
	for _, r := range []CallbackRelation{
		{Number: "+862100000001", Customer: "+8613900000002", Agent: "alice", LastCallAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Tenant: "acme", Number: "+862100000001", Customer: "+8613900000002", LastCallAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Tenant: "acme", Number: "+862100000001", Customer: "+8613900000002", Agent: "alice", ExpiresAt: t0},
	} {
		if err := s.RememberCallback(context.Background(), r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", r, err)
		}
	}
}
