package storetest

import (
	"errors"
	"testing"
	"time"

	"callgate/pool"
)

func testDoNotCall(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s := open(t, pool.WithClock(clk.Now))
	ctx := ctxT(t)
	n, err := s.AddDoNotCall(ctx, []pool.DNCEntry{
		{Tenant: "", Number: "+8613800000001", Source: "complaint"},
		{Tenant: "t1", Number: "+8613800000001", Source: "api", AddedAt: t0.Add(-time.Hour)},
		{Tenant: "t1", Number: "+8613800000002", Source: "api"},
		{Tenant: "t1", Number: "+8613800000003", Source: "api"},
	})
	must(t, err)
	if n != 4 {
		t.Fatalf("added %d, want 4", n)
	}
	n, err = s.AddDoNotCall(ctx, []pool.DNCEntry{{Tenant: "t1", Number: "+8613800000002", Source: "csv:x"}, {Tenant: "t2", Number: "+8613800000002"}})
	must(t, err)
	if n != 1 {
		t.Fatalf("added %d again, want 1 (one was listed)", n)
	}
	_, err = s.AddDoNotCall(ctx, []pool.DNCEntry{{Number: "13800000001"}})
	wantErr(t, err, pool.ErrInvalid)

	e, ok, err := s.DoNotCall(ctx, "t1", "+8613800000001")
	must(t, err)
	if !ok || e.Tenant != "t1" || e.Source != "api" || !e.AddedAt.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("lookup on both lists: %+v %v, want the tenant's own entry", e, ok)
	}
	e, ok, err = s.DoNotCall(ctx, "t3", "+8613800000001")
	must(t, err)
	if !ok || e.Tenant != "" || e.Source != "complaint" || !e.AddedAt.Equal(t0) {
		t.Fatalf("lookup on the global list: %+v %v", e, ok)
	}
	if _, ok, err := s.DoNotCall(ctx, "t3", "+8613800000002"); err != nil || ok {
		t.Fatalf("another tenant's entry matched: %v %v", ok, err)
	}
	e, _, err = s.DoNotCall(ctx, "t1", "+8613800000002")
	must(t, err)
	if e.Source != "api" {
		t.Fatalf("re-adding changed the source to %q", e.Source)
	}

	page, err := s.ListDoNotCall(ctx, pool.DNCFilter{Tenant: "t1", Limit: 2})
	must(t, err)
	if len(page) != 2 || page[0].Number != "+8613800000001" || page[1].Number != "+8613800000002" {
		t.Fatalf("page 1: %+v", page)
	}
	page, err = s.ListDoNotCall(ctx, pool.DNCFilter{Tenant: "t1", After: page[1].Number, Limit: 2})
	must(t, err)
	if len(page) != 1 || page[0].Number != "+8613800000003" {
		t.Fatalf("page 2: %+v", page)
	}
	removed, err := s.RemoveDoNotCall(ctx, "t1", "+8613800000003")
	must(t, err)
	if !removed {
		t.Fatal("remove of a listed number: false")
	}
	if removed, err = s.RemoveDoNotCall(ctx, "t1", "+8613800000003"); err != nil || removed {
		t.Fatalf("second remove: %v %v", removed, err)
	}
	count := 0
	must(t, s.EachDoNotCall(ctx, func(pool.DNCEntry) error { count++; return nil }))
	if count != 4 {
		t.Fatalf("walked %d entries, want 4", count)
	}
	stop := errors.New("stop")
	if err := s.EachDoNotCall(ctx, func(pool.DNCEntry) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("walk stopped with %v, want the callback's error", err)
	}
}

func testNonces(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	ns := need[NonceStore](t, s)
	ctx := ctxT(t)
	must(t, ns.UseNonce(ctx, "app1", "n1", t0, t0.Add(-5*time.Minute)))
	wantErr(t, ns.UseNonce(ctx, "app1", "n1", t0.Add(time.Second), t0.Add(-5*time.Minute)), pool.ErrExists)
	must(t, ns.UseNonce(ctx, "app2", "n1", t0, t0.Add(-5*time.Minute)))
	wantErr(t, ns.UseNonce(ctx, "", "n1", t0, t0), pool.ErrInvalid)
	// Pruning forgets nonces stamped before the bound.
	must(t, ns.UseNonce(ctx, "app1", "n2", t0.Add(10*time.Minute), t0.Add(time.Second)))
	must(t, ns.UseNonce(ctx, "app1", "n1", t0.Add(10*time.Minute), t0.Add(time.Second)))
}

func testClose(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	must(t, s.Ping(ctx))
	must(t, s.Close())
	must(t, s.Close())
	wantErr(t, s.Ping(ctx), pool.ErrClosed)
	_, err := s.ActiveBindings(ctx, vX, t0)
	wantErr(t, err, pool.ErrClosed)
	_, err = s.ReserveCaller(ctx, request("+8613800000001", 0, pool.Caps{}, "+8675500000001"))
	wantErr(t, err, pool.ErrClosed)
}
