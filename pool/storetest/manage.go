package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"callgate/pool"
)

// Manager is the business API's hold on bindings beyond allocation: reading,
// changing, unbinding, listing, and the GC.
type Manager interface {
	Allocator
	Binding(ctx context.Context, id int64) (pool.BindingRecord, error)
	UpdateBinding(ctx context.Context, id int64, p pool.BindingPatch) (pool.BindingRecord, error)
	DeleteBinding(ctx context.Context, id int64) (pool.BindingRecord, error)
	ListBindings(ctx context.Context, f pool.BindingFilter) ([]pool.BindingRecord, int64, error)
	CollectGarbage(ctx context.Context, now time.Time) (pool.GCResult, error)
	SetBindingRules(r pool.BindingRules)
}

// openManaged opens a store whose virtual numbers are ns.
func openManaged(t *testing.T, open Opener, rules pool.BindingRules, clk *Clock, ns []pool.VirtualNumber) (pool.Store, Manager) {
	t.Helper()
	s, _ := openPools(t, open, rules, clk, ns)
	return s, need[Manager](t, s)
}

// mustCreate creates the binding nb or fails t.
func mustCreate(t *testing.T, m Manager, nb pool.NewBinding) pool.BindingRecord {
	t.Helper()
	b, _, err := m.CreateBinding(ctxT(t), nb)
	if err != nil {
		t.Fatalf("create %s %s-%s: %v", nb.Mode, nb.A, nb.B, err)
	}
	return b
}

// readBinding reads binding id or fails t.
func readBinding(t *testing.T, m Manager, id int64) pool.BindingRecord {
	t.Helper()
	b, err := m.Binding(ctxT(t), id)
	must(t, err)
	return b
}

func axb(a, b int, pools ...string) pool.NewBinding {
	return pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, A: customer(a), B: agent(b), Pools: pools}
}

func testBindingRead(t *testing.T, open Opener) {
	clk := NewClock(t0)
	_, m := openManaged(t, open, pool.BindingRules{}, clk, virtualNumbers("p1", 1, 1))
	nb := axb(1, 1, "p1")
	nb.City, nb.Channel = "Shenzhen", "crm"
	b := mustCreate(t, m, nb)
	got := readBinding(t, m, b.ID)
	if got.ID != b.ID || got.Virtual != b.Virtual || got.A != customer(1) || got.B != agent(1) || got.City != "Shenzhen" ||
		got.Channel != "crm" || got.Pool != "p1" || !got.CreatedAt.Equal(t0) || !got.DeletedAt.IsZero() || got.EndReason != "" {
		t.Fatalf("Binding(%d) = %+v, created %+v", b.ID, got, b)
	}
	_, err := m.Binding(ctxT(t), b.ID+1000)
	wantErr(t, err, pool.ErrNotFound)
}

func testUpdateBinding(t *testing.T, open Opener) {
	clk := NewClock(t0)
	ns := append(virtualNumbers("p", 1, 1), virtualNumbers("q", 10, 1)...)
	s, m := openManaged(t, open, pool.BindingRules{CoolDown: time.Hour}, clk, ns)
	ctx := ctxT(t)
	b := mustCreate(t, m, axb(1, 1, "p"))
	other := mustCreate(t, m, axb(2, 2, "p"))

	// B taken on X by another binding: conflict, nothing changes.
	_, err := m.UpdateBinding(ctx, b.ID, pool.BindingPatch{B: other.A})
	allocErr(t, err, pool.ErrConflict, pool.ReasonNumberTaken)
	if got := readBinding(t, m, b.ID); got.B != agent(1) {
		t.Fatalf("a failed update changed B to %s", got.B)
	}
	_, err = m.UpdateBinding(ctx, b.ID, pool.BindingPatch{B: b.A})
	wantErr(t, err, pool.ErrInvalid)

	clk.Set(t0.Add(time.Minute))
	got, err := m.UpdateBinding(ctx, b.ID, pool.BindingPatch{B: agent(9),
		Expiry: &pool.ExpirySpec{Type: pool.ExpiryAt, At: t0.Add(2 * time.Hour)}})
	must(t, err)
	if got.B != agent(9) || got.Expiry != pool.ExpiryAt || !got.ExpireAt.Equal(t0.Add(2*time.Hour)) ||
		!got.UpdatedAt.Equal(t0.Add(time.Minute)) || got.ID != b.ID || !got.CreatedAt.Equal(t0) {
		t.Fatalf("update: %+v", got)
	}
	// The old B cools down on X for an hour.
	_, _, err = m.CreateBinding(ctx, axb(3, 1, "p"))
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonPartyBound)
	clk.Set(t0.Add(time.Minute + time.Hour))
	mustCreate(t, m, axb(3, 1, "p"))

	// Routing follows the new B.
	found := false
	for _, x := range activeOn(t, s, b.Virtual, clk.Now()) {
		found = found || x.ID == b.ID && x.B == agent(9)
	}
	if !found {
		t.Fatalf("ActiveBindings after update = %+v", activeOn(t, s, b.Virtual, clk.Now()))
	}

	// An AXN binding's new B keeps its whole number held.
	axn := mustCreate(t, m, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXN, B: agent(20), Pools: []string{"q"}})
	got, err = m.UpdateBinding(ctx, axn.ID, pool.BindingPatch{B: agent(21)})
	must(t, err)
	if got.B != agent(21) {
		t.Fatalf("AXN update: %+v", got)
	}
	_, _, err = m.CreateBinding(ctx, axb(30, 30, "q"))
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonAllBusy)

	// Expired, deleted and static bindings cannot be changed.
	clk.Set(t0.Add(3 * time.Hour))
	_, err = m.UpdateBinding(ctx, b.ID, pool.BindingPatch{B: agent(8)})
	wantErr(t, err, pool.ErrEnded)
	_, err = m.DeleteBinding(ctx, other.ID)
	must(t, err)
	_, err = m.UpdateBinding(ctx, other.ID, pool.BindingPatch{Expiry: &pool.ExpirySpec{Type: pool.ExpiryNever}})
	wantErr(t, err, pool.ErrEnded)
	must(t, s.SyncStaticBindings(ctx, []pool.Binding{{Tenant: "t1", Mode: pool.ModeAXN, Virtual: "+8675511111111", B: agent(5)}}))
	static := activeOn(t, s, "+8675511111111", clk.Now())
	if len(static) != 1 {
		t.Fatalf("static binding: %+v", static)
	}
	_, err = m.UpdateBinding(ctx, static[0].ID, pool.BindingPatch{B: agent(6)})
	wantErr(t, err, pool.ErrStatic)
	_, err = m.DeleteBinding(ctx, static[0].ID)
	wantErr(t, err, pool.ErrStatic)
	_, err = m.UpdateBinding(ctx, 999999, pool.BindingPatch{B: agent(6)})
	wantErr(t, err, pool.ErrNotFound)
	_, err = m.UpdateBinding(ctx, axn.ID, pool.BindingPatch{Expiry: &pool.ExpirySpec{Type: pool.ExpiryAfterBind}})
	wantErr(t, err, pool.ErrInvalid)
	checkInvariant(t, s, ns, pool.DefaultMaxPerNumber)
}

