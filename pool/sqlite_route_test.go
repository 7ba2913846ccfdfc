package pool

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// RouteBindings is ActiveBindings narrowed to the rows that can route the caller:
// for every (virtual number, caller) of a mixed table, it returns exactly the
// active rows whose parties include the caller, plus the AXN rows on the number.
func TestRouteBindingsMatchesActiveBindings(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	static := []Binding{
		{Mode: ModeAXN, Virtual: "+86V1", B: "+86B0"},
		{Mode: ModeAXB, Virtual: "+86V1", A: "+86A1", B: "+86B1"},
		{Mode: ModeAXB, Virtual: "+86V1", A: "+86A2", B: "+86B2"},
		{Mode: ModeAXB, Virtual: "+86V2", A: "+86A1", B: "+86B2"},
		{Mode: ModeAXYB, Virtual: "+86V3", A: "+86A3", B: "+86B3", Y: "+86V1"},
		{Mode: ModeAXYB, Virtual: "+86V4", A: "+86B1", B: "+86A1", Y: "+86V5"},
		{Mode: ModeAXB, Virtual: "+86V6", A: "+86A6", B: "+86B6", Expiry: ExpiryAt, ExpireAt: t0.Add(-time.Minute)},
	}
	if err := s.SyncStaticBindings(ctx, static); err != nil {
		t.Fatal(err)
	}
	numbers := []string{"+86V1", "+86V2", "+86V3", "+86V4", "+86V5", "+86V6", "+86A1", "+86X"}
	callers := []string{"+86A1", "+86A2", "+86A3", "+86A6", "+86B1", "+86B2", "+86B3", "+86B6", "+86Z"}
	for _, v := range numbers {
		all, err := s.ActiveBindings(ctx, v, t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range callers {
			var want []int64
			for _, b := range all {
				if b.Mode == ModeAXN || (b.Virtual == v && b.A == c) ||
					(b.Virtual == v && b.Mode == ModeAXB && b.B == c) ||
					(b.Y == v && b.Virtual != v && b.B == c) {
					want = append(want, b.ID)
				}
			}
			got, err := s.RouteBindings(ctx, v, c, t0)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, b := range got {
				ids = append(ids, b.ID)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("RouteBindings(%s from %s) = %v, want %v", v, c, ids, want)
			}
		}
	}
	if bs, err := s.RouteBindings(ctx, "", "+86A1", t0); err != nil || len(bs) != 0 {
		t.Errorf("RouteBindings(\"\") = %v, %v; want none", bs, err)
	}
	s.Close()
	if _, err := s.RouteBindings(ctx, "+86V1", "+86A1", t0); err == nil {
		t.Error("RouteBindings after Close: no error")
	}
}

// Every arm of the routing query searches an index on both numbers: the cost of a
// lookup does not grow with the parties bound to the number.
func TestRouteBindingsPlan(t *testing.T) {
	s := openTest(t)
	plan := strings.Join(queryPlan(t, s, routeBindingsQuery, "+1", "+2", 0), " | ")
	for _, want := range []string{
		"USING INDEX bindings_by_virtual (virtual=? AND party_a=?)",
		"USING INDEX bindings_by_virtual_b (virtual=? AND party_b=?)",
		"USING INDEX bindings_by_y (y=? AND party_b=?)",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan %q: want %q", plan, want)
		}
	}
	if strings.Contains(plan, "SCAN bindings") {
		t.Errorf("plan %q scans bindings", plan)
	}
}

// BenchmarkRouteBindings1M is the call-setup lookup of the setup-rate bench's store:
// 1,000,000 AXB bindings, 10,000 virtual numbers with 100 callers each. Skipped with
// -short.
func BenchmarkRouteBindings1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000,000 bindings: skipped with -short")
	}
	const total, perVirtual = 1_000_000, 100
	ctx := context.Background()
	s := openAt(b, testPath(b), WithClock(newClock(t0).Now))
	if _, err := s.w.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		b.Fatal(err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1 - 1)
			INSERT INTO bindings (tenant, mode, virtual, party_a, party_b, created_at)
			SELECT 't1', 'AXB', printf('+86107%08d', i / ?2), printf('+86138%08d', i % ?2), printf('+86139%08d', i), ?3
			FROM seq`, total, perVirtual, t0.UnixMilli())
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	i := 0
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		v, c := fmt.Sprintf("+86107%08d", (i/perVirtual)%(total/perVirtual)), fmt.Sprintf("+86138%08d", i%perVirtual)
		start := time.Now()
		bs, err := s.RouteBindings(ctx, v, c, now)
		lat = append(lat, time.Since(start))
		if err != nil || len(bs) != 1 {
			b.Fatalf("RouteBindings(%s, %s) = %d bindings, %v; want 1", v, c, len(bs), err)
		}
		i += 7919
	}
	reportPercentiles(b, lat)
}
