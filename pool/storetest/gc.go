package storetest

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callgate/pool"
)

// Every expiry type, on bindings made through CreateBinding under an injected
// clock: routing stops exactly at the end (before any GC), and the GC reclaims the
// binding exactly then, not a millisecond before.
func testGCExpiryTypes(t *testing.T, open Opener) {
	const n = 60 // seconds
	sec := func(k int) time.Time { return t0.Add(time.Duration(k) * time.Second) }
	hour := func(k int) time.Time { return t0.Add(time.Duration(k) * time.Hour) }
	tests := []struct {
		name    string
		expiry  pool.ExpirySpec
		touches []time.Time
		end     time.Time // first instant it no longer routes; zero: never (until GC'd idle)
		gcAt    time.Time // when the GC reclaims it
		reason  pool.EndReason
	}{
		{"never, idle from creation", pool.ExpirySpec{Type: pool.ExpiryNever}, nil, time.Time{}, hour(72), pool.EndIdle},
		{"never, idle from last call", pool.ExpirySpec{Type: pool.ExpiryNever}, []time.Time{hour(1), hour(48)}, time.Time{}, hour(120), pool.EndIdle},
		{"after_bind", pool.ExpirySpec{Type: pool.ExpiryAfterBind, Sec: n}, []time.Time{sec(30)}, sec(n), sec(n), pool.EndExpired},
		{"after_first_call", pool.ExpirySpec{Type: pool.ExpiryAfterFirstCall, Sec: n}, []time.Time{sec(100), sec(150)}, sec(100 + n), sec(100 + n), pool.EndExpired},
		{"after_last_call, never called", pool.ExpirySpec{Type: pool.ExpiryAfterLastCall, Sec: n}, nil, sec(n), sec(n), pool.EndExpired},
		{"after_last_call", pool.ExpirySpec{Type: pool.ExpiryAfterLastCall, Sec: n}, []time.Time{sec(30), sec(200), sec(100)}, sec(200 + n), sec(200 + n), pool.EndExpired},
		{"at", pool.ExpirySpec{Type: pool.ExpiryAt, At: sec(500)}, []time.Time{sec(10)}, sec(500), sec(500), pool.EndExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := NewClock(t0)
			s, m := openManaged(t, open, pool.BindingRules{CoolDown: time.Minute}, clk, virtualNumbers("p", 1, 1))
			ctx := ctxT(t)
			nb := axb(1, 1, "p")
			nb.Expiry = tt.expiry
			b := mustCreate(t, m, nb)
			for _, at := range tt.touches {
				must(t, s.TouchBinding(ctx, b.ID, at))
			}
			routes := func(at time.Time) bool { return len(activeOn(t, s, b.Virtual, at)) == 1 }
			if !routes(t0) {
				t.Fatal("does not route when made")
			}
			if !tt.end.IsZero() {
				if !routes(tt.end.Add(-time.Millisecond)) || routes(tt.end) {
					t.Fatalf("routes until +%v: want true just before and false at it", tt.end.Sub(t0))
				}
			} else if !routes(hour(10 * 365 * 24)) {
				t.Fatal("a binding without end stopped routing")
			}
			if r, err := m.CollectGarbage(ctx, tt.gcAt.Add(-time.Millisecond)); err != nil || len(r.Reclaimed) != 0 {
				t.Fatalf("GC a millisecond early: %+v, %v; want nothing", r, err)
			}
			r, err := m.CollectGarbage(ctx, tt.gcAt)
			must(t, err)
			if len(r.Reclaimed) != 1 || r.Reclaimed[0].ID != b.ID || r.Reclaimed[0].EndReason != tt.reason ||
				!r.Reclaimed[0].DeletedAt.Equal(tt.gcAt) {
				t.Fatalf("GC at +%v: %+v; want binding %d reclaimed as %s", tt.gcAt.Sub(t0), r, b.ID, tt.reason)
			}
			if got := r.Expired + r.Idle; got != 1 || (tt.reason == pool.EndIdle) != (r.Idle == 1) {
				t.Fatalf("GC counts expired %d idle %d", r.Expired, r.Idle)
			}
			got := readBinding(t, m, b.ID)
			if !got.DeletedAt.Equal(tt.gcAt) || got.EndReason != tt.reason {
				t.Fatalf("stored after GC: deleted %v reason %q", got.DeletedAt, got.EndReason)
			}
			if tt.end.IsZero() && routes(tt.gcAt.Add(-time.Hour)) {
				t.Fatal("an idle-reclaimed binding still routes")
			}
			// Its pairs cool down for a minute, then the GC frees them.
			clk.Set(tt.gcAt)
			_, _, err = m.CreateBinding(ctx, axb(1, 2, "p"))
			allocErr(t, err, pool.ErrNoNumber, pool.ReasonPartyBound)
			if r, err := m.CollectGarbage(ctx, tt.gcAt.Add(time.Minute)); err != nil || r.Released != 2 {
				t.Fatalf("GC after the cool-down: %+v, %v; want 2 pairs released", r, err)
			}
			clk.Set(tt.gcAt.Add(time.Minute))
			mustCreate(t, m, axb(1, 2, "p"))
		})
	}
}

