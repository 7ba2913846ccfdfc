package pool

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func allocErr(t *testing.T, err error, sentinel error, reason AllocReason) {
	t.Helper()
	var ae *AllocationError
	if !errors.Is(err, sentinel) || !errors.As(err, &ae) || ae.Reason != reason {
		t.Fatalf("err = %v, want %v with reason %s", err, sentinel, reason)
	}
}

func TestCreateBindingModes(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{MaxPerNumber: 5}, clk, numbers("p1", "t1", 0, 2), numbers("p2", "", 100, 2))
	pools := []string{"p1", "p2"}

	axn := mustCreate(t, s, NewBinding{Tenant: "t1", Mode: ModeAXN, B: party('b', 1), Pools: pools,
		City: "Shenzhen", Channel: "sales"})
	if axn.Virtual != numbers("p1", "", 0, 1)[0].Number || axn.Trunk != "tr-p1" || axn.Pool != "p1" ||
		axn.City != "Shenzhen" || axn.Channel != "sales" || axn.Expiry != ExpiryNever || !axn.CreatedAt.Equal(t0) ||
		axn.Static || axn.ID == 0 {
		t.Errorf("AXN binding = %+v", axn)
	}
	axb := mustCreate(t, s, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 1), B: party('b', 1), Pools: pools,
		Expiry: ExpirySpec{Type: ExpiryAfterBind, Sec: 60}})
	if axb.Virtual == axn.Virtual || axb.Pool != "p1" || axb.Expiry != ExpiryAfterBind || axb.ExpirySec != 60 {
		t.Errorf("AXB binding = %+v; must not share the AXN number %s", axb, axn.Virtual)
	}
	axyb := mustCreate(t, s, NewBinding{Tenant: "t1", Mode: ModeAXYB, A: party('a', 2), B: party('b', 2), Pools: pools,
		Expiry: ExpirySpec{Type: ExpiryAt, At: at(time.Hour)}})
	if axyb.Y == "" || axyb.Y == axyb.Virtual || axyb.Y == axn.Virtual || axyb.Virtual == axn.Virtual ||
		axyb.YTrunk == "" || !axyb.ExpireAt.Equal(at(time.Hour)) {
		t.Errorf("AXYB binding = %+v", axyb)
	}
	// Routing sees them: X for A, and Y for B.
	for _, tc := range []struct {
		v    string
		want int64
	}{{axn.Virtual, axn.ID}, {axyb.Y, axyb.ID}} {
		bs, err := s.ActiveBindings(ctx, tc.v, t0)
		if err != nil || len(bs) == 0 || bs[len(bs)-1].ID != tc.want && bs[0].ID != tc.want {
			t.Errorf("ActiveBindings(%s) = %+v, %v; want binding %d", tc.v, bs, err, tc.want)
		}
	}
	checkInvariant(t, s, 5)

	// AXN is exclusive: 4 numbers, 3 in use (one AXN, two shared): one more AXN fits
	// only if some number is unused.
	free := 4 - distinctNumbers(axn.Binding, axb.Binding, axyb.Binding)
	for range free {
		mustCreate(t, s, NewBinding{Tenant: "t1", Mode: ModeAXN, B: party('b', 9), Pools: pools})
	}
	_, _, err := s.CreateBinding(ctx, NewBinding{Tenant: "t1", Mode: ModeAXN, B: party('b', 9), Pools: pools})
	allocErr(t, err, ErrNoNumber, ReasonAllBusy)
	checkInvariant(t, s, 5)
}

func distinctNumbers(bs ...Binding) int {
	seen := map[string]bool{}
	for _, b := range bs {
		seen[b.Virtual] = true
		if b.Y != "" {
			seen[b.Y] = true
		}
	}
	return len(seen)
}

