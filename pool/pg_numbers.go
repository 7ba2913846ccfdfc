package pool

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The virtual numbers' counts for pool scoring and the suppliers' reports on them,
// on PostgreSQL (see sqlite_pool_stats.go and sqlite_supplier.go).

// PoolCounts returns the counts of every virtual pool, by name, as
// SQLiteStore.PoolCounts does, from one snapshot.
func (s *PostgresStore) PoolCounts(ctx context.Context) (map[string]PoolCount, error) {
	maxPer := s.bindingRules().MaxPerNumber
	out := map[string]PoolCount{}
	err := s.read(ctx, func(tx pgx.Tx) error {
		clear(out)
		rows, err := tx.Query(ctx, `SELECT pool,
				count(*) FILTER (WHERE state <> 'retired'),
				count(*) FILTER (WHERE state = 'available' AND bound < $1),
				count(*) FILTER (WHERE state = 'blocked')
			FROM virtual_numbers GROUP BY pool`, maxPer)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var c PoolCount
			if err := rows.Scan(&name, &c.Total, &c.Remaining, &c.Blocked); err != nil {
				return err
			}
			out[name] = c
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pool: count pools: %w", s.closedOr(err))
	}
	return out, nil
}

// ReportNumber applies supplier's report r on number, as SQLiteStore.ReportNumber
// does: another supplier's or an unknown number is ErrNotFound, an unknown report
// ErrInvalid. The number's row is locked for the change, so a report and an
// allocation on the number, from any instance, go one after the other.
func (s *PostgresStore) ReportNumber(ctx context.Context, supplier, number string, r NumberReport) (NumberStateChange, error) {
	var after string
	switch r {
	case ReportBlocked:
		after = "blocked"
	case ReportRestored:
		after = "available"
	case ReportWithdrawn:
		after = "retired"
	default:
		return NumberStateChange{}, fmt.Errorf("pool: report number: %w: report %q: want blocked, restored or withdrawn", ErrInvalid, r)
	}
	ch := NumberStateChange{Number: number, Supplier: supplier, After: after}
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT pool, state FROM virtual_numbers WHERE number = $1 AND supplier = $2 FOR UPDATE`,
			number, supplier).Scan(&ch.Pool, &ch.Before)
		if errors.Is(err, pgx.ErrNoRows) {
			return pgReportCaller(ctx, tx, &ch, r)
		}
		if err != nil || ch.Before == after {
			return err
		}
		// withdrawn_at keeps a withdrawn number retired through config syncs.
		_, err = tx.Exec(ctx, `UPDATE virtual_numbers SET state = $1, synced_at = $2,
			withdrawn_at = CASE WHEN $1 = 'retired' THEN $2::bigint END WHERE number = $3`,
			after, s.now().UnixMilli(), number)
		return err
	})
	if err != nil {
		return NumberStateChange{}, fmt.Errorf("pool: report number: %w", s.closedOr(err))
	}
	if ch.Before != ch.After {
		s.log.InfoContext(ctx, "supplier reported a number", "supplier", supplier, "number", number, "report", string(r),
			"pool", ch.Pool, "from", ch.Before, "to", ch.After)
	}
	return ch, nil
}

// pgReportCaller applies report r to ch.Number as a caller number of ch.Supplier,
// as reportCaller does on SQLite.
func pgReportCaller(ctx context.Context, tx pgx.Tx, ch *NumberStateChange, r NumberReport) error {
	var reason string
	err := tx.QueryRow(ctx, `SELECT pool, tenant, rest_reason FROM caller_numbers WHERE number = $1 AND supplier = $2 FOR UPDATE`,
		ch.Number, ch.Supplier).Scan(&ch.Pool, &ch.Tenant, &reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: supplier %s has no number %s", ErrNotFound, ch.Supplier, ch.Number)
	}
	if err != nil {
		return err
	}
	ch.Caller, ch.Before = true, callerReportState(reason)
	until, rest := callerRest(r)
	if r == ReportRestored && ch.Before == "available" {
		ch.After, ch.RestReason = "available", reason
		return nil
	}
	ch.RestReason = rest
	if ch.Before == ch.After {
		return nil
	}
	_, err = tx.Exec(ctx, `UPDATE caller_numbers SET resting_until = $1, rest_reason = $2 WHERE number = $3`,
		until, rest, ch.Number)
	return err
}
