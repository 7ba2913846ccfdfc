package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"callgate/pool"
)

// virtualNumbers returns n numbers of pool p for tenant t1.
func virtualNumbers(p string, first, n int) []pool.VirtualNumber {
	out := make([]pool.VirtualNumber, n)
	for i := range out {
		out[i] = pool.VirtualNumber{Number: fmt.Sprintf("+8675590%06d", first+i), Pool: p, Tenant: "t1",
			Supplier: "sup", Region: "Shenzhen", Trunk: "tr-" + p}
	}
	return out
}

// customer and agent are the i-th test parties.
func customer(i int) string { return fmt.Sprintf("+86138%08d", i) }
func agent(i int) string    { return fmt.Sprintf("+86139%08d", i) }

// openPools opens a store whose virtual numbers are ns.
func openPools(t *testing.T, open Opener, rules pool.BindingRules, clk *Clock, ns []pool.VirtualNumber) (pool.Store, Allocator) {
	t.Helper()
	s := open(t, pool.WithClock(clk.Now), pool.WithBindingRules(rules))
	a := need[Allocator](t, s)
	must(t, a.SyncVirtualNumbers(ctxT(t), ns))
	return s, a
}

func allocErr(t *testing.T, err error, target error, reason pool.AllocReason) {
	t.Helper()
	var ae *pool.AllocationError
	if !errors.Is(err, target) || !errors.As(err, &ae) || ae.Reason != reason {
		t.Fatalf("error %v, want %v with reason %s", err, target, reason)
	}
}

func testAllocate(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s, a := openPools(t, open, pool.BindingRules{MaxPerNumber: 2}, clk, virtualNumbers("p1", 1, 2))
	ctx := ctxT(t)
	nb := pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, A: customer(1), B: agent(1), Pools: []string{"p1"},
		Expiry: pool.ExpirySpec{Type: pool.ExpiryAfterBind, Sec: 600}}
	b, replayed, err := a.CreateBinding(ctx, nb)
	must(t, err)
	if replayed || b.ID == 0 || b.Pool != "p1" || b.Trunk != "tr-p1" || b.Virtual == "" || !b.CreatedAt.Equal(t0) ||
		b.Expiry != pool.ExpiryAfterBind || b.ExpirySec != 600 || b.Static {
		t.Fatalf("created %+v", b)
	}
	if got := activeOn(t, s, b.Virtual, time.Time{}); len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("active on %s: %+v", b.Virtual, got)
	}
	// The same party pair again: the parties are taken on that number, so another.
	b2, _, err := a.CreateBinding(ctx, nb)
	must(t, err)
	if b2.Virtual == b.Virtual {
		t.Fatalf("two bindings of parties %s, %s on %s", nb.A, nb.B, b.Virtual)
	}
	// A third: both numbers hold the parties.
	_, _, err = a.CreateBinding(ctx, nb)
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonPartyBound)
	// A requested number whose party is taken is a conflict.
	nb3 := nb
	nb3.B, nb3.X = agent(2), b.Virtual
	_, _, err = a.CreateBinding(ctx, nb3)
	allocErr(t, err, pool.ErrConflict, pool.ReasonNumberTaken)
	// AXN holds a number alone: both have bindings, so none is free.
	_, _, err = a.CreateBinding(ctx, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXN, B: agent(3), Pools: []string{"p1"}})
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonAllBusy)
	_, _, err = a.CreateBinding(ctx, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, A: customer(9), B: agent(9)})
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonNoPool)
	_, _, err = a.CreateBinding(ctx, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, A: customer(9), B: agent(9), Pools: []string{"empty"}})
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonNoNumbers)
	// Bad requests.
	_, _, err = a.CreateBinding(ctx, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, B: agent(9), Pools: []string{"p1"}})
	wantErr(t, err, pool.ErrInvalid)
	// The after_bind expiry counts from the store's clock.
	if got := activeOn(t, s, b.Virtual, t0.Add(600*time.Second)); len(got) != 0 {
		t.Fatalf("after_bind 600 s binding active at t0+600s: %+v", got)
	}

	// GetOrBind finds the pair in either order, and binds a new pair.
	found, created, err := a.GetOrBind(ctx, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, A: agent(1), B: customer(1), Pools: []string{"p1"}})
	must(t, err)
	if created || (found.ID != b.ID && found.ID != b2.ID) {
		t.Fatalf("GetOrBind of a bound pair: created %v ID %d, want one of %d, %d", created, found.ID, b.ID, b2.ID)
	}
	// AXYB takes X and Y.
	s2, a2 := openPools(t, open, pool.BindingRules{}, clk, virtualNumbers("p2", 100, 3))
	_ = s2
	y, _, err := a2.CreateBinding(ctx, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXYB, A: customer(1), B: agent(1), Pools: []string{"p2"}})
	must(t, err)
	if y.Y == "" || y.Y == y.Virtual {
		t.Fatalf("AXYB binding X %s Y %s", y.Virtual, y.Y)
	}
	if got := activeOn(t, s2, y.Y, time.Time{}); len(got) != 1 || got[0].ID != y.ID {
		t.Fatalf("AXYB not active on Y: %+v", got)
	}
}

