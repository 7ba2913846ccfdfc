package pool

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"
)

// benchCallers stores 100,000 caller numbers of tenant t1 and 1,000,000 counter rows
// of today (600,000 pair counts, 300,000 callee counts, 100,000 caller counts), as a
// busy day leaves them. It returns the numbers.
func benchCallers(b *testing.B, s *SQLiteStore) []string {
	b.Helper()
	ctx := context.Background()
	const numbers = 100_000
	ns := make([]CallerNumber, numbers)
	out := make([]string, numbers)
	for i := range ns {
		out[i] = fmt.Sprintf("+8675510%06d", i)
		ns[i] = CallerNumber{Number: out[i], Tenant: "t1", Kind: KindFixed, Pool: "p", Trunks: []string{"tr"}}
	}
	start := time.Now()
	if err := s.SyncCallerNumbers(ctx, ns); err != nil {
		b.Fatal(err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		ins := func(q string, n int, args func(i int) []any) error {
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return err
			}
			defer st.Close()
			for i := range n {
				if _, err := st.ExecContext(ctx, args(i)...); err != nil {
					return err
				}
			}
			return nil
		}
		if err := ins(`INSERT INTO pair_day_counts (callee, day, caller, calls) VALUES (?, ?, ?, 1)`, 600_000,
			func(i int) []any { return []any{fmt.Sprintf("+86139%08d", i/2), day1, out[(i*7)%numbers]} }); err != nil {
			return err
		}
		if err := ins(`INSERT INTO callee_day_counts (tenant, callee, day, calls) VALUES ('t1', ?, ?, 1)`, 300_000,
			func(i int) []any { return []any{fmt.Sprintf("+86139%08d", i), day1} }); err != nil {
			return err
		}
		return ins(`INSERT INTO caller_day_counts (number, day, calls) VALUES (?, ?, 3)`, numbers,
			func(i int) []any { return []any{out[i], day1} })
	})
	if err != nil {
		b.Fatal(err)
	}
	// Start from a checkpointed database, as a long-running server is.
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d numbers and 1,000,000 counter rows in %v", numbers, time.Since(start))
	return out
}

// BenchmarkReserveCaller is one check-and-reserve transaction in SQLite: the callee
// cap, the callee's pair counts, eight candidates in order (the first free one wins)
// and the writes of a reservation, with every cap on. It reports the latency
// percentiles of single reservations.
func BenchmarkReserveCaller(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, testPath(b), WithClock(newClock(t0).Now))
	nums := benchCallers(b, s)
	caps := Caps{PairPerDay: 2, CalleePerDay: 5, CallerPerDay: 500, CallerPerHour: 100}
	var lat []time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		k := (i * 8) % len(nums)
		r := reserveReq(fmt.Sprintf("+86139%08d", (i*7919)%400_000), now, caps, nums[k:k+8]...)
		start := time.Now()
		if _, err := s.ReserveCaller(ctx, r); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	reportPercentiles(b, lat)
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
