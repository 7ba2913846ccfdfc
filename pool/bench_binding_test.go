package pool

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCreateBinding measures allocation: one AXB binding per op, picked from a
// pool of 1,000 numbers (cap 200 each) in one BEGIN IMMEDIATE transaction.
func BenchmarkCreateBinding(b *testing.B) {
	for _, mode := range []Mode{ModeAXB, ModeAXYB} {
		b.Run(string(mode), func(b *testing.B) {
			ctx := context.Background()
			s := openPools(b, BindingRules{}, newClock(t0), numbers("p", "", 0, 1000))
			pools := []string{"p"}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, _, err := s.CreateBinding(ctx, NewBinding{Tenant: "t", Mode: mode, A: party('a', i), B: party('b', i),
					Pools: pools, Expiry: ExpirySpec{Type: ExpiryAfterBind, Sec: 3600}})
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkGetOrBindExisting is the common get-or-bind: the pair is bound already.
func BenchmarkGetOrBindExisting(b *testing.B) {
	ctx := context.Background()
	s := openPools(b, BindingRules{}, newClock(t0), numbers("p", "", 0, 100))
	const pairs = 5000
	for i := range pairs {
		mustCreate(b, s, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', i), B: party('b', i), Pools: []string{"p"}})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, created, err := s.GetOrBind(ctx, NewBinding{Tenant: "t", Mode: ModeAXB, A: party('a', i%pairs), B: party('b', i%pairs), Pools: []string{"p"}})
		if err != nil || created {
			b.Fatalf("GetOrBind: created %v, %v", created, err)
		}
		i += 7919
	}
}

// BenchmarkActiveBindings1M is the call-setup lookup over 1,000,000 bindings:
// 200,000 virtual numbers with five AXB bindings each, one of every expiry type (the
// "at" one expired, so a lookup returns four). SQLite generates the rows itself in
// one INSERT … SELECT over a recursive counter: one prepared statement, one
// transaction, no round trip per row (about 8 s here, against 22 s for a million
// Execs of a prepared INSERT). It is skipped with -short.
func BenchmarkActiveBindings1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 bindings: skipped with -short")
	}
	const total, perVirtual = 1_000_000, 5
	ctx := context.Background()
	s := openAt(b, testPath(b), WithClock(newClock(t0).Now))
	start := time.Now()
	// A page cache large enough for the indexes being built keeps the load fast.
	if _, err := s.w.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		b.Fatal(err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1 - 1)
			INSERT INTO bindings (tenant, mode, virtual, party_a, party_b, expiry_type, expiry_sec, expire_at, created_at)
			SELECT 't1', 'AXB', printf('+86107%08d', i / ?2), printf('+86138%08d', i), printf('+86139%08d', i),
				CASE i % 5 WHEN 0 THEN 'never' WHEN 1 THEN 'after_bind' WHEN 2 THEN 'after_first_call'
				           WHEN 3 THEN 'after_last_call' ELSE 'at' END,
				CASE i % 5 WHEN 1 THEN 86400 WHEN 2 THEN 600 WHEN 3 THEN 86400 ELSE 0 END,
				CASE i % 5 WHEN 4 THEN ?3 END,
				?4
			FROM seq`)
		if err != nil {
			return err
		}
		defer st.Close()
		_, err = st.ExecContext(ctx, total, perVirtual, t0.Add(-time.Hour).UnixMilli(), t0.UnixMilli())
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d bindings in %v", total, time.Since(start))
	virtuals := make([]string, total/perVirtual)
	for i := range virtuals {
		virtuals[i] = fmt.Sprintf("+86107%08d", i)
	}
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bs, err := s.ActiveBindings(ctx, virtuals[i%len(virtuals)], now)
		if err != nil || len(bs) != 4 {
			b.Fatalf("ActiveBindings = %d bindings, %v; want 4", len(bs), err)
		}
		i += 7919
	}
}
