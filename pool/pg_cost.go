package pool

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CostOf sums the call records of q.Tenant set up in [q.Since, q.Until), in total
// and per trunk (trunks in byte order), as SQLiteStore.CostOf does.
func (s *PostgresStore) CostOf(ctx context.Context, q CostQuery) (CostSummary, error) {
	if q.Tenant == "" || q.Since.IsZero() || q.Until.IsZero() {
		return CostSummary{}, fmt.Errorf("pool: cost: %w: tenant, since and until are required", ErrInvalid)
	}
	var sum CostSummary
	err := s.read(ctx, func(tx pgx.Tx) error {
		sum = CostSummary{}
		// sum() of BIGINT is NUMERIC: no overflow error on a sum; each line fits.
		rows, err := tx.Query(ctx, `SELECT out_trunk, count(*), count(answer_at),
				coalesce(sum(billed_sec), 0)::bigint, coalesce(sum(cost_milli), 0)::bigint
			FROM calls WHERE tenant = $1 AND setup_at >= $2 AND setup_at < $3
			GROUP BY out_trunk ORDER BY out_trunk COLLATE "C"`, q.Tenant, q.Since.UnixMilli(), q.Until.UnixMilli())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l CostLine
			if err := rows.Scan(&l.Trunk, &l.Calls, &l.Answered, &l.BilledSec, &l.CostMilli); err != nil {
				return err
			}
			sum.Trunks = append(sum.Trunks, l)
			sum.Total.Calls += l.Calls
			sum.Total.Answered += l.Answered
			sum.Total.BilledSec += l.BilledSec
			sum.Total.CostMilli += l.CostMilli
		}
		return rows.Err()
	})
	if err != nil {
		return CostSummary{}, fmt.Errorf("pool: cost of %q: %w", q.Tenant, s.closedOr(err))
	}
	return sum, nil
}