func TestAllocationLimits(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{MaxPerNumber: 2}, clk, numbers("one", "t1", 0, 1), numbers("other", "t2", 50, 1))
	pools := []string{"one"}
	first := mustCreate(t, s, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 1), B: party('b', 1), Pools: pools})

	// A party may hold a number once: same A, other B → no number.
	_, _, err := s.CreateBinding(ctx, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 1), B: party('b', 2), Pools: pools})
	allocErr(t, err, ErrNoNumber, ReasonPartyBound)
	// B repeating is a conflict too (B reaches A through X).
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 3), B: party('b', 1), Pools: pools})
	allocErr(t, err, ErrNoNumber, ReasonPartyBound)
	// A new pair fits; then the number is at its cap.
	mustCreate(t, s, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 2), B: party('b', 2), Pools: pools})
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 3), B: party('b', 3), Pools: pools})
	allocErr(t, err, ErrNoNumber, ReasonAllBusy)
	// No pool at all.
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 3), B: party('b', 3)})
	allocErr(t, err, ErrNoNumber, ReasonNoPool)
	// A pool without numbers.
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 3), B: party('b', 3), Pools: []string{"empty"}})
	allocErr(t, err, ErrNoNumber, ReasonNoNumbers)

	// Asking for a number: taken for this party → conflict naming the party.
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 1), B: party('b', 7),
		X: first.Virtual, Pools: []string{"one", "other"}})
	allocErr(t, err, ErrConflict, ReasonNumberTaken)
	var ae *AllocationError
	if errors.As(err, &ae); ae.Party != party('a', 1) || ae.Number != first.Virtual {
		t.Errorf("conflict names %s on %s, want %s on %s", ae.Party, ae.Number, party('a', 1), first.Virtual)
	}
	// …a number of another pool is a bad field, not a conflict.
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 5), B: party('b', 5),
		X: numbers("other", "", 50, 1)[0].Number, Pools: pools})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "x" || !errors.Is(err, ErrInvalid) {
		t.Errorf("number outside the pools: err = %v, want a FieldError on x", err)
	}
	// …and a free one is granted.
	got := mustCreate(t, s, NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 1), B: party('b', 7),
		X: numbers("other", "", 50, 1)[0].Number, Pools: []string{"one", "other"}})
	if got.Virtual != numbers("other", "", 50, 1)[0].Number || got.Pool != "other" {
		t.Errorf("wanted number: got %+v", got)
	}
	checkInvariant(t, s, 2)
}