func testGCSettings(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s, m := openManaged(t, open, pool.BindingRules{IdleReclaim: -1, CoolDown: -1}, clk, virtualNumbers("p", 1, 1))
	ctx := ctxT(t)
	axn := pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXN, B: agent(1), Pools: []string{"p"}}
	b := mustCreate(t, m, axn)
	if r, err := m.CollectGarbage(ctx, t0.Add(365*24*time.Hour)); err != nil || len(r.Reclaimed) != 0 {
		t.Fatalf("idle reclaim off: %+v, %v", r, err)
	}
	_, err := m.DeleteBinding(ctx, b.ID)
	must(t, err)
	// No cool-down: the number is free at once.
	mustCreate(t, m, axn)

	// Static bindings are the config's: the GC leaves them, though expired ones do
	// not route.
	must(t, s.SyncStaticBindings(ctx, []pool.Binding{{Tenant: "t1", Mode: pool.ModeAXN, Virtual: "+8675511111111", B: agent(2),
		Expiry: pool.ExpiryAfterBind, ExpirySec: 1}}))
	m.SetBindingRules(pool.BindingRules{IdleReclaim: time.Hour})
	r, err := m.CollectGarbage(ctx, t0.Add(48*time.Hour))
	must(t, err)
	if len(r.Reclaimed) != 1 || r.Reclaimed[0].Static || r.Idle != 1 {
		t.Fatalf("GC with static bindings: %+v; want only the API binding reclaimed", r)
	}
	if bs := activeOn(t, s, "+8675511111111", t0.Add(2*time.Second)); len(bs) != 0 {
		t.Fatal("an expired static binding routes")
	}
	if bs := activeOn(t, s, "+8675511111111", t0); len(bs) != 1 {
		t.Fatal("the GC ended a static binding")
	}
}

// A backlog larger than one GC batch (500) is reclaimed whole, and the numbers are
// free again afterwards.
func testGCBatches(t *testing.T, open Opener) {
	const (
		total   = 2*500 + 17
		perNum  = 200
		numbers = total/perNum + 1
	)
	clk := NewClock(t0)
	_, m := openManaged(t, open, pool.BindingRules{MaxPerNumber: perNum, CoolDown: time.Minute}, clk, virtualNumbers("p", 1, numbers))
	ctx := ctxT(t)
	for i := range total {
		nb := pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXB, A: customer(i), B: agent(i), Pools: []string{"p"},
			Expiry: pool.ExpirySpec{Type: pool.ExpiryAfterBind, Sec: int64(1 + i%7)}}
		mustCreate(t, m, nb)
	}
	r, err := m.CollectGarbage(ctx, t0.Add(time.Minute))
	must(t, err)
	if r.Expired != total || len(r.Reclaimed) != total {
		t.Fatalf("GC: expired %d, reclaimed %d; want %d", r.Expired, len(r.Reclaimed), total)
	}
	seen := map[int64]bool{}
	for i, b := range r.Reclaimed {
		if seen[b.ID] || b.EndReason != pool.EndExpired || !b.DeletedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("reclaimed[%d] = %+v (seen before: %v)", i, b, seen[b.ID])
		}
		seen[b.ID] = true
	}
	if bs, _, err := m.ListBindings(ctx, pool.BindingFilter{}); err != nil || len(bs) != 0 {
		t.Fatalf("%d bindings left live, %v", len(bs), err)
	}
	r, err = m.CollectGarbage(ctx, t0.Add(2*time.Minute))
	must(t, err)
	if r.Released != 2*total || len(r.Reclaimed) != 0 {
		t.Fatalf("GC after the cool-down: released %d reclaimed %d, want %d pairs released", r.Released, len(r.Reclaimed), 2*total)
	}
	// Every number is free: an AXN binding, which needs a number alone, gets each.
	clk.Set(t0.Add(2 * time.Minute))
	for i := range numbers {
		mustCreate(t, m, pool.NewBinding{Tenant: "t1", Mode: pool.ModeAXN, B: agent(i), Pools: []string{"p"}})
	}
}

