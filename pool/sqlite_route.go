package pool

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// routeBindingsQuery selects the live bindings that can route a call from ?2 to ?1
// at ?3 (unix ms): (1) rows on X = ?1 whose A is the caller (AXB and AXYB A → B) or
// that have no A (AXN); (2) AXB rows on X = ?1 whose B is the caller (B calls back);
// (3) AXYB rows on Y = ?1 whose B is the caller. Each arm searches an index on both
// numbers (bindings_by_virtual, bindings_by_virtual_b, bindings_by_y). A number its
// supplier reported blocked routes nothing (ReportNumber), whatever its bindings.
const routeBindingsQuery = `SELECT ` + bindingColumns + ` FROM bindings
	WHERE virtual = ?1 AND party_a IN (?2, '') AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > ?3) AND NOT EXISTS (SELECT 1 FROM virtual_numbers WHERE number = ?1 AND state = 'blocked')
	UNION ALL
	SELECT ` + bindingColumns + ` FROM bindings
	WHERE virtual = ?1 AND party_b = ?2 AND mode = 'AXB' AND party_a <> ?2 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > ?3) AND NOT EXISTS (SELECT 1 FROM virtual_numbers WHERE number = ?1 AND state = 'blocked')
	UNION ALL
	SELECT ` + bindingColumns + ` FROM bindings
	WHERE y = ?1 AND party_b = ?2 AND virtual <> ?1 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > ?3) AND NOT EXISTS (SELECT 1 FROM virtual_numbers WHERE number = ?1 AND state = 'blocked')`

// RouteBindings returns the bindings that can route a call from caller to the
// virtual number v at now, in ID order: the subset of ActiveBindings(v) whose
// parties include the caller, plus the AXN bindings on v. It is the call-setup
// lookup: its cost does not grow with the number of parties bound to v.
func (s *SQLiteStore) RouteBindings(ctx context.Context, v, caller string, now time.Time) ([]Binding, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if v == "" {
		return nil, nil
	}
	if now.IsZero() {
		now = s.now()
	}
	rows, err := s.r.QueryContext(ctx, routeBindingsQuery, v, caller, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("pool: route bindings on %s from %s: %w", v, caller, s.closedOr(err))
	}
	defer rows.Close()
	var bs []Binding
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, fmt.Errorf("pool: route bindings on %s from %s: %w", v, caller, err)
		}
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pool: route bindings on %s from %s: %w", v, caller, err)
	}
	// The arms come back in arm order; sorting the few rows here is cheaper than a
	// temporary B-tree in SQLite.
	if len(bs) > 1 {
		slices.SortFunc(bs, func(a, b Binding) int { return cmp.Compare(a.ID, b.ID) })
	}
	return bs, nil
}
