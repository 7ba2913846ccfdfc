package pool

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CostQuery selects one tenant's calls for CostOf: those set up in [Since, Until).
type CostQuery struct {
	Tenant       string // required
	Since, Until time.Time
}

// CostLine sums a set of calls.
type CostLine struct {
	Trunk     string // the trunk that carried them; "" in a total
	Calls     int64
	Answered  int64
	BilledSec int64 // answered seconds, each call rounded up to a whole second
	CostMilli int64 // what the suppliers charge, in thousandths of the currency unit
}

// CostSummary is what a tenant's calls cost over a window, in total and per trunk.
type CostSummary struct {
	Total CostLine
	// Trunks holds one line per trunk that carried calls, by name; calls that never
	// got a trunk (refused before SIP) are under Trunk "".
	Trunks []CostLine
}

// CostOf sums the call records of q.Tenant set up in [q.Since, q.Until): calls,
// answered calls, billed seconds and the cost the records carry (computed when
// each call ended, at its trunk's tariff then).
func (s *SQLiteStore) CostOf(ctx context.Context, q CostQuery) (CostSummary, error) {
	if q.Tenant == "" || q.Since.IsZero() || q.Until.IsZero() {
		return CostSummary{}, fmt.Errorf("pool: cost: %w: tenant, since and until are required", ErrInvalid)
	}
	var sum CostSummary
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT out_trunk, count(*), count(answer_at), total(billed_sec), total(cost_milli)
			FROM calls WHERE tenant = ? AND setup_at >= ? AND setup_at < ?
			GROUP BY out_trunk ORDER BY out_trunk`, q.Tenant, q.Since.UnixMilli(), q.Until.UnixMilli())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				l            CostLine
				billed, cost float64 // total() is a float: no overflow error on a sum
			)
			if err := rows.Scan(&l.Trunk, &l.Calls, &l.Answered, &billed, &cost); err != nil {
				return err
			}
			l.BilledSec, l.CostMilli = int64(billed), int64(cost)
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
