package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every expiry type, on bindings made through CreateBinding under an injected clock:
// routing stops exactly at the end (before any GC), and the GC reclaims the binding
// exactly then, not a millisecond before.
func TestExpiryTypesAndGC(t *testing.T) {
	const n = 60 // seconds
	sec := func(k int) time.Time { return t0.Add(time.Duration(k) * time.Second) }
	hour := func(k int) time.Time { return t0.Add(time.Duration(k) * time.Hour) }
	tests := []struct {
		name    string
		expiry  ExpirySpec
		touches []time.Time
		end     time.Time // first instant it no longer routes; zero: never (until GC'd idle)
		gcAt    time.Time // when the GC reclaims it
		reason  EndReason
	}{
		{"never, idle from creation", ExpirySpec{Type: ExpiryNever}, nil, time.Time{}, hour(72), EndIdle},
		{"never, idle from last call", ExpirySpec{Type: ExpiryNever}, []time.Time{hour(1), hour(48)}, time.Time{}, hour(120), EndIdle},
		{"after_bind", ExpirySpec{Type: ExpiryAfterBind, Sec: n}, []time.Time{sec(30)}, sec(n), sec(n), EndExpired},
		{"after_first_call", ExpirySpec{Type: ExpiryAfterFirstCall, Sec: n}, []time.Time{sec(100), sec(150)}, sec(100 + n), sec(100 + n), EndExpired},
		{"after_last_call, never called", ExpirySpec{Type: ExpiryAfterLastCall, Sec: n}, nil, sec(n), sec(n), EndExpired},
		{"after_last_call", ExpirySpec{Type: ExpiryAfterLastCall, Sec: n}, []time.Time{sec(30), sec(200), sec(100)}, sec(200 + n), sec(200 + n), EndExpired},
		{"at", ExpirySpec{Type: ExpiryAt, At: sec(500)}, []time.Time{sec(10)}, sec(500), sec(500), EndExpired},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0)
			s := openPools(t, BindingRules{CoolDown: time.Minute}, clk, numbers("p", "", 0, 1))
			b := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 1),
				Pools: []string{"p"}, Expiry: tt.expiry})
			for _, at := range tt.touches {
				if err := s.TouchBinding(ctx, b.ID, at); err != nil {
					t.Fatal(err)
				}
			}
			routes := func(at time.Time) bool {
				bs, err := s.ActiveBindings(ctx, b.Virtual, at)
				if err != nil {
					t.Fatal(err)
				}
				return len(bs) == 1
			}
			if !routes(t0) {
				t.Error("does not route when made")
			}
			if !tt.end.IsZero() {
				if !routes(tt.end.Add(-time.Millisecond)) || routes(tt.end) {
					t.Errorf("routes until %v: want true just before +%v and false at it", tt.end.Sub(t0), tt.end.Sub(t0))
				}
			} else if !routes(hour(10 * 365 * 24)) {
				t.Error("a binding without end stopped routing")
			}
			// GC just before: nothing; at: reclaimed.
			if r, err := s.CollectGarbage(ctx, tt.gcAt.Add(-time.Millisecond)); err != nil || len(r.Reclaimed) != 0 {
				t.Fatalf("GC at +%v: %+v, %v; want nothing", tt.gcAt.Add(-time.Millisecond).Sub(t0), r, err)
			}
			r, err := s.CollectGarbage(ctx, tt.gcAt)
			if err != nil || len(r.Reclaimed) != 1 || r.Reclaimed[0].ID != b.ID || r.Reclaimed[0].EndReason != tt.reason {
				t.Fatalf("GC at +%v: %+v, %v; want binding %d reclaimed as %s", tt.gcAt.Sub(t0), r, err, b.ID, tt.reason)
			}
			got, deleted := bindingByID(t, s, b.ID)
			if !deleted.Equal(tt.gcAt) || got.EndReason != tt.reason {
				t.Errorf("stored after GC: deleted %v reason %q", deleted, got.EndReason)
			}
			if routes(tt.gcAt.Add(-time.Hour)) && tt.end.IsZero() {
				t.Error("an idle-reclaimed binding still routes")
			}
			// Its pairs cool down for a minute, then the GC frees them.
			clk.Set(tt.gcAt)
			_, _, err = s.CreateBinding(ctx, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 2), Pools: []string{"p"}})
			allocErr(t, err, ErrNoNumber, ReasonPartyBound)
			if r, err := s.CollectGarbage(ctx, tt.gcAt.Add(time.Minute)); err != nil || r.Released != 2 {
				t.Errorf("GC after the cool-down: %+v, %v; want 2 pairs released", r, err)
			}
			clk.Set(tt.gcAt.Add(time.Minute))
			mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', 1), B: party('b', 2), Pools: []string{"p"}})
		})
	}
}

