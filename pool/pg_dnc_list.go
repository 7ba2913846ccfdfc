package pool

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ListDNC returns one page of the do-not-call entries q selects, ordered by list
// (the global list first, then tenants) and number, byte-wise as in SQLite, and
// whether more follow, as SQLiteStore.ListDNC does.
func (s *PostgresStore) ListDNC(ctx context.Context, q DNCQuery) ([]DNCEntry, bool, error) {
	if q.Lists != nil && len(q.Lists) == 0 {
		return nil, false, nil
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultDNCPage
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	var w pgWhere
	if q.Lists != nil {
		w.add("tenant = ANY(?::text[])", q.Lists)
	}
	if q.Number != "" {
		w.add("number = ?", q.Number)
	}
	if q.After != (DNCEntry{}) {
		w.add(`(tenant COLLATE "C" > ? OR tenant = ? AND number COLLATE "C" > ?)`, q.After.Tenant, q.After.Tenant, q.After.Number)
	}
	query := `SELECT tenant, number, added_at, source FROM do_not_call` + w.sql() +
		` ORDER BY tenant COLLATE "C", number COLLATE "C" LIMIT ` + w.arg(limit+1)
	var out []DNCEntry
	err := s.read(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, query, w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := pgScanDNC(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, false, fmt.Errorf("pool: list do-not-call: %w", s.closedOr(err))
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
