package storetest

import (
	"slices"
	"testing"
	"time"

	"callgate/pool"
)

// Numbers of the binding tests.
const (
	vX   = "+8675500000001"
	vX2  = "+8675500000002"
	vY   = "+8675500000003"
	pA   = "+8613800000001"
	pB   = "+8613900000001"
	pB2  = "+8613900000002"
	pOth = "+8613700000009"
)

// activeOn returns the bindings active on v at now, failing t on error.
func activeOn(t *testing.T, s pool.Store, v string, now time.Time) []pool.Binding {
	t.Helper()
	bs, err := s.ActiveBindings(ctxT(t), v, now)
	must(t, err)
	return bs
}

func testStaticBindings(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s := open(t, pool.WithClock(clk.Now))
	ctx := ctxT(t)
	axn := pool.Binding{Tenant: "t1", Mode: pool.ModeAXN, Virtual: vX, B: pB, Trunk: "tr1"}
	axb := pool.Binding{Tenant: "t1", Mode: pool.ModeAXB, Virtual: vX2, A: pA, B: pB}
	axyb := pool.Binding{Tenant: "t1", Mode: pool.ModeAXYB, Virtual: vX2, A: pOth, B: pB2, Y: vY}
	must(t, s.SyncStaticBindings(ctx, []pool.Binding{axn, axb, axyb}))

	got := activeOn(t, s, vX, time.Time{})
	if len(got) != 1 || got[0].B != pB || got[0].Mode != pool.ModeAXN || !got[0].Static || got[0].Trunk != "tr1" {
		t.Fatalf("active on X: %+v", got)
	}
	if !got[0].CreatedAt.Equal(t0) || got[0].Expiry != pool.ExpiryNever {
		t.Fatalf("static binding created %v expiry %q, want the store's clock %v and never", got[0].CreatedAt, got[0].Expiry, t0)
	}
	axnID := got[0].ID
	onX2 := activeOn(t, s, vX2, t0)
	if len(onX2) != 2 || onX2[0].ID >= onX2[1].ID {
		t.Fatalf("active on X2: %+v, want 2 in ID order", onX2)
	}
	onY := activeOn(t, s, vY, t0)
	if len(onY) != 1 || onY[0].Y != vY || onY[0].Virtual != vX2 || onY[0].A != pOth {
		t.Fatalf("active on Y: %+v", onY)
	}
	if bs := activeOn(t, s, "+8675500000999", t0); len(bs) != 0 {
		t.Fatalf("active on an unknown number: %+v", bs)
	}

	// A change keeps the identity (ID, CreatedAt); a removal ends the binding.
	clk.Advance(time.Minute)
	axn.B = pB2
	must(t, s.SyncStaticBindings(ctx, []pool.Binding{axn, axyb}))
	got = activeOn(t, s, vX, time.Time{})
	if len(got) != 1 || got[0].ID != axnID || got[0].B != pB2 || !got[0].CreatedAt.Equal(t0) {
		t.Fatalf("after changing B: %+v, want ID %d with B %s", got, axnID, pB2)
	}
	onX2 = activeOn(t, s, vX2, time.Time{})
	if len(onX2) != 1 || onX2[0].Mode != pool.ModeAXYB {
		t.Fatalf("after removing the AXB binding, active on X2: %+v", onX2)
	}

	// Invalid or duplicate bindings change nothing.
	bad := pool.Binding{Tenant: "t1", Mode: pool.ModeAXB, Virtual: vX, B: pB} // AXB without A
	wantErr(t, s.SyncStaticBindings(ctx, []pool.Binding{bad}), pool.ErrInvalid)
	wantErr(t, s.SyncStaticBindings(ctx, []pool.Binding{axn, axn}), pool.ErrInvalid)
	if got := activeOn(t, s, vX, time.Time{}); len(got) != 1 || got[0].ID != axnID {
		t.Fatalf("a failed sync changed the bindings: %+v", got)
	}
	must(t, s.SyncStaticBindings(ctx, nil))
	if got := append(activeOn(t, s, vX, time.Time{}), activeOn(t, s, vX2, time.Time{})...); len(got) != 0 {
		t.Fatalf("after syncing none: %+v", got)
	}
}