func TestGCSettings(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	// Idle reclaim off; cool-down off.
	s := openPools(t, BindingRules{IdleReclaim: -1, CoolDown: -1}, clk, numbers("p", "", 0, 1))
	b := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXN, B: party('b', 1), Pools: []string{"p"}})
	if r, err := s.CollectGarbage(ctx, t0.Add(365*24*time.Hour)); err != nil || len(r.Reclaimed) != 0 {
		t.Errorf("idle reclaim off: %+v, %v", r, err)
	}
	if _, err := s.DeleteBinding(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	// No cool-down: the number is free at once.
	mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXN, B: party('b', 1), Pools: []string{"p"}})

	// Static bindings are the config's: the GC leaves them, though expired ones do
	// not route.
	if err := s.SyncStaticBindings(ctx, []Binding{{Tenant: "t", Mode: ModeAXN, Virtual: "+8675511111111", B: party('b', 2),
		Expiry: ExpiryAfterBind, ExpirySec: 1}}); err != nil {
		t.Fatal(err)
	}
	s.SetBindingRules(BindingRules{IdleReclaim: time.Hour})
	if r, err := s.CollectGarbage(ctx, t0.Add(48*time.Hour)); err != nil || len(r.Reclaimed) != 1 || r.Reclaimed[0].Static {
		t.Errorf("GC with static bindings: %+v, %v; want only the API binding reclaimed", r, err)
	}
	if bs, _ := s.ActiveBindings(ctx, "+8675511111111", t0.Add(2*time.Second)); len(bs) != 0 {
		t.Errorf("expired static binding routes")
	}
}

// A backlog larger than one batch is reclaimed whole.
func TestGCBatches(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	const total = 2*gcBatch + 17
	s := openPools(t, BindingRules{MaxPerNumber: 200}, clk, numbers("p", "", 0, total/200+1))
	for i := range total {
		mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', i), B: party('b', i), Pools: []string{"p"},
			Expiry: ExpirySpec{Type: ExpiryAfterBind, Sec: int64(1 + i%7)}})
	}
	r, err := s.CollectGarbage(ctx, t0.Add(time.Minute))
	if err != nil || r.Expired != total || len(r.Reclaimed) != total {
		t.Fatalf("GC: expired %d, reclaimed %d, %v; want %d", r.Expired, len(r.Reclaimed), err, total)
	}
	if n := count(t, s, `SELECT count(*) FROM bindings WHERE deleted_at IS NULL`); n != 0 {
		t.Errorf("%d bindings left", n)
	}
	if n := count(t, s, `SELECT coalesce(sum(bound), 0) FROM virtual_numbers`); n != 0 {
		t.Errorf("bound counts sum to %d after reclaiming everything", n)
	}
}

// The GC runs in a loop, with the clock moving, while allocators bind and unbind:
// live bindings never share a (number, party), numbers never exceed their cap, and
// no pair is bound again within its cool-down after its binding ended.
func TestGCRacesAllocation(t *testing.T) {
	const (
		workers   = 8
		perWorker = 150
		maxPer    = 3
		coolDown  = 2 * time.Second
	)
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{MaxPerNumber: maxPer, CoolDown: coolDown, IdleReclaim: 5 * time.Second}, clk,
		numbers("p", "", 0, 20))
	pools := []string{"p"}
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
			clk.Set(clk.Now().Add(250 * time.Millisecond))
			r, err := s.CollectGarbage(ctx, clk.Now())
			if err != nil {
				t.Error(err)
				return
			}
			gcRuns.Add(1)
			reclaimed.Add(int64(len(r.Reclaimed)))
		}
	})
	var made, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWorker {
				modes := []Mode{ModeAXB, ModeAXB, ModeAXYB, ModeAXN}
				nb := NewBinding{Tenant: "t", Mode: modes[rng.IntN(len(modes))], A: party('a', rng.IntN(60)),
					B: party('b', rng.IntN(60)), Pools: pools}
				if nb.Mode == ModeAXN {
					nb.A = ""
				}
				if nb.A == nb.B {
					continue
				}
				switch rng.IntN(3) {
				case 0:
					nb.Expiry = ExpirySpec{Type: ExpiryAfterBind, Sec: int64(1 + rng.IntN(3))}
				case 1:
					nb.Expiry = ExpirySpec{Type: ExpiryAfterLastCall, Sec: 1}
				}
				b, _, err := s.CreateBinding(ctx, nb)
				switch {
				case errors.Is(err, ErrNoNumber):
					refused.Add(1)
					continue
				case err != nil:
					t.Errorf("worker %d create %d: %v", w, i, err)
					return
				}
				made.Add(1)
				if rng.IntN(4) == 0 {
					if _, err := s.DeleteBinding(ctx, b.ID); err != nil {
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
	t.Logf("%d bindings made, %d refused, %d reclaimed over %d GC passes", made.Load(), refused.Load(), reclaimed.Load(), gcRuns.Load())
	if made.Load() == 0 || reclaimed.Load() == 0 || gcRuns.Load() == 0 {
		t.Fatalf("the race did not happen: made %d, reclaimed %d, GC passes %d", made.Load(), reclaimed.Load(), gcRuns.Load())
	}
	checkInvariant(t, s, maxPer)
	if n := count(t, s, tooSoonQuery, coolDown.Milliseconds()); n != 0 {
		t.Errorf("%d pairs were bound again while held or cooling down", n)
	}
}
