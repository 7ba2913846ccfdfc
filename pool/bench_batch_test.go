package pool

import (
	"context"
	"database/sql"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSaveBatch1M is the journal's share of a masked call in a store holding
// 1,000,000 bindings: per call, the record inserted at setup, rewritten when it ends
// and its binding's call times touched, written as the Journal writes them (16 calls
// per transaction). It reports the writer's cost per call. It is skipped with -short.
func BenchmarkSaveBatch1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 bindings: skipped with -short")
	}
	const total, perBatch = 1_000_000, 16
	ctx := context.Background()
	s := openAt(b, testPath(b), WithClock(newClock(t0).Now))
	if _, err := s.w.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		b.Fatal(err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1 - 1)
			INSERT INTO bindings (tenant, mode, virtual, party_a, party_b, created_at)
			SELECT 't1', 'AXB', printf('+86107%08d', i / 100), printf('+86138%08d', i % 100), printf('+86139%08d', i), ?2
			FROM seq`, total, t0.UnixMilli())
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	// Back to the page cache the store opens with, so the figure is the server's.
	if _, err := s.w.ExecContext(ctx, `PRAGMA cache_size = -32768`); err != nil {
		b.Fatal(err)
	}
	run := 0
	call := func(i int, at time.Time) Call {
		return Call{
			ID: fmt.Sprintf("c%d-%09d", run, i), Tenant: "t1", Direction: "inbound", Caller: "+8613800000001",
			Callee: fmt.Sprintf("+86139%08d", i%total), Virtual: "+8610700000001", InTrunk: "carrier-a",
			OutTrunk: "carrier-b", State: "answered", SetupAt: at, RingAt: at, AnswerAt: at,
			Attempts: []Attempt{{Seq: 1, Trunk: "carrier-b", From: "+8610700000001", To: "+86139", SIPCode: 200,
				StartAt: at, RingAt: at, AnswerAt: at}},
		}
	}
	for _, mode := range []string{"insert", "insert+end", "insert+end+touch"} {
		b.Run(mode, func(b *testing.B) { run++; benchSaveBatch(b, s, mode, call) })
	}
}

func benchSaveBatch(b *testing.B, s *SQLiteStore, mode string, call func(int, time.Time) Call) {
	const total, perBatch = 1_000_000, 16
	ctx := context.Background()
	at := t0
	i := 0
	cpu0 := processCPU(b)
	batch := Batch{Calls: make([]Call, 0, 2*perBatch), Touches: make([]Touch, 0, perBatch)}
	b.ReportAllocs()
	for b.Loop() {
		at = at.Add(time.Millisecond)
		batch.Calls = append(batch.Calls, call(i, at))
		if i >= perBatch && mode != "insert" { // the call that started a batch ago ends now
			c := call(i-perBatch, at.Add(-perBatch*time.Millisecond))
			c.State, c.EndAt, c.BilledSec = "ended", at, 1
			batch.Calls = append(batch.Calls, c)
		}
		if mode == "insert+end+touch" {
			batch.Touches = append(batch.Touches, Touch{BindingID: int64(1 + (i*7919)%total), At: at})
		}
		i++
		if i%perBatch == 0 {
			if err := s.SaveBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch.Calls, batch.Touches = batch.Calls[:0], batch.Touches[:0]
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user+system CPU time the process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