func testExpiry(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s := open(t, pool.WithClock(clk.Now))
	ctx := ctxT(t)
	const n = 60 * time.Second
	at := t0.Add(2 * time.Hour)
	bs := []pool.Binding{
		{Tenant: "t1", Mode: pool.ModeAXN, Virtual: "+8675500000011", B: pB, Expiry: pool.ExpiryNever},
		{Tenant: "t1", Mode: pool.ModeAXN, Virtual: "+8675500000012", B: pB, Expiry: pool.ExpiryAfterBind, ExpirySec: 60},
		{Tenant: "t1", Mode: pool.ModeAXN, Virtual: "+8675500000013", B: pB, Expiry: pool.ExpiryAfterFirstCall, ExpirySec: 60},
		{Tenant: "t1", Mode: pool.ModeAXN, Virtual: "+8675500000014", B: pB, Expiry: pool.ExpiryAfterLastCall, ExpirySec: 60},
		{Tenant: "t1", Mode: pool.ModeAXN, Virtual: "+8675500000015", B: pB, Expiry: pool.ExpiryAt, ExpireAt: at},
	}
	must(t, s.SyncStaticBindings(ctx, bs))
	id := map[string]int64{}
	for _, b := range bs {
		got := activeOn(t, s, b.Virtual, time.Time{})
		if len(got) != 1 {
			t.Fatalf("%s: %d active bindings at creation", b.Expiry, len(got))
		}
		id[b.Virtual] = got[0].ID
	}
	active := func(v string, now time.Time) bool { return len(activeOn(t, s, v, now)) == 1 }
	checks := []struct {
		v    string
		at   time.Time
		want bool
	}{
		{"+8675500000011", t0.Add(1000 * time.Hour), true},
		{"+8675500000012", t0.Add(n - time.Millisecond), true},
		{"+8675500000012", t0.Add(n), false},
		{"+8675500000013", t0.Add(1000 * time.Hour), true}, // no call yet: no end
		{"+8675500000014", t0.Add(n - time.Millisecond), true},
		{"+8675500000014", t0.Add(n), false},
		{"+8675500000015", at.Add(-time.Millisecond), true},
		{"+8675500000015", at, false},
	}
	for _, c := range checks {
		if got := active(c.v, c.at); got != c.want {
			t.Errorf("%s active at t0+%v: %v, want %v", c.v, c.at.Sub(t0), got, c.want)
		}
	}
	// A zero now is the store's clock.
	clk.Advance(n)
	if active("+8675500000012", time.Time{}) {
		t.Errorf("after_bind binding active at the store's clock t0+%v", n)
	}
	if !active("+8675500000013", time.Time{}) {
		t.Errorf("after_first_call binding without calls not active at the store's clock")
	}
	// Calls start the after_first_call clock and push the after_last_call one.
	call := t0.Add(30 * time.Second)
	must(t, s.TouchBinding(ctx, id["+8675500000013"], call))
	must(t, s.TouchBinding(ctx, id["+8675500000014"], call))
	if !active("+8675500000013", call.Add(n-time.Millisecond)) || active("+8675500000013", call.Add(n)) {
		t.Errorf("after_first_call: not ending at first call + %v", n)
	}
	if !active("+8675500000014", call.Add(n-time.Millisecond)) || active("+8675500000014", call.Add(n)) {
		t.Errorf("after_last_call: not ending at last call + %v", n)
	}
	later := call.Add(45 * time.Second)
	must(t, s.TouchBinding(ctx, id["+8675500000013"], later))
	must(t, s.TouchBinding(ctx, id["+8675500000014"], later))
	if active("+8675500000013", call.Add(n)) {
		t.Errorf("after_first_call: a later call moved the end")
	}
	if !active("+8675500000014", later.Add(n-time.Millisecond)) || active("+8675500000014", later.Add(n)) {
		t.Errorf("after_last_call: not ending at the latest call + %v", n)
	}
}

func testTouchBinding(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	ctx := ctxT(t)
	must(t, s.SyncStaticBindings(ctx, []pool.Binding{{Tenant: "t1", Mode: pool.ModeAXN, Virtual: vX, B: pB}}))
	id := activeOn(t, s, vX, t0)[0].ID
	for _, at := range []time.Duration{10 * time.Second, 5 * time.Second, 20 * time.Second, 15 * time.Second} {
		must(t, s.TouchBinding(ctx, id, t0.Add(at)))
	}
	b := activeOn(t, s, vX, t0)[0]
	if !b.FirstCall.Equal(t0.Add(5*time.Second)) || !b.LastCall.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("first %v last %v, want the earliest and latest touch", b.FirstCall.Sub(t0), b.LastCall.Sub(t0))
	}
	if b.FirstCall.Location() != time.UTC {
		t.Errorf("times in %v, want UTC", b.FirstCall.Location())
	}
	wantErr(t, s.TouchBinding(ctx, id+1000, t0), pool.ErrNotFound)
	wantErr(t, s.TouchBinding(ctx, id, time.Time{}), pool.ErrInvalid)
	// A deleted binding is still touched (a call in progress survives unbind).
	must(t, s.SyncStaticBindings(ctx, nil))
	must(t, s.TouchBinding(ctx, id, t0.Add(time.Minute)))
}

func testRouteBindings(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	r := need[Router](t, s)
	ctx := ctxT(t)
	must(t, s.SyncStaticBindings(ctx, []pool.Binding{
		{Tenant: "t1", Mode: pool.ModeAXN, Virtual: vX, B: pB},
		{Tenant: "t1", Mode: pool.ModeAXB, Virtual: vX2, A: pA, B: pB},
		{Tenant: "t1", Mode: pool.ModeAXYB, Virtual: vX2, A: pOth, B: pB2, Y: vY},
	}))
	route := func(v, caller string) []pool.Binding {
		t.Helper()
		bs, err := r.RouteBindings(ctx, v, caller, t0)
		must(t, err)
		return bs
	}
	tests := []struct {
		v, caller string
		want      []string // the B (or A for a callback) each binding routes to
	}{
		{vX, pOth, []string{pB}},     // AXN: anyone
		{vX2, pA, []string{pB}},      // AXB: A → B
		{vX2, pB, []string{pB}},      // AXB: B calls back (the binding, whose A is pA)
		{vX2, pOth, []string{pB2}},   // AXYB: A → B on X
		{vY, pB2, []string{pB2}},     // AXYB: B → A on Y
		{vX2, "+8613700000000", nil}, // a stranger
		{vY, pOth, nil},              // A on Y
	}
	for _, tc := range tests {
		got := route(tc.v, tc.caller)
		var bs []string
		for _, b := range got {
			bs = append(bs, b.B)
		}
		if !slices.Equal(bs, tc.want) {
			t.Errorf("route %s → %s: bindings to %v, want %v", tc.caller, tc.v, bs, tc.want)
		}
	}
	if bs := route(vX, ""); len(bs) != 1 {
		t.Errorf("anonymous caller to AXN: %d bindings", len(bs))
	}
}
