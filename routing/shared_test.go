package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callgate/pool"
	"callgate/pool/pgtest"
)

// openSharedRouter returns a shared-mode router over store named instance, closed at
// the end of the test.
func openSharedRouter(t testing.TB, store CallerStore, now func() time.Time, instance string, plans ...TenantPlan) *Outbound {
	t.Helper()
	r, err := NewOutboundRouter(context.Background(), store, plans, WithClock(now), WithAnalyzer(sharedAnalyzer),
		WithInstance(instance), WithSharedStore())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close router %s: %v", instance, err)
		}
	})
	return r
}

func routeTo(r *Outbound, callee string) (OutboundDecision, error) {
	return r.Route(context.Background(), OutboundCall{Tenant: "acme", Agent: "alice", To: callee})
}

// onlyCallerStore hides every method but CallerStore's.
type onlyCallerStore struct{ CallerStore }

func TestSharedStoreMustReserve(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "callgate.db"))
	_, err := NewOutboundRouter(context.Background(), onlyCallerStore{store}, []TenantPlan{acmePlan()},
		WithAnalyzer(sharedAnalyzer), WithSharedStore())
	if err == nil {
		t.Fatal("a shared-mode router over a store that cannot reserve was built")
	}
}

// On one store and one instance, the shared mode decides as the in-memory mode does:
// the same numbers in the same order, through the strategy, escalation and releases.
func TestSharedDecidesAsInMemory(t *testing.T) {
	plan := acmePlan()
	plan.Caps = pool.Caps{PairPerDay: 2, CallerPerDay: 3}
	mem, _, memClock := newTestRouter(t, plan)
	store := openStore(t, filepath.Join(t.TempDir(), "callgate.db"))
	shClock := &testClock{now: t0}
	sh := openSharedRouter(t, store, shClock.Now, "a", plan)

	type step struct {
		callee  string
		release Outcome // "" keeps the lease
	}
	steps := []step{
		{calleeSZ, ""}, {calleeSZ, OutcomeUnanswered}, {calleeGZ, OutcomeAnswered}, {calleeSZ, OutcomeNotPlaced},
		{calleeBJ, ""}, {calleeDG, OutcomeUnanswered}, {calleeSZ, OutcomeAnswered}, {calleeXX, ""},
		{calleeSZ, OutcomeUnanswered}, {calleeGZ, ""}, {calleeSZ, ""}, {calleeSZ, ""}, {calleeSZ, ""},
	}
	for i, s := range steps {
		memClock.Add(time.Second)
		shClock.Add(time.Second)
		dm, errM := routeTo(mem, s.callee)
		ds, errS := routeTo(sh, s.callee)
		if (errM == nil) != (errS == nil) || dm.From != ds.From || dm.Step != ds.Step || dm.EscalatedFrom != ds.EscalatedFrom {
			t.Fatalf("call %d to %s: in memory %s %v (%v); shared %s %v (%v)", i, s.callee, dm.From, dm.Step, errM,
				ds.From, ds.Step, errS)
		}
		if errM != nil {
			var rm, rs *RefusedError
			if !errors.As(errM, &rm) || !errors.As(errS, &rs) || !errors.Is(rs.Reason, rm.Reason) {
				t.Fatalf("call %d: refusals differ: %v / %v", i, errM, errS)
			}
			continue
		}
		if s.release != "" {
			dm.Lease.Release(s.release)
			ds.Lease.Release(s.release)
			// The release reaches the store through the journal, a batch later.
			if err := sh.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Another instance's lease, caps, do-not-call entries and releases, written to the
// store behind the router's back, are what the shared router goes by.
func TestSharedSeesOtherInstances(t *testing.T) {
	ctx := context.Background()
	plan := acmePlan()
	plan.Numbers = []pool.CallerNumber{num(fixA, KindFixed, nil, nil)}
	plan.Strategy = []Step{{KindFixed, MatchAny}}
	plan.Caps = pool.Caps{CallerPerDay: 4}
	store := openStore(t, filepath.Join(t.TempDir(), "callgate.db"))
	clock := &testClock{now: t0}
	r := openSharedRouter(t, store, clock.Now, "a", plan)
	other := func(callee string, lease time.Duration) (pool.Reservation, error) {
		now := clock.Now()
		return store.ReserveCaller(ctx, pool.ReserveRequest{Tenant: "acme", Callee: callee, Instance: "b", Now: now,
			Day: DayKey(now, shanghai), DayEnd: dayEnd(now, shanghai), LeaseFor: lease, Caps: plan.Caps,
			Candidates: []string{fixA}})
	}

	// Instance b holds the only number: a is refused, and says why.
	res, err := other(calleeBJ, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = routeTo(r, calleeSZ)
	var ref *RefusedError
	if !errors.As(err, &ref) || !errors.Is(ref.Reason, ErrNoCallerNumber) || len(ref.Skipped) == 0 ||
		ref.Skipped[0].Reason != SkipLocked {
		t.Fatalf("route while another instance holds the only number: %v (%+v)", err, ref)
	}
	// b releases it: a gets it at once, though it had learnt the number was locked.
	if _, err := store.ReleaseCaller(ctx, pool.ReleaseRequest{LeaseID: res.LeaseID, Outcome: OutcomeAnswered, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	d, err := routeTo(r, calleeSZ)
	if err != nil || d.From != fixA {
		t.Fatalf("route after the other instance released: %v %v", d.From, err)
	}
	d.Lease.Release(OutcomeAnswered)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// b dies holding the number: a gets it once b's lease has run out, not before.
	if _, err := other(calleeBJ, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Add(9 * time.Second)
	if _, err := routeTo(r, calleeSZ); !errors.Is(err, ErrNoCallerNumber) {
		t.Fatalf("route during the dead instance's lease: %v", err)
	}
	clock.Add(2 * time.Second)
	d, err = routeTo(r, calleeSZ)
	if err != nil {
		t.Fatalf("route after the dead instance's lease: %v", err)
	}
	d.Lease.Release(OutcomeAnswered)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Four calls today (b, a, b, a) against a cap of 4: counted across instances.
	if _, err := routeTo(r, calleeGZ); !errors.As(err, &ref) || len(ref.Skipped) == 0 ||
		ref.Skipped[len(ref.Skipped)-1].Reason != SkipCallerDayCap {
		t.Fatalf("route over the daily cap counted by both instances: %v (%+v)", err, ref)
	}

	// A do-not-call entry written by another instance holds here at once, and so
	// does its removal.
	clock.Add(24 * time.Hour)
	if _, err := store.AddDoNotCall(ctx, []pool.DNCEntry{{Tenant: "acme", Number: calleeDG, Source: "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := routeTo(r, calleeDG); !errors.Is(err, ErrDoNotCall) {
		t.Fatalf("route to a number another instance listed: %v", err)
	}
	if _, err := store.RemoveDoNotCall(ctx, "acme", calleeDG); err != nil {
		t.Fatal(err)
	}
	d, err = routeTo(r, calleeDG)
	if err != nil {
		t.Fatalf("route to a number another instance took off the list: %v", err)
	}
	d.Lease.Release(OutcomeAnswered)
}

// holdRec is one call's hold of a number, in the order of a shared counter.
type holdRec struct {
	number, callee string
	start, end     int64
	instance       int
}

// twoInstanceRun routes calls concurrent calls through routers (round robin), each
// retried while a number is locked, holding its number for a random moment; it
// returns every hold and the calls given up (every number capped).
func twoInstanceRun(t *testing.T, routers []*Outbound, calls int, callees []string) ([]holdRec, int) {
	t.Helper()
	var seq atomic.Int64
	var mu sync.Mutex
	var holds []holdRec
	var gaveUp atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			r := routers[i%len(routers)]
			callee := callees[i%len(callees)]
			for try := 0; ; try++ {
				d, err := routeTo(r, callee)
				var ref *RefusedError
				switch {
				case err == nil:
					h := holdRec{number: d.From, callee: callee, start: seq.Add(1), instance: i % len(routers)}
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					h.end = seq.Add(1)
					d.Lease.Release(OutcomeAnswered)
					mu.Lock()
					holds = append(holds, h)
					mu.Unlock()
					return
				case errors.As(err, &ref) && errors.Is(ref.Reason, ErrCalleeCapped):
					gaveUp.Add(1)
					return
				case errors.As(err, &ref) && errors.Is(ref.Reason, ErrNoCallerNumber):
					locked := slices.ContainsFunc(ref.Skipped, func(s Skip) bool { return s.Reason == SkipLocked })
					if !locked {
						gaveUp.Add(1)
						return
					}
				default:
					errs <- fmt.Errorf("call %d: %w", i, err)
					return
				}
				time.Sleep(time.Duration(2+rand.IntN(8)) * time.Millisecond) // as an agent would, only faster
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return holds, int(gaveUp.Load())
}

// checkHolds fails t if two holds of one number overlap.
func checkHolds(t *testing.T, holds []holdRec) {
	t.Helper()
	by := map[string][]holdRec{}
	for _, h := range holds {
		by[h.number] = append(by[h.number], h)
	}
	for n, hs := range by {
		sort.Slice(hs, func(i, j int) bool { return hs[i].start < hs[j].start })
		for i := 1; i < len(hs); i++ {
			if hs[i].start < hs[i-1].end {
				t.Errorf("number %s held twice at once: instance %d [%d,%d] and instance %d [%d,%d]", n,
					hs[i-1].instance, hs[i-1].start, hs[i-1].end, hs[i].instance, hs[i].start, hs[i].end)
			}
		}
	}
}

// twentyNumbers is tenant acme with 20 fixed numbers, prefix followed by two digits.
func twentyNumbers(prefix string) TenantPlan {
	p := acmePlan()
	p.Strategy = []Step{{KindFixed, MatchAny}}
	p.Numbers = nil
	for i := range 20 {
		p.Numbers = append(p.Numbers, num(fmt.Sprintf("%s%02d", prefix, i), KindFixed, nil, nil))
	}
	return p
}

// sharedStores opens, for each store kind, n stores on one database: two SQLite
// handles on one file (two processes' worth of connections), and two PostgreSQL
// pools on one database when PostgreSQL is installed.
func sharedStores(t *testing.T, n int) map[string][]CallerStore {
	t.Helper()
	out := map[string][]CallerStore{}
	path := filepath.Join(t.TempDir(), "callgate.db")
	for i := range n {
		out["sqlite"] = append(out["sqlite"], openStore(t, path))
		_ = i
	}
	if srv := testPostgres(t); srv != nil {
		dsn := srv.Database(t)
		for i := range n {
			s, err := pool.OpenPostgres(context.Background(), pool.PostgresConfig{DSN: dsn, Instance: fmt.Sprintf("i%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			out["postgres"] = append(out["postgres"], s)
		}
	}
	return out
}

// Two instances on one store, 200 concurrent calls over 20 numbers: no number is
// ever held by two calls at once, every call gets a number in the end, and no
// lease is left when they are over.
func TestSharedTwoInstancesNeverShareANumber(t *testing.T) {
	for kind, stores := range sharedStores(t, 2) {
		t.Run(kind, func(t *testing.T) {
			plan := twentyNumbers("+8621000001")
			a := openSharedRouter(t, stores[0], time.Now, "a", plan)
			b := openSharedRouter(t, stores[1], time.Now, "b", plan)
			callees := make([]string, 50)
			for i := range callees {
				callees[i] = fmt.Sprintf("+861380013%04d", i)
			}
			holds, gaveUp := twoInstanceRun(t, []*Outbound{a, b}, 200, callees)
			if len(holds) != 200 || gaveUp != 0 {
				t.Errorf("%d calls got a number, %d gave up; want all 200", len(holds), gaveUp)
			}
			checkHolds(t, holds)
			perInstance := [2]int{}
			for _, h := range holds {
				perInstance[h.instance]++
			}
			t.Logf("%s: %d holds (%d via a, %d via b)", kind, len(holds), perInstance[0], perInstance[1])
			ctx := context.Background()
			for _, r := range []*Outbound{a, b} {
				if err := r.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			st, err := stores[0].LoadCallerState(ctx, pool.CallerStateQuery{Now: time.Now(), SinceDay: DayKey(time.Now(), shanghai)})
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Leases) != 0 {
				t.Errorf("%d leases left after every call ended: %+v", len(st.Leases), st.Leases)
			}
		})
	}
}

// Caps hold across instances: with 200 calls against caps that allow fewer, no
// number, callee or pair goes over its cap, counted over both instances; and with
// the caller cap alone, every call it allows is placed (20 numbers × 4 = 80): the
// store never refused a number that was free.
func TestSharedTwoInstancesKeepCaps(t *testing.T) {
	cases := []struct {
		name  string
		caps  pool.Caps
		exact int // calls that must be placed; 0: not known in advance
	}{
		{"caller, callee and pair caps", pool.Caps{CallerPerDay: 4, CalleePerDay: 9, PairPerDay: 1}, 0},
		{"caller cap", pool.Caps{CallerPerDay: 4}, 80},
	}
	for kind, stores := range sharedStores(t, 2) {
		for i, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				// Numbers and callees of their own: the cases share the database.
				plan := twentyNumbers(fmt.Sprintf("+86210004%d0", i))
				plan.Caps = tc.caps
				a := openSharedRouter(t, stores[0], time.Now, "a", plan)
				b := openSharedRouter(t, stores[1], time.Now, "b", plan)
				callees := make([]string, 10)
				for k := range callees {
					callees[k] = fmt.Sprintf("+86139%d013%04d", i, k)
				}
				holds, gaveUp := twoInstanceRun(t, []*Outbound{a, b}, 200, callees)
				checkHolds(t, holds)
				perNumber, perCallee, perPair := map[string]int{}, map[string]int{}, map[[2]string]int{}
				for _, h := range holds {
					perNumber[h.number]++
					perCallee[h.callee]++
					perPair[[2]string{h.number, h.callee}]++
				}
				over := func(what string, n, limit int) {
					if limit > 0 && n > limit {
						t.Errorf("%s: %d calls, cap %d", what, n, limit)
					}
				}
				for n, c := range perNumber {
					over("number "+n, c, tc.caps.CallerPerDay)
				}
				for n, c := range perCallee {
					over("callee "+n, c, tc.caps.CalleePerDay)
				}
				for p, c := range perPair {
					over(p[0]+" to "+p[1], c, tc.caps.PairPerDay)
				}
				t.Logf("%d calls placed, %d refused", len(holds), gaveUp)
				if len(holds)+gaveUp != 200 {
					t.Errorf("%d placed and %d refused of 200 calls", len(holds), gaveUp)
				}
				if tc.exact > 0 && len(holds) != tc.exact {
					t.Errorf("%d calls placed, want %d", len(holds), tc.exact)
				}
			})
		}
	}
}

// BenchmarkSharedRoute measures a selection and its release on 200 numbers: the
// in-memory mode on SQLite, and the shared mode on SQLite and on PostgreSQL (when
// installed), with 1 and with 4 goroutines per CPU (x1, x4). It reports selections
// per second and the median and 99th percentile of Route.
func BenchmarkSharedRoute(b *testing.B) {
	plan := acmePlan()
	plan.Strategy = []Step{{KindFixed, MatchAny}}
	plan.Numbers = nil
	for i := range 200 {
		plan.Numbers = append(plan.Numbers, num(fmt.Sprintf("+862100002%03d", i), KindFixed, nil, nil))
	}
	plan.Caps = pool.Caps{PairPerDay: 1000, CallerPerHour: 1_000_000}
	callees := make([]string, 1000)
	for i := range callees {
		callees[i] = fmt.Sprintf("+86138%08d", i*7919)
	}
	type mode struct {
		name   string
		store  func(b *testing.B) CallerStore
		shared bool
	}
	sqlite := func(b *testing.B) CallerStore { return openStore(b, filepath.Join(b.TempDir(), "callgate.db")) }
	modes := []mode{{"sqlite-memory", sqlite, false}, {"sqlite-shared", sqlite, true}}
	if srv, err := pgtest.Start(context.Background()); err == nil {
		b.Cleanup(func() { srv.Close() })
		modes = append(modes, mode{"postgres-shared", func(b *testing.B) CallerStore {
			s, err := pool.OpenPostgres(context.Background(), pool.PostgresConfig{DSN: srv.Database(b), Instance: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}, true})
	}
	for _, m := range modes {
		for _, par := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/x%d", m.name, par), func(b *testing.B) { benchRoutes(b, plan, callees, m.store(b), m.shared, par) })
		}
	}
}

// benchRoutes routes and releases calls to callees on par goroutines per CPU.
func benchRoutes(b *testing.B, plan TenantPlan, callees []string, store CallerStore, shared bool, par int) {
	opts := []RouterOption{WithAnalyzer(sharedAnalyzer), WithInstance("bench")}
	if shared {
		opts = append(opts, WithSharedStore())
	}
	r, err := NewOutboundRouter(context.Background(), store, []TenantPlan{plan}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var mu sync.Mutex
	var lat []time.Duration
	var next atomic.Int64
	b.SetParallelism(par)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			callee := callees[int(next.Add(1))%len(callees)]
			t := time.Now()
			d, err := routeTo(r, callee)
			mine = append(mine, time.Since(t))
			if err != nil {
				b.Error(err)
				return
			}
			d.Lease.Release(OutcomeAnswered)
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "selections/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// testPostgres starts a throwaway PostgreSQL server for t, or returns nil when
// PostgreSQL is not installed (the PostgreSQL cases are left out; with
// CALLGATE_REQUIRE_POSTGRES set, t fails instead).
func testPostgres(t *testing.T) *pgtest.Server {
	t.Helper()
	srv, err := pgtest.Start(context.Background())
	if errors.Is(err, pgtest.ErrNoPostgres) {
		if os.Getenv(pgtest.RequireEnv) != "" {
			t.Fatalf("%v (and %s is set)", err, pgtest.RequireEnv)
		}
		t.Logf("PostgreSQL cases left out: %v", err)
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}
