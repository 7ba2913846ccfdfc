package routing

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"callgate/pool"
)

// benchWorld is a tenant with 100,000 caller numbers in real cities, a store holding
// 1,000,000 counter rows of today and 100,000 do-not-call entries, and 50,000
// analysed callees.
type benchWorld struct {
	path    string
	plan    TenantPlan
	callees []string
}

// newBenchWorld builds the world on a fresh file.
func newBenchWorld(b *testing.B) *benchWorld {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	// Callees: Chinese mobile numbers over many prefixes, hence many cities.
	type place struct{ city, province string }
	var callees []string
	var places []place
	seen := map[place]bool{}
	for i := 0; len(callees) < 50_000; i++ {
		n := fmt.Sprintf("+86%d%04d%04d", 130+i%60, (i*7919)%10000, i%10000)
		c, err := sharedAnalyzer.Analyze(n, "CN")
		if err != nil {
			continue
		}
		callees = append(callees, c.E164)
		if p := (place{c.City, c.Province}); c.City != "" && !seen[p] {
			seen[p] = true
			places = append(places, p)
		}
	}
	// 100,000 numbers: 20,000 certified (two cities each), 40,000 mobile, 40,000
	// fixed.
	p := acmePlan()
	p.Caps = pool.Caps{PairPerDay: 2, CalleePerDay: 3, CallerPerDay: 300, CallerPerHour: 60}
	p.Health = pool.HealthRule{MinAttempts: 30, AnswerRateFloor: 0.1, Window: 24 * time.Hour, Rest: 24 * time.Hour}
	p.Numbers = nil
	for i := range 100_000 {
		n := num(fmt.Sprintf("+8675520%06d", i), KindFixed, nil, nil)
		pl := places[(i*31)%len(places)]
		switch {
		case i < 20_000:
			n.Kind = KindCertified
			n.Cities = []string{pl.city, places[(i*17+5)%len(places)].city}
		case i < 60_000:
			n.Kind = KindMobile
			n.Cities, n.Provinces = []string{pl.city}, []string{pl.province}
		}
		n.Pool = string(n.Kind)
		n.Trunks = []string{"trunk-" + n.Pool}
		p.Numbers = append(p.Numbers, n)
	}
	w := &benchWorld{path: filepath.Join(b.TempDir(), "callgate.db"), plan: p, callees: callees}
	store, err := pool.OpenSQLite(ctx, w.path)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	var nums []pool.CallerNumber
	nums = append(nums, p.Numbers...)
	if err := store.SyncCallerNumbers(ctx, nums); err != nil {
		b.Fatal(err)
	}
	var dnc []pool.DNCEntry
	for i := range 100_000 {
		dnc = append(dnc, pool.DNCEntry{Tenant: "acme", Number: fmt.Sprintf("+86199%08d", i), Source: "bench"})
	}
	if _, err := store.AddDoNotCall(ctx, dnc); err != nil {
		b.Fatal(err)
	}
	store.Close()
	// The counters go straight into the file: 600,000 pair counts, 300,000 callee
	// counts and 100,000 caller counts of today, in the tenant's zone.
	db, err := sql.Open("sqlite3", "file:"+w.path+"?_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	day := DayKey(t0, p.Location)
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins := func(q string, n int, args func(i int) []any) {
		st, err := tx.Prepare(q)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		for i := range n {
			if _, err := st.Exec(args(i)...); err != nil {
				b.Fatal(err)
			}
		}
	}
	ins(`INSERT INTO pair_day_counts (callee, day, caller, calls) VALUES (?, ?, ?, 1)`, 600_000,
		func(i int) []any {
			return []any{fmt.Sprintf("+86188%08d", i/2), day, p.Numbers[(i*7)%len(p.Numbers)].Number}
		})
	ins(`INSERT INTO callee_day_counts (tenant, callee, day, calls) VALUES ('acme', ?, ?, 1)`, 300_000,
		func(i int) []any { return []any{fmt.Sprintf("+86188%08d", i), day} })
	ins(`INSERT INTO caller_day_counts (number, day, calls) VALUES (?, ?, 3)`, len(p.Numbers),
		func(i int) []any { return []any{p.Numbers[i].Number, day} })
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	b.Logf("world: %d numbers, %d places, %d callees, 1,000,000 counter rows, 100,000 do-not-call entries, built in %v",
		len(p.Numbers), len(places), len(callees), time.Since(start))
	return w
}

// copy returns the path of a copy of the world's database, so that every run starts
// from the same state.
func (w *benchWorld) copy(b *testing.B) string {
	b.Helper()
	data, err := os.ReadFile(w.path)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "copy.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkRoute is one outbound routing decision, the whole call-path step: callee
// analysis, do-not-call check, selection in strategy order and the lease, with
// 100,000 numbers and 1,000,000 counter rows loaded from SQLite. The journal writer
// runs meanwhile. "cold" callees are each analysed for the first time (libphonenumber
// runs); "warm" ones repeat, so the analysis comes from the cache and the figure is
// the selection itself. Each call is released right after, outside the measure.
//
// BenchmarkRoute/explain is one Explain over the 100,000 numbers.
func BenchmarkRoute(b *testing.B) {
	w := newBenchWorld(b)
	b.Run("explain", func(b *testing.B) {
		ctx := context.Background()
		store, err := pool.OpenSQLite(ctx, w.path)
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		r, err := NewOutboundRouter(ctx, store, []TenantPlan{w.plan}, WithClock((&testClock{now: t0}).Now),
			WithAnalyzer(sharedAnalyzer))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		i := 0
		for b.Loop() {
			ex, err := r.Explain(ctx, "acme", w.callees[i%len(w.callees)])
			if err != nil || len(ex.Candidates) != len(w.plan.Numbers) {
				b.Fatalf("%d candidates, %v", len(ex.Candidates), err)
			}
			i++
		}
	})
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			store, err := pool.OpenSQLite(ctx, w.copy(b))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			clock := &testClock{now: t0}
			start := time.Now()
			r, err := NewOutboundRouter(ctx, store, []TenantPlan{w.plan}, WithClock(clock.Now), WithAnalyzer(NewAnalyzer()))
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			b.Logf("router started (state and lists loaded) in %v", time.Since(start))
			callees := w.callees[:25_000] // the stride below visits each once
			if mode == "warm" {
				callees = w.callees[25_000:37_000]
				for _, c := range callees {
					_, _ = r.analyzer.Analyze(c, "CN")
				}
			}
			lat := make([]time.Duration, 0, 1<<16)
			outcomes := []Outcome{OutcomeAnswered, OutcomeUnanswered, OutcomeUnanswered, OutcomeNotPlaced}
			i, refused := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				clock.Add(50 * time.Millisecond)
				callee := callees[(i*7919)%len(callees)]
				t := time.Now()
				d, err := r.Route(ctx, OutboundCall{Tenant: "acme", To: callee})
				lat = append(lat, time.Since(t))
				i++
				if err != nil {
					if refused == 0 {
						b.Logf("first refusal: %v", err)
					}
					refused++
					continue
				}
				d.Lease.Release(outcomes[i%len(outcomes)])
			}
			b.StopTimer()
			if err := r.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			if refused > i/2 {
				b.Fatalf("%d of %d calls refused", refused, i)
			}
			reportPercentiles(b, lat)
		})
	}
}

// reportPercentiles reports the p50, p99 and p99.9 of lat in microseconds.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(0.999), "p99.9-µs")
}
