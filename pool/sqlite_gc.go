package pool

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// gcBatch bounds how many bindings one GC transaction reclaims, so that a large
// backlog never holds the write lock for long: call setup and the API write between
// batches.
const gcBatch = 500

// expiredQuery selects live API bindings whose expiry has passed at ?1 (unix ms), by
// the GC index bindings_by_end.
const expiredQuery = `SELECT ` + bindingDetailColumns + ` FROM bindings
	WHERE deleted_at IS NULL AND ends_at IS NOT NULL AND ends_at <= ?1 AND static = 0
	ORDER BY ends_at LIMIT ?2`

// idleQuery selects live API bindings without expiry whose last call (or creation,
// if never called) is at or before ?1 (unix ms), by the index bindings_idle.
const idleQuery = `SELECT ` + bindingDetailColumns + ` FROM bindings
	WHERE deleted_at IS NULL AND static = 0 AND expiry_type = 'never'
	  AND coalesce(last_call_at, created_at) <= ?1
	ORDER BY coalesce(last_call_at, created_at) LIMIT ?2`

// CollectGarbage reclaims, at now (zero: the store's clock), the API bindings that
// have expired and those without expiry that had no call for
// BindingRules.IdleReclaim: each is soft-deleted (end reason "expired" or "idle")
// and its (number, party) pairs cool down for BindingRules.CoolDown. It also frees
// the pairs whose cool-down is over. Static bindings are left to the config. Work
// is done in batches of a few hundred bindings per transaction; after an error the
// batches already done stay done.
func (s *SQLiteStore) CollectGarbage(ctx context.Context, now time.Time) (GCResult, error) {
	if now.IsZero() {
		now = s.now()
	}
	rules := s.bindingRules()
	var res GCResult
	type pass struct {
		query  string
		before time.Time
		reason EndReason
		count  *int
	}
	passes := []pass{{expiredQuery, now, EndExpired, &res.Expired}}
	if rules.IdleReclaim > 0 {
		passes = append(passes, pass{idleQuery, now.Add(-rules.IdleReclaim), EndIdle, &res.Idle})
	}
	for _, p := range passes {
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			var batch []BindingRecord
			err := s.write(ctx, func(tx *sql.Tx) error {
				var err error
				batch, err = reclaimBatch(ctx, tx, p.query, p.before, p.reason, now, rules.CoolDown)
				return err
			})
			if err != nil {
				return res, fmt.Errorf("pool: collect garbage: %w", s.closedOr(err))
			}
			*p.count += len(batch)
			res.Reclaimed = append(res.Reclaimed, batch...)
			if len(batch) < gcBatch {
				break
			}
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM binding_parties
			WHERE cooling_until IS NOT NULL AND cooling_until <= ?`, now.UnixMilli())
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		res.Released = int(n)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("pool: collect garbage: release cooled pairs: %w", s.closedOr(err))
	}
	return res, nil
}

// reclaimBatch ends up to gcBatch bindings selected by query (?1 = before) for
// reason, inside tx, and returns them as stored afterwards.
func reclaimBatch(ctx context.Context, tx *sql.Tx, query string, before time.Time, reason EndReason,
	now time.Time, cool time.Duration) ([]BindingRecord, error) {
	rows, err := tx.QueryContext(ctx, query, before.UnixMilli(), gcBatch)
	if err != nil {
		return nil, err
	}
	var bs []BindingRecord
	for rows.Next() {
		b, err := scanBindingDetail(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		bs = append(bs, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range bs {
		if err := endBinding(ctx, tx, bs[i].Binding, reason, now, cool); err != nil {
			return nil, fmt.Errorf("reclaim binding %d: %w", bs[i].ID, err)
		}
		bs[i].DeletedAt, bs[i].EndReason, bs[i].UpdatedAt = time.UnixMilli(now.UnixMilli()).UTC(), reason, time.UnixMilli(now.UnixMilli()).UTC()
	}
	return bs, nil
}