func TestCreateBindingRejects(t *testing.T) {
	ctx := context.Background()
	s := openPools(t, BindingRules{}, newClock(t0), numbers("p", "t", 0, 3))
	ok := NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 1), Pools: []string{"p"}}
	tests := []struct {
		name  string
		edit  func(*NewBinding)
		field string
	}{
		{"no tenant", func(nb *NewBinding) { nb.Tenant = "" }, "tenant"},
		{"bad mode", func(nb *NewBinding) { nb.Mode = "AXZ" }, "mode"},
		{"AXN with A", func(nb *NewBinding) { nb.Mode = ModeAXN }, "a"},
		{"AXB without A", func(nb *NewBinding) { nb.A = "" }, "a"},
		{"no B", func(nb *NewBinding) { nb.B = "" }, "b"},
		{"A is B", func(nb *NewBinding) { nb.B = nb.A }, "b"},
		{"Y on AXB", func(nb *NewBinding) { nb.Y = "+8675590000001" }, "y"},
		{"X is a party", func(nb *NewBinding) { nb.X = nb.A }, "x"},
		{"unknown expiry", func(nb *NewBinding) { nb.Expiry.Type = "soon" }, "expiry"},
		{"after_bind without seconds", func(nb *NewBinding) { nb.Expiry.Type = ExpiryAfterBind }, "expiry"},
		{"after_last_call too long", func(nb *NewBinding) { nb.Expiry = ExpirySpec{Type: ExpiryAfterLastCall, Sec: 1 << 40} }, "expiry"},
		{"at in the past", func(nb *NewBinding) { nb.Expiry = ExpirySpec{Type: ExpiryAt, At: t0.Add(-time.Second)} }, "expiry"},
		{"at with seconds", func(nb *NewBinding) { nb.Expiry = ExpirySpec{Type: ExpiryAt, At: at(time.Hour), Sec: 5} }, "expiry"},
		{"never with seconds", func(nb *NewBinding) { nb.Expiry = ExpirySpec{Type: ExpiryNever, Sec: 5} }, "expiry"},
		{"long key", func(nb *NewBinding) { nb.IdempotencyKey = string(make([]byte, 300)) }, "idempotency_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nb := ok
			tt.edit(&nb)
			_, _, err := s.CreateBinding(ctx, nb)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
	if n := count(t, s, `SELECT count(*) FROM bindings`); n != 0 {
		t.Errorf("rejected requests stored %d bindings", n)
	}
}

func TestCreateBindingIdempotent(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{}, clk, numbers("p", "", 0, 5))
	nb := NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 1), B: party('b', 1), Pools: []string{"p"},
		IdempotencyKey: "order-42", Expiry: ExpirySpec{Type: ExpiryAfterBind, Sec: 600}}
	first, replayed, err := s.CreateBinding(ctx, nb)
	if err != nil || replayed {
		t.Fatalf("first create: %+v, %v, %v", first, replayed, err)
	}
	clk.Set(at(time.Minute))
	again, replayed, err := s.CreateBinding(ctx, nb)
	if err != nil || !replayed || again.ID != first.ID || again.Virtual != first.Virtual || again.IdempotencyKey != "order-42" {
		t.Fatalf("replay: %+v, %v, %v; want binding %d replayed", again, replayed, err, first.ID)
	}
	// The pools are not part of the request's identity: a policy change between a
	// request and its retry does not fail the retry.
	nb2 := nb
	nb2.Pools = []string{"other"}
	if again, replayed, err := s.CreateBinding(ctx, nb2); err != nil || !replayed || again.ID != first.ID {
		t.Errorf("replay after a policy change: %+v, %v, %v", again, replayed, err)
	}
	diff := nb
	diff.B = party('b', 2)
	if _, _, err := s.CreateBinding(ctx, diff); !errors.Is(err, ErrIdempotencyKey) {
		t.Errorf("same key, other body: err = %v, want ErrIdempotencyKey", err)
	}
	// Keys are per tenant.
	other := nb
	other.Tenant = "t2"
	other.A, other.B = party('a', 3), party('b', 3)
	if b, replayed, err := s.CreateBinding(ctx, other); err != nil || replayed || b.ID == first.ID {
		t.Errorf("same key, other tenant: %+v, %v, %v", b, replayed, err)
	}
	// The key still answers after the binding is gone.
	if _, err := s.DeleteBinding(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if b, replayed, err := s.CreateBinding(ctx, nb); err != nil || !replayed || b.ID != first.ID || b.DeletedAt.IsZero() {
		t.Errorf("replay of a deleted binding: %+v, %v, %v", b, replayed, err)
	}
	// Concurrent first uses of one key make one binding.
	var wg sync.WaitGroup
	ids := make([]int64, 20)
	fresh := nb
	fresh.IdempotencyKey, fresh.A, fresh.B = "order-43", party('a', 9), party('b', 9)
	for i := range ids {
		wg.Go(func() {
			b, _, err := s.CreateBinding(ctx, fresh)
			if err != nil {
				t.Error(err)
			}
			ids[i] = b.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent creates with one key made bindings %v", ids)
		}
	}
}

func TestGetOrBind(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{CoolDown: -1}, clk, numbers("p", "", 0, 3))
	nb := NewBinding{Tenant: "t1", Mode: ModeAXB, A: party('a', 1), B: party('b', 1), Pools: []string{"p"},
		Expiry: ExpirySpec{Type: ExpiryAfterLastCall, Sec: 3600}}
	b1, created, err := s.GetOrBind(ctx, nb)
	if err != nil || !created {
		t.Fatalf("first: %+v, %v, %v", b1, created, err)
	}
	b2, created, err := s.GetOrBind(ctx, nb)
	if err != nil || created || b2.ID != b1.ID {
		t.Fatalf("second: %+v, %v, %v; want binding %d", b2, created, err, b1.ID)
	}
	// AXB is symmetric: the pair asked the other way round is the same binding.
	swapped := nb
	swapped.A, swapped.B = nb.B, nb.A
	if b, created, err := s.GetOrBind(ctx, swapped); err != nil || created || b.ID != b1.ID {
		t.Errorf("swapped pair: %+v, %v, %v", b, created, err)
	}
	// Another tenant's binding of the same pair is not this tenant's.
	other := nb
	other.Tenant = "t2"
	if _, created, err := s.GetOrBind(ctx, other); err == nil && !created {
		t.Errorf("tenant t2 got tenant t1's binding")
	}
	// Expired (not yet reclaimed): a new binding.
	clk.Set(at(2 * time.Hour))
	b3, created, err := s.GetOrBind(ctx, nb)
	if err != nil || !created || b3.ID == b1.ID || b3.Virtual == b1.Virtual {
		t.Errorf("after expiry: %+v, %v, %v; want a new binding on another number (the old still holds %s)", b3, created, err, b1.Virtual)
	}
	// Reclaimed: again a new binding.
	if _, err := s.DeleteBinding(ctx, b3.ID); err != nil {
		t.Fatal(err)
	}
	b4, created, err := s.GetOrBind(ctx, nb)
	if err != nil || !created || b4.ID == b3.ID {
		t.Errorf("after unbind: %+v, %v, %v", b4, created, err)
	}
	// Concurrent calls for one new pair make one binding.
	pair := nb
	pair.A, pair.B = party('a', 7), party('b', 7)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids, createdN := map[int64]bool{}, 0
	for range 20 {
		wg.Go(func() {
			b, created, err := s.GetOrBind(ctx, pair)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[b.ID] = true
			if created {
				createdN++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != 1 || createdN != 1 {
		t.Errorf("20 concurrent GetOrBind: %d bindings, %d created; want 1 and 1", len(ids), createdN)
	}
	checkInvariant(t, s, DefaultMaxPerNumber)
}

func TestUpdateBinding(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{CoolDown: time.Hour}, clk, numbers("p", "", 0, 1), numbers("q", "", 10, 1))
	pools := []string{"p"}
	b := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 1), Pools: pools})
	other := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 2), B: party('b', 2), Pools: pools})

	// B taken on X by another binding: conflict, nothing changes.
	_, err := s.UpdateBinding(ctx, b.ID, BindingPatch{B: other.A})
	allocErr(t, err, ErrConflict, ReasonNumberTaken)
	if got, _ := bindingByID(t, s, b.ID); got.B != party('b', 1) {
		t.Errorf("failed update changed B to %s", got.B)
	}
	if _, err := s.UpdateBinding(ctx, b.ID, BindingPatch{B: b.A}); !errors.Is(err, ErrInvalid) {
		t.Errorf("B = A: err = %v", err)
	}

	clk.Set(at(time.Minute))
	got, err := s.UpdateBinding(ctx, b.ID, BindingPatch{B: party('b', 9),
		Expiry: &ExpirySpec{Type: ExpiryAt, At: at(2 * time.Hour)}})
	if err != nil || got.B != party('b', 9) || got.Expiry != ExpiryAt || !got.ExpireAt.Equal(at(2*time.Hour)) ||
		!got.UpdatedAt.Equal(at(time.Minute)) {
		t.Fatalf("update: %+v, %v", got, err)
	}
	// The old B now cools down on X: it cannot be bound there again for an hour.
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 3), B: party('b', 1), Pools: pools})
	allocErr(t, err, ErrNoNumber, ReasonPartyBound)
	clk.Set(at(time.Minute + time.Hour))
	mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 3), B: party('b', 1), Pools: pools})

	// Routing follows the new B at once.
	bs, err := s.ActiveBindings(ctx, b.Virtual, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range bs {
		found = found || x.ID == b.ID && x.B == party('b', 9)
	}
	if !found {
		t.Errorf("ActiveBindings after update = %+v", bs)
	}

	// An AXN binding's new B keeps the whole number held.
	axn := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXN, B: party('b', 20), Pools: []string{"q"}})
	if _, err := s.UpdateBinding(ctx, axn.ID, BindingPatch{B: party('b', 21)}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM binding_parties WHERE binding_id = ? AND party = '*' AND cooling_until IS NULL`, axn.ID); n != 1 {
		t.Errorf("AXN binding holds %d live pairs after its B changed, want its number", n)
	}

	// Expired, deleted and static bindings cannot be changed.
	clk.Set(at(3 * time.Hour))
	if _, err := s.UpdateBinding(ctx, b.ID, BindingPatch{B: party('b', 8)}); !errors.Is(err, ErrEnded) {
		t.Errorf("expired: err = %v, want ErrEnded", err)
	}
	if _, err := s.DeleteBinding(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateBinding(ctx, other.ID, BindingPatch{Expiry: &ExpirySpec{Type: ExpiryNever}}); !errors.Is(err, ErrEnded) {
		t.Errorf("deleted: err = %v, want ErrEnded", err)
	}
	if err := s.SyncStaticBindings(ctx, []Binding{{Tenant: "t", Mode: ModeAXN, Virtual: "+8675511111111", B: party('b', 5)}}); err != nil {
		t.Fatal(err)
	}
	static := only(t, s, "+8675511111111", clk.Now())
	if _, err := s.UpdateBinding(ctx, static.ID, BindingPatch{B: party('b', 6)}); !errors.Is(err, ErrStatic) {
		t.Errorf("static: err = %v, want ErrStatic", err)
	}
	if _, err := s.DeleteBinding(ctx, static.ID); !errors.Is(err, ErrStatic) {
		t.Errorf("delete static: err = %v, want ErrStatic", err)
	}
	if _, err := s.UpdateBinding(ctx, 9999, BindingPatch{B: party('b', 6)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: err = %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateBinding(ctx, b.ID, BindingPatch{Expiry: &ExpirySpec{Type: ExpiryAfterBind}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad expiry: err = %v, want ErrInvalid", err)
	}
	checkInvariant(t, s, DefaultMaxPerNumber)
}

// Unbinding is a soft delete: routing stops, the row stays, and a call in progress
// through it (which took its binding at setup) can still record its times.
func TestDeleteBindingIsSoft(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{CoolDown: 10 * time.Minute}, clk, numbers("p", "", 0, 1))
	pools := []string{"p"}
	b := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 1), Pools: pools})
	if err := s.TouchBinding(ctx, b.ID, at(time.Second)); err != nil { // the call is set up
		t.Fatal(err)
	}
	clk.Set(at(time.Minute))
	del, err := s.DeleteBinding(ctx, b.ID)
	if err != nil || !del.DeletedAt.Equal(at(time.Minute)) || del.EndReason != EndUnbound {
		t.Fatalf("delete: %+v, %v", del, err)
	}
	if bs, _ := s.ActiveBindings(ctx, b.Virtual, clk.Now()); len(bs) != 0 {
		t.Errorf("unbound binding still routes: %+v", bs)
	}
	if err := s.TouchBinding(ctx, b.ID, at(2*time.Minute)); err != nil { // the call ends later
		t.Errorf("touch after unbind: %v", err)
	}
	if got, deleted := bindingByID(t, s, b.ID); deleted.IsZero() || !got.LastCall.Equal(at(2*time.Minute)) {
		t.Errorf("after unbind: %+v", got)
	}
	again, err := s.DeleteBinding(ctx, b.ID)
	if err != nil || !again.DeletedAt.Equal(del.DeletedAt) {
		t.Errorf("second delete: %+v, %v", again, err)
	}
	if _, err := s.DeleteBinding(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	// Its parties cool down on X; others may bind X at once.
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 2), Pools: pools})
	allocErr(t, err, ErrNoNumber, ReasonPartyBound)
	mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 3), B: party('b', 3), Pools: pools})
	// An AXN binding needs X alone: not while pairs cool on it or others hold it.
	_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t", Mode: ModeAXN, B: party('b', 4), Pools: pools})
	allocErr(t, err, ErrNoNumber, ReasonAllBusy)
	clk.Set(at(11 * time.Minute))
	mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 2), Pools: pools})
	if n := count(t, s, tooSoonQuery, (10 * time.Minute).Milliseconds()); n != 0 {
		t.Errorf("%d pairs bound again within their cool-down", n)
	}
}

func TestListBindings(t *testing.T) {
	ctx := context.Background()
	s := openPools(t, BindingRules{}, newClock(t0), numbers("p", "", 0, 3))
	pools := []string{"p"}
	var made []BindingRecord
	for i := range 7 {
		tenant := "t1"
		if i%2 == 1 {
			tenant = "t2"
		}
		made = append(made, mustCreate(t, s, NewBinding{Tenant: tenant, Mode: ModeAXB, A: party('a', i), B: party('b', i%3), Pools: pools}))
	}
	if _, err := s.DeleteBinding(ctx, made[0].ID); err != nil {
		t.Fatal(err)
	}
	// Page through t1's live bindings two at a time: 2, 4, 6.
	var got []int64
	var cursor int64
	for pages := 0; ; pages++ {
		bs, next, err := s.ListBindings(ctx, BindingFilter{Tenant: "t1", After: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			got = append(got, b.ID)
		}
		if next == 0 {
			break
		}
		cursor = next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	want := []int64{made[2].ID, made[4].ID, made[6].ID}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("t1 bindings = %v, want %v", got, want)
	}
	bs, _, err := s.ListBindings(ctx, BindingFilter{Party: party('b', 1)})
	if err != nil || len(bs) != 2 {
		t.Errorf("party b1: %d bindings, %v; want 2", len(bs), err)
	}
	bs, _, err = s.ListBindings(ctx, BindingFilter{Virtual: made[1].Virtual, Tenant: "t2"})
	if err != nil || len(bs) == 0 {
		t.Errorf("by virtual: %+v, %v", bs, err)
	}
	for _, b := range bs {
		if b.Virtual != made[1].Virtual || b.Tenant != "t2" {
			t.Errorf("by virtual: got %+v", b)
		}
	}
}

func TestSyncVirtualNumbers(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{}, clk, numbers("p", "", 0, 3))
	pools := []string{"p"}
	ns := numbers("p", "", 0, 3)
	// A static AXN binding on a pooled number keeps it out of allocation.
	if err := s.SyncStaticBindings(ctx, []Binding{{Tenant: "t", Mode: ModeAXN, Virtual: ns[0].Number, B: party('b', 1)}}); err != nil {
		t.Fatal(err)
	}
	b := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 2), Pools: pools})
	if b.Virtual == ns[0].Number {
		t.Fatalf("allocated the number of a static AXN binding")
	}
	// Drop the number in use and the static one's from the config: retired, not
	// allocated, but the live binding still routes.
	keep := []VirtualNumber{}
	for _, n := range ns {
		if n.Number != b.Virtual && n.Number != ns[0].Number {
			keep = append(keep, n)
		}
	}
	if err := s.SyncVirtualNumbers(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM virtual_numbers WHERE state = 'retired'`); n != 2 {
		t.Errorf("retired numbers = %d, want 2", n)
	}
	if bs, _ := s.ActiveBindings(ctx, b.Virtual, t0); len(bs) != 1 {
		t.Errorf("binding on a retired number stopped routing")
	}
	mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 3), B: party('b', 3), Pools: pools})
	_, _, err := s.CreateBinding(ctx, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 3), B: party('b', 4), Pools: pools})
	allocErr(t, err, ErrNoNumber, ReasonPartyBound)
	// Back in the config: available again, with its count recomputed.
	if _, err := s.w.Exec(`UPDATE virtual_numbers SET bound = 77`); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncVirtualNumbers(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM virtual_numbers WHERE state = 'available'`); n != 3 {
		t.Errorf("available numbers = %d, want 3", n)
	}
	checkInvariant(t, s, DefaultMaxPerNumber)
	for _, bad := range [][]VirtualNumber{{{Number: "", Pool: "p"}}, {ns[0], ns[0]}} {
		if err := s.SyncVirtualNumbers(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SyncVirtualNumbers(%v) = %v, want ErrInvalid", bad, err)
		}
	}
}

// A database made before 0003 gets its live bindings' pairs on migrating.
func TestMigration0003Backfills(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	all := mustSub(t)
	ms, err := loadMigrations(fstest.MapFS{"0001_init.sql": all["0001_init.sql"], "0002_feedback.sql": all["0002_feedback.sql"]})
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSQLite(ctx, path, ms, settings{now: newClock(t0).Now, log: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO bindings (tenant, mode, virtual, party_a, party_b, y, created_at) VALUES
		('t', 'AXB', '+8675590000000', '+86138', '+86139', '', 1),
		('t', 'AXYB', '+8675590000001', '+86138', '+86139', '+8675590000002', 1),
		('t', 'AXN', '+8675590000003', '', '+86139', '', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, WithClock(newClock(t0).Now))
	if err := s.SyncVirtualNumbers(ctx, numbers("p", "", 0, 5)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM binding_parties`); n != 5 {
		t.Errorf("backfilled pairs = %d, want 5", n)
	}
	checkInvariant(t, s, DefaultMaxPerNumber)
	// The one number no binding uses is the only one an AXN binding may take.
	b := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXN, B: party('b', 1), Pools: []string{"p"}})
	if b.Virtual != "+8675590000004" {
		t.Errorf("AXN got %s, want the unused +8675590000004", b.Virtual)
	}
}

// The primary key of binding_parties is the invariant's last line of defence: a
// claim of a pair someone holds fails with ErrConflict even if allocation missed it.
func TestClaimPartiesConstraint(t *testing.T) {
	ctx := context.Background()
	s := openPools(t, BindingRules{}, newClock(t0), numbers("p", "", 0, 1))
	b := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 1), Pools: []string{"p"}})
	err := s.write(ctx, func(tx *sql.Tx) error {
		return claimParties(ctx, tx, b.ID+1, []holding{{b.Virtual, party('a', 1)}}, t0)
	})
	allocErr(t, err, ErrConflict, ReasonNumberTaken)
	// A pair whose cool-down is over is taken over.
	if _, err := s.DeleteBinding(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return claimParties(ctx, tx, b.ID, []holding{{b.Virtual, party('a', 1)}}, t0.Add(DefaultCoolDown))
	})
	if err != nil {
		t.Errorf("claim after the cool-down: %v", err)
	}
}