// Unbinding is a soft delete: routing stops, the row stays, a call in progress can
// still record its times, and the pairs cool down before anyone may bind them.
func testDeleteBinding(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s, m := openManaged(t, open, pool.BindingRules{CoolDown: 10 * time.Minute}, clk, virtualNumbers("p", 1, 1))
	ctx := ctxT(t)
	b := mustCreate(t, m, axb(1, 1, "p"))
	must(t, s.TouchBinding(ctx, b.ID, t0.Add(time.Second)))
	clk.Set(t0.Add(time.Minute))
	del, err := m.DeleteBinding(ctx, b.ID)
	must(t, err)
	if !del.DeletedAt.Equal(t0.Add(time.Minute)) || del.EndReason != pool.EndUnbound {
		t.Fatalf("delete: %+v", del)
	}
	if bs := activeOn(t, s, b.Virtual, clk.Now()); len(bs) != 0 {
		t.Fatalf("an unbound binding still routes: %+v", bs)
	}
	must(t, s.TouchBinding(ctx, b.ID, t0.Add(2*time.Minute))) // the call ends later
	if got := readBinding(t, m, b.ID); got.DeletedAt.IsZero() || !got.LastCall.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after unbind: %+v", got)
	}
	again, err := m.DeleteBinding(ctx, b.ID)
	must(t, err)
	if !again.DeletedAt.Equal(del.DeletedAt) || again.EndReason != pool.EndUnbound {
		t.Fatalf("second delete: %+v", again)
	}
	_, err = m.DeleteBinding(ctx, b.ID+1000)
	wantErr(t, err, pool.ErrNotFound)
	if bs, _, err := m.ListBindings(ctx, pool.BindingFilter{}); err != nil || len(bs) != 0 {
		t.Fatalf("an unbound binding is listed: %+v %v", bs, err)
	}
	// Its parties cool down on X; others may bind X at once.
	_, _, err = m.CreateBinding(ctx, axb(1, 2, "p"))
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonPartyBound)
	mustCreate(t, m, axb(3, 3, "p"))
	// An AXN binding needs X alone.
	_, _, err = m.CreateBinding(ctx, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXN, B: agent(4), Pools: []string{"p"}})
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonAllBusy)
	clk.Set(t0.Add(11 * time.Minute))
	mustCreate(t, m, axb(1, 2, "p"))
}

func testListBindings(t *testing.T, open Opener) {
	clk := NewClock(t0)
	_, m := openManaged(t, open, pool.BindingRules{}, clk, virtualNumbers("p", 1, 3))
	ctx := ctxT(t)
	var made []pool.BindingRecord
	for i := range 7 {
		nb := axb(i, i%3, "p")
		if i%2 == 1 {
			nb.Tenant = "t2"
		}
		made = append(made, mustCreate(t, m, nb))
	}
	_, err := m.DeleteBinding(ctx, made[0].ID)
	must(t, err)
	// Page through t1's live bindings two at a time: 2, 4, 6.
	var got []int64
	var cursor int64
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		bs, next, err := m.ListBindings(ctx, pool.BindingFilter{Tenant: "t1", After: cursor, Limit: 2})
		must(t, err)
		if len(bs) > 2 {
			t.Fatalf("page of %d, limit 2", len(bs))
		}
		for _, b := range bs {
			got = append(got, b.ID)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if want := []int64{made[2].ID, made[4].ID, made[6].ID}; !slices.Equal(got, want) {
		t.Fatalf("t1 bindings %v, want %v", got, want)
	}
	bs, next, err := m.ListBindings(ctx, pool.BindingFilter{Party: agent(1)})
	must(t, err)
	if len(bs) != 2 || next != 0 || bs[0].ID != made[1].ID || bs[1].ID != made[4].ID {
		t.Fatalf("party %s: %+v next %d", agent(1), bs, next)
	}
	bs, _, err = m.ListBindings(ctx, pool.BindingFilter{Virtual: made[1].Virtual, Tenant: "t2"})
	must(t, err)
	if len(bs) == 0 {
		t.Fatal("by virtual number: nothing")
	}
	for _, b := range bs {
		if b.Virtual != made[1].Virtual || b.Tenant != "t2" {
			t.Fatalf("by virtual number: %+v", b)
		}
	}
	bs, _, err = m.ListBindings(ctx, pool.BindingFilter{Tenant: "nobody"})
	if err != nil || len(bs) != 0 {
		t.Fatalf("unknown tenant: %+v %v", bs, err)
	}
}

// errIs reports whether err is one of targets.
func errIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