func testAllocateIdempotent(t *testing.T, open Opener) {
	clk := NewClock(t0)
	_, a := openPools(t, open, pool.BindingRules{}, clk, virtualNumbers("p1", 1, 5))
	ctx := ctxT(t)
	nb := pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, A: customer(1), B: agent(1), Pools: []string{"p1"}, IdempotencyKey: "k1"}
	b, replayed, err := a.CreateBinding(ctx, nb)
	must(t, err)
	if replayed {
		t.Fatal("first create replayed")
	}
	again, replayed, err := a.CreateBinding(ctx, nb)
	must(t, err)
	if !replayed || again.ID != b.ID || again.IdempotencyKey != "k1" {
		t.Fatalf("retry: replayed %v ID %d key %q, want the first binding %d", replayed, again.ID, again.IdempotencyKey, b.ID)
	}
	other := nb
	other.B = agent(2)
	_, _, err = a.CreateBinding(ctx, other)
	wantErr(t, err, pool.ErrIdempotencyKey)
	// The key is per tenant.
	other.Tenant = "t2"
	_, replayed, err = a.CreateBinding(ctx, other)
	must(t, err)
	if replayed {
		t.Fatal("another tenant's key replayed")
	}
}

// holding is one (virtual number, party) pair of a live binding.
type holding struct{ number, party string }

// holdingsOf lists the pairs b routes, as the invariant counts them.
func holdingsOf(b pool.Binding) []holding {
	switch b.Mode {
	case pool.ModeAXN:
		return []holding{{b.Virtual, "*"}}
	case pool.ModeAXB:
		return []holding{{b.Virtual, b.A}, {b.Virtual, b.B}}
	case pool.ModeAXYB:
		return []holding{{b.Virtual, b.A}, {b.Y, b.B}}
	}
	return nil
}

// checkInvariant reads every live binding on ns and fails t if a (number, party)
// pair is held twice, an AXN binding shares its number, or a number carries more
// than max bindings. It returns the live bindings by ID.
func checkInvariant(t *testing.T, s pool.Store, ns []pool.VirtualNumber, max int) map[int64]pool.Binding {
	t.Helper()
	live := map[int64]pool.Binding{}
	for _, n := range ns {
		bs := activeOn(t, s, n.Number, time.Time{})
		carried := 0
		for _, b := range bs {
			live[b.ID] = b
			carried++
		}
		if carried > max {
			t.Errorf("number %s carries %d bindings, cap %d", n.Number, carried, max)
		}
	}
	held := map[holding]int64{}
	exclusive := map[string]int64{}
	perNumber := map[string]int{}
	for id, b := range live {
		for _, h := range holdingsOf(b) {
			if other, ok := held[h]; ok {
				t.Errorf("bindings %d and %d both hold party %s on %s", other, id, h.party, h.number)
			}
			held[h] = id
			perNumber[h.number]++
			if h.party == "*" {
				exclusive[h.number] = id
			}
		}
	}
	for n, id := range exclusive {
		if perNumber[n] > 1 {
			t.Errorf("AXN binding %d shares number %s", id, n)
		}
	}
	return live
}

func testAllocateConcurrent(t *testing.T, open Opener) {
	const (
		creates = 200
		max     = 20
	)
	clk := NewClock(t0)
	ns := append(virtualNumbers("p1", 1, 6), virtualNumbers("p2", 100, 4)...)
	s, a := openPools(t, open, pool.BindingRules{MaxPerNumber: max}, clk, ns)
	ctx := ctxT(t)
	type result struct {
		b   pool.BindingRecord
		err error
	}
	results := make([]result, creates)
	var wg sync.WaitGroup
	for i := range creates {
		wg.Go(func() {
			// Few parties, so that requests compete for the same pairs; every mode.
			nb := pool.NewBinding{Tenant: "t1", A: customer(i % 15), B: agent(i % 7), Pools: []string{"p1", "p2"}}
			switch i % 10 {
			case 0:
				nb.Mode, nb.A = pool.ModeAXN, ""
			case 1, 2:
				nb.Mode = pool.ModeAXYB
			default:
				nb.Mode = pool.ModeAXB
			}
			b, _, err := a.CreateBinding(ctx, nb)
			results[i] = result{b, err}
		})
	}
	wg.Wait()
	live := checkInvariant(t, s, ns, max)
	ok := 0
	for i, r := range results {
		switch {
		case r.err == nil:
			ok++
			if _, found := live[r.b.ID]; !found {
				t.Errorf("create %d: binding %d not active", i, r.b.ID)
			}
		case errors.Is(r.err, pool.ErrNoNumber), errors.Is(r.err, pool.ErrConflict):
		default:
			t.Errorf("create %d: %v", i, r.err)
		}
	}
	if ok != len(live) {
		t.Errorf("%d creates succeeded, %d bindings live", ok, len(live))
	}
	if ok == 0 {
		t.Fatal("no create succeeded")
	}
	t.Logf("%d of %d creates bound a number", ok, creates)
}

func testGetOrBindConcurrent(t *testing.T, open Opener) {
	const calls = 50
	clk := NewClock(t0)
	_, a := openPools(t, open, pool.BindingRules{}, clk, virtualNumbers("p1", 1, 20))
	ctx := ctxT(t)
	got := make([]int64, calls)
	created := make([]bool, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			nb := pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, A: customer(1), B: agent(1), Pools: []string{"p1"}}
			if i%2 == 1 {
				nb.A, nb.B = nb.B, nb.A
			}
			b, c, err := a.GetOrBind(ctx, nb)
			got[i], created[i], errs[i] = b.ID, c, err
		})
	}
	wg.Wait()
	n := 0
	for i := range calls {
		must(t, errs[i])
		if got[i] != got[0] {
			t.Fatalf("GetOrBind %d returned binding %d, %d returned %d", i, got[i], 0, got[0])
		}
		if created[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d calls created the binding, want 1", n)
	}
}