// The GC runs in a loop, with the clock moving, while allocators bind and unbind:
// live bindings never share a (number, party), numbers never exceed their cap, and
// no pair is bound again within its cool-down after its binding ended.
func testGCRacesAllocation(t *testing.T, open Opener) {
	const (
		workers   = 8
		perWorker = 120
		maxPer    = 3
		coolDown  = 2 * time.Second
	)
	clk := NewClock(t0)
	ns := virtualNumbers("p", 1, 20)
	s, m := openManaged(t, open, pool.BindingRules{MaxPerNumber: maxPer, CoolDown: coolDown, IdleReclaim: 5 * time.Second}, clk, ns)
	ctx := ctxT(t)
	stop := make(chan struct{})
	var gcRuns, reclaimed atomic.Int64
	var bg sync.WaitGroup
	bg.Go(func() { // the GC, with a clock that moves 250 ms per pass
		for {
			select {
			case <-stop:
				return
			default:
			}
			clk.Advance(250 * time.Millisecond)
			r, err := m.CollectGarbage(ctx, clk.Now())
			if err != nil {
				t.Error(err)
				return
			}
			gcRuns.Add(1)
			reclaimed.Add(int64(len(r.Reclaimed)))
		}
	})
	var (
		mu      sync.Mutex
		made    []int64
		refused atomic.Int64
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			modes := []pool.Mode{pool.ModeAXB, pool.ModeAXB, pool.ModeAXYB, pool.ModeAXN}
			for i := range perWorker {
				nb := pool.NewBinding{Tenant: "t1", Mode: modes[rng.IntN(len(modes))], A: customer(rng.IntN(60)),
					B: agent(rng.IntN(60)), Pools: []string{"p"}}
				if nb.Mode == pool.ModeAXN {
					nb.A = ""
				}
				switch rng.IntN(3) {
				case 0:
					nb.Expiry = pool.ExpirySpec{Type: pool.ExpiryAfterBind, Sec: int64(1 + rng.IntN(3))}
				case 1:
					nb.Expiry = pool.ExpirySpec{Type: pool.ExpiryAfterLastCall, Sec: 1}
				}
				b, _, err := m.CreateBinding(ctx, nb)
				switch {
				case errIs(err, pool.ErrNoNumber):
					refused.Add(1)
					continue
				case err != nil:
					t.Errorf("worker %d create %d: %v", w, i, err)
					return
				}
				mu.Lock()
				made = append(made, b.ID)
				mu.Unlock()
				if rng.IntN(4) == 0 {
					if _, err := m.DeleteBinding(ctx, b.ID); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	t.Logf("%d bindings made, %d refused, %d reclaimed over %d GC passes", len(made), refused.Load(), reclaimed.Load(), gcRuns.Load())
	if len(made) == 0 || reclaimed.Load() == 0 || gcRuns.Load() == 0 {
		t.Fatalf("the race did not happen: made %d, reclaimed %d, GC passes %d", len(made), reclaimed.Load(), gcRuns.Load())
	}
	checkInvariant(t, s, ns, maxPer)
	checkCoolDowns(t, m, made, coolDown)
}

// checkCoolDowns reads bindings ids and fails t if one took a (number, party) pair
// (or, AXN, a whole number) that an earlier one held, before that one ended plus
// the cool-down.
func checkCoolDowns(t *testing.T, m Manager, ids []int64, cool time.Duration) {
	t.Helper()
	type hold struct {
		b     pool.BindingRecord
		party string
	}
	byNumber := map[string][]hold{}
	for _, id := range ids {
		b := readBinding(t, m, id)
		for _, h := range holdingsOf(b.Binding) {
			byNumber[h.number] = append(byNumber[h.number], hold{b, h.party})
		}
	}
	bad := 0
	for n, hs := range byNumber {
		for i, h1 := range hs {
			for _, h2 := range hs[i+1:] {
				first, second := h1, h2
				if second.b.ID < first.b.ID {
					first, second = second, first
				}
				if first.party != second.party && first.party != "*" && second.party != "*" {
					continue
				}
				if first.b.DeletedAt.IsZero() || second.b.CreatedAt.Before(first.b.DeletedAt.Add(cool)) {
					bad++
					if bad <= 5 {
						t.Errorf("on %s binding %d (party %s, created %v) while %d (party %s) held it until %v",
							n, second.b.ID, second.party, second.b.CreatedAt.Sub(t0), first.b.ID, first.party, first.b.DeletedAt.Sub(t0))
					}
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d pairs were bound again while held or cooling down", bad)
	}
}
