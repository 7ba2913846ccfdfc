package pool

import (
	"context"
	"fmt"
)

// This file counts the numbers of every virtual pool, for pool scoring
// (routing.PoolBoard): how many there are, how many could take a new binding, and how
// many their suppliers have blocked.

// PoolCount is what one virtual pool holds.
type PoolCount struct {
	// Total is the pool's numbers that are not retired.
	Total int
	// Remaining is the available numbers below the binding rules' bindings per number
	// (BindingRules.MaxPerNumber): those a new binding could still use.
	Remaining int
	// Blocked is the numbers the supplier has blocked.
	Blocked int
}

// PoolCounts returns the counts of every virtual pool, by name. It reads a snapshot
// and never takes the writer.
func (s *SQLiteStore) PoolCounts(ctx context.Context) (map[string]PoolCount, error) {
	max := s.bindingRules().MaxPerNumber
	rows, err := s.r.QueryContext(ctx, `SELECT pool,
			coalesce(sum(CASE WHEN state <> 'retired' THEN 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN state = 'available' AND bound < ?1 THEN 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN state = 'blocked' THEN 1 ELSE 0 END), 0)
		FROM virtual_numbers GROUP BY pool`, max)
	if err != nil {
		return nil, fmt.Errorf("pool: count pools: %w", err)
	}
	defer rows.Close()
	out := map[string]PoolCount{}
	for rows.Next() {
		var name string
		var c PoolCount
		if err := rows.Scan(&name, &c.Total, &c.Remaining, &c.Blocked); err != nil {
			return nil, fmt.Errorf("pool: count pools: %w", err)
		}
		out[name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pool: count pools: %w", err)
	}
	return out, nil
}
