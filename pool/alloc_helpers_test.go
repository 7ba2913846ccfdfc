package pool

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// numbers returns n virtual numbers of pool p (tenant t, trunk "tr-"+p), numbered
// from first.
func numbers(p, t string, first, n int) []VirtualNumber {
	out := make([]VirtualNumber, n)
	for i := range out {
		out[i] = VirtualNumber{Number: fmt.Sprintf("+8675590%06d", first+i), Pool: p, Tenant: t,
			Supplier: "sup", Region: "Shenzhen", Trunk: "tr-" + p}
	}
	return out
}

// party returns the i-th test party number of a kind ('a' customers, 'b' agents).
func party(kind byte, i int) string {
	if kind == 'a' {
		return fmt.Sprintf("+86138%08d", i)
	}
	return fmt.Sprintf("+86139%08d", i)
}

// openPools opens a store with rules and the virtual numbers ns synced.
func openPools(t testing.TB, rules BindingRules, clk *fakeClock, ns ...[]VirtualNumber) *SQLiteStore {
	t.Helper()
	s := openTest(t, WithClock(clk.Now), WithBindingRules(rules))
	var all []VirtualNumber
	for _, n := range ns {
		all = append(all, n...)
	}
	if err := s.SyncVirtualNumbers(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	return s
}

// conflictsQuery lists the (number, party) pairs held by more than one live
// binding, reading the bindings table only (not binding_parties, which enforces the
// invariant): AXN holds (X, *), AXB (X, A) and (X, B), AXYB (X, A) and (Y, B); '*'
// conflicts with every party on its number.
const holdingsView = `(
	SELECT id, created_at, deleted_at, virtual AS number, '*' AS party FROM bindings WHERE mode = 'AXN'
	UNION ALL SELECT id, created_at, deleted_at, virtual, party_a FROM bindings WHERE mode IN ('AXB', 'AXYB')
	UNION ALL SELECT id, created_at, deleted_at, virtual, party_b FROM bindings WHERE mode = 'AXB'
	UNION ALL SELECT id, created_at, deleted_at, y, party_b FROM bindings WHERE mode = 'AXYB')`

const conflictsQuery = `SELECT count(*) FROM ` + holdingsView + ` AS h1 JOIN ` + holdingsView + ` AS h2
	ON h1.number = h2.number AND h1.id < h2.id AND (h1.party = h2.party OR h1.party = '*' OR h2.party = '*')
	WHERE h1.deleted_at IS NULL AND h2.deleted_at IS NULL`

// overCapQuery lists numbers carrying more than ?1 live bindings.
const overCapQuery = `SELECT count(*) FROM (SELECT number, count(*) AS n FROM (
		SELECT virtual AS number FROM bindings WHERE deleted_at IS NULL
		UNION ALL SELECT y FROM bindings WHERE deleted_at IS NULL AND y <> '')
	GROUP BY number HAVING n > ?1)`

// tooSoonQuery counts pairs bound again (by a later binding) before the earlier
// binding holding them had ended plus the cool-down ?1 (ms): both a conflict and
// a cooling pair handed out show here.
const tooSoonQuery = `SELECT count(*) FROM ` + holdingsView + ` AS h1 JOIN ` + holdingsView + ` AS h2
	ON h1.number = h2.number AND h1.id < h2.id AND (h1.party = h2.party OR h1.party = '*' OR h2.party = '*')
	WHERE h1.deleted_at IS NULL OR h2.created_at < h1.deleted_at + ?1`

// checkInvariant fails the test if live bindings break "at most one active binding
// per (virtual number, party)" or the per-number cap.
func checkInvariant(t testing.TB, s *SQLiteStore, maxPer int) {
	t.Helper()
	if n := count(t, s, conflictsQuery); n != 0 {
		t.Errorf("%d pairs of live bindings hold the same (number, party)", n)
	}
	if n := count(t, s, overCapQuery, maxPer); n != 0 {
		t.Errorf("%d numbers carry more than %d live bindings", n, maxPer)
	}
	// bound agrees with the bindings.
	if n := count(t, s, `SELECT count(*) FROM virtual_numbers v WHERE bound <>
		(SELECT count(*) FROM bindings b WHERE b.deleted_at IS NULL AND (b.virtual = v.number OR b.y = v.number))`); n != 0 {
		t.Errorf("%d virtual numbers have a wrong bound count", n)
	}
}

// mustCreate creates a binding or fails the test.
func mustCreate(t testing.TB, s *SQLiteStore, nb NewBinding) BindingRecord {
	t.Helper()
	b, _, err := s.CreateBinding(context.Background(), nb)
	if err != nil {
		t.Fatalf("CreateBinding(%+v): %v", nb, err)
	}
	return b
}

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }
