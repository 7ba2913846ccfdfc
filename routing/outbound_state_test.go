package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callgate/pool"
)

// TestOutboundConcurrentHolds has 100 goroutines make 1,000 selections each over 20
// numbers, hold each number they get for a random short time and release it. Every
// hold is recorded with a global sequence: no two holds of one number may overlap,
// and no lease is left at the end, in memory or in the store.
func TestOutboundConcurrentHolds(t *testing.T) {
	const goroutines, selections, numbers = 100, 1000, 20
	p := acmePlan()
	p.Numbers = nil
	for i := range numbers {
		p.Numbers = append(p.Numbers, num(fmt.Sprintf("+8621000000%02d", i), KindFixed, nil, nil))
	}
	r, store, _ := newTestRouter(t, p)
	type hold struct{ from, to int64 }
	var seq atomic.Int64
	var mu sync.Mutex
	holds := map[string][]hold{}
	var busy atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			mine := map[string][]hold{}
			outcomes := []Outcome{OutcomeAnswered, OutcomeUnanswered, OutcomeNotPlaced}
			for range selections {
				callee := xx(rng.IntN(5000))
				d, err := r.Route(context.Background(), OutboundCall{Tenant: "acme", To: callee})
				if errors.Is(err, ErrNoCallerNumber) {
					busy.Add(1)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				from := seq.Add(1)
				switch n := rng.IntN(8); { // the call's length
				case n < 6:
					for range n {
						runtime.Gosched()
					}
				default:
					time.Sleep(time.Duration(rng.IntN(100)) * time.Microsecond)
				}
				to := seq.Add(1)
				d.Lease.Release(outcomes[rng.IntN(len(outcomes))])
				mine[d.From] = append(mine[d.From], hold{from, to})
			}
			mu.Lock()
			for n, hs := range mine {
				holds[n] = append(holds[n], hs...)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	total := 0
	for n, hs := range holds {
		slices.SortFunc(hs, func(a, b hold) int { return int(a.from - b.from) })
		for i := 1; i < len(hs); i++ {
			if hs[i].from < hs[i-1].to {
				t.Fatalf("%s: holds %v and %v overlap", n, hs[i-1], hs[i])
			}
		}
		total += len(hs)
	}
	t.Logf("%d holds over %d numbers, %d selections found every number busy, in %v", total, len(holds), busy.Load(), time.Since(start))
	if total+int(busy.Load()) != goroutines*selections || len(holds) != numbers {
		t.Fatalf("%d holds + %d busy, %d numbers used", total, busy.Load(), len(holds))
	}
	tn := r.tenants["acme"]
	tn.mu.Lock()
	live, locked := len(tn.live), tn.parkedBy[SkipLocked]
	tn.mu.Unlock()
	if live != 0 || locked != 0 {
		t.Fatalf("left in memory: %d leases, %d numbers parked as locked", live, locked)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := store.LoadCallerState(context.Background(), pool.CallerStateQuery{Now: t0.Add(-time.Hour)})
	if err != nil || len(st.Leases) != 0 {
		t.Fatalf("left in the store: %d leases (%v)", len(st.Leases), err)
	}
}

// TestOutboundRestart reserves, closes router and store without releasing (all a
// SIGKILL leaves is what was written) and starts again on the same file: before the
// lease ends the number is still locked, at its end it is free.
func TestOutboundRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "callgate.db")
	p := acmePlan()
	fixedOnly(fixA, fixB)(&p)
	clock := &testClock{now: t0}
	store, err := pool.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewOutboundRouter(ctx, store, []TenantPlan{p}, WithClock(clock.Now), WithAnalyzer(sharedAnalyzer))
	if err != nil {
		t.Fatal(err)
	}
	d := route(t, r, xx(1))
	if d.From != fixA {
		t.Fatalf("first call from %s", d.From)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	store.Close()

	for _, tc := range []struct {
		at     time.Time
		locked bool
	}{
		{t0.Add(p.Lease - time.Millisecond), true},
		{t0.Add(p.Lease), false},
	} {
		store := openStore(t, path)
		clock := &testClock{now: tc.at}
		r := openRouter(t, store, clock, p)
		ex, err := r.Explain(ctx, "acme", xx(2))
		if err != nil {
			t.Fatal(err)
		}
		v := ex.Candidates[slices.IndexFunc(ex.Candidates, func(v Verdict) bool { return v.Number == fixA })]
		if locked := v.Reason == SkipLocked; locked != tc.locked || (locked && !v.Until.Equal(t0.Add(p.Lease))) {
			t.Errorf("at %v: fixA %+v; want locked %v", tc.at, v, tc.locked)
		}
		want := fixA
		if tc.locked {
			want = fixB
		}
		d := route(t, r, xx(3))
		if d.From != want {
			t.Errorf("at %v: call from %s, want %s", tc.at, d.From, want)
		}
		d.Lease.Release(OutcomeNotPlaced)
		r.Close()
		store.Close()
	}
}

// snapshot renders a tenant index's state at now for comparison.
func snapshot(t *tenantIndex, now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.roll(now)
	nowMS := now.UnixMilli()
	var b strings.Builder
	for _, c := range t.nums {
		why, until, _ := t.blocked(c, nowMS)
		dayN := 0
		if c.day == t.today {
			dayN = c.dayN
		}
		att, ans := 0, 0
		from := pool.UnixHour(now) - t.plan.Health.WindowHours()
		for _, h := range c.health {
			if h.hour > from {
				att, ans = att+h.attempts, ans+h.answers
			}
		}
		hour := 0
		for _, a := range c.hour {
			if a.at > nowMS-hourMS {
				hour++
			}
		}
		fmt.Fprintf(&b, "%s used=%d rest=%d held=%d/%d day=%d hour=%d health=%d/%d blocked=%s/%d parked=%v\n", c.n.Number,
			c.lastUsed, c.restingUntil, c.held.id, c.held.until, dayN, hour, ans, att, why, until, c.parked)
	}
	var keys []uint64
	for k := range t.callees {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cd := t.callees[k]
		var pairs []string
		for _, p := range cd.pairs {
			if p.n > 0 {
				pairs = append(pairs, fmt.Sprintf("%s:%d", p.c.n.Number, p.n))
			}
		}
		slices.Sort(pairs)
		e, ok := t.escalationOf(k, nowMS)
		fmt.Fprintf(&b, "callee %d total=%d pairs=%v esc=%v/%+v\n", k, cd.total, pairs, ok, e)
	}
	return b.String()
}

// TestOutboundJournalMirrorsMemory runs a random day of calls, then starts a second
// router on the same store: the index it rebuilds from the journal the first one
// wrote must equal the first one's.
func TestOutboundJournalMirrorsMemory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "callgate.db")
	p := acmePlan()
	p.Caps = pool.Caps{PairPerDay: 2, CalleePerDay: 3, CallerPerDay: 40, CallerPerHour: 12}
	p.Health = pool.HealthRule{MinAttempts: 6, AnswerRateFloor: 0.3, Window: 3 * time.Hour, Rest: 2 * time.Hour}
	clock := &testClock{now: t0}
	store := openStore(t, path)
	r := openRouter(t, store, clock, p)
	rng := rand.New(rand.NewPCG(7, 7))
	callees := []string{calleeSZ, calleeGZ, calleeDG, calleeBJ, calleeXX, sz(1), sz(2), dg(1), xx(1), xx(2), "13800138000"}
	var held []*Lease
	outcomes := []Outcome{OutcomeAnswered, OutcomeUnanswered, OutcomeUnanswered, OutcomeNotPlaced}
	refused := 0
	for range 600 {
		clock.Add(time.Duration(rng.IntN(120)) * time.Second)
		d, err := r.Route(ctx, OutboundCall{Tenant: "acme", To: callees[rng.IntN(len(callees))]})
		switch {
		case errors.Is(err, ErrNoRoute):
			refused++
		case err != nil:
			t.Fatal(err)
		default:
			held = append(held, d.Lease)
		}
		for len(held) > 0 && rng.IntN(3) > 0 {
			i := rng.IntN(len(held))
			held[i].Release(outcomes[rng.IntN(len(outcomes))])
			held = slices.Delete(held, i, i+1)
		}
		if rng.IntN(20) == 0 {
			r.renew()
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	want := snapshot(r.tenants["acme"], now)
	again := openRouter(t, store, &testClock{now: now}, p)
	got := snapshot(again.tenants["acme"], now)
	if got != want {
		t.Fatalf("rebuilt index differs (%d calls refused, %d leases held)\nwant:\n%s\ngot:\n%s", refused, len(held), want, got)
	}
	if !strings.Contains(want, "blocked=resting") {
		t.Logf("no number ended resting; state:\n%s", want)
	}
}
