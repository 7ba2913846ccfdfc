package pool

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The binding GC on PostgreSQL. Any instance may run it while others allocate: a
// batch first picks its candidates without locks, then locks their virtual numbers
// (FOR UPDATE SKIP LOCKED), then ends those of the candidates whose numbers it got
// and that still qualify (the UPDATE checks its condition again on the row as
// committed). Allocation skips numbers the GC holds and the GC skips numbers
// allocations hold, so neither sees the other's work half done, and the GC never
// waits: a binding whose number or row is held elsewhere is left to the next batch
// or pass (if it expired, it does not route meanwhile). Cooled pairs are freed in
// batches that skip the pairs an allocation is taking over at that moment.

// The conditions of the two GC passes on bindings: $1 is the bound (unix ms).
const (
	pgExpiredCond = `deleted_at IS NULL AND NOT static AND ends_at IS NOT NULL AND ends_at <= $1`
	pgIdleCond    = `deleted_at IS NULL AND NOT static AND expiry_type = 'never' AND coalesce(last_call_at, created_at) <= $1`
)

// CollectGarbage reclaims, at now (zero: the store's clock), the API bindings that
// expired and those idle for BindingRules.IdleReclaim, and frees the pairs whose
// cool-down is over, as SQLiteStore.CollectGarbage does, in batches of at most 500
// bindings per transaction. Several instances may run it at once.
func (s *PostgresStore) CollectGarbage(ctx context.Context, now time.Time) (GCResult, error) {
	if now.IsZero() {
		now = s.now()
	}
	rules := s.bindingRules()
	var res GCResult
	type pass struct {
		cond, order string
		before      time.Time
		reason      EndReason
		count       *int
		key         func(BindingRecord) time.Time
	}
	passes := []pass{{pgExpiredCond, `ends_at`, now, EndExpired, &res.Expired, func(b BindingRecord) time.Time { return b.EndsAt() }}}
	if rules.IdleReclaim > 0 {
		passes = append(passes, pass{pgIdleCond, `coalesce(last_call_at, created_at)`, now.Add(-rules.IdleReclaim), EndIdle, &res.Idle,
			func(b BindingRecord) time.Time {
				if !b.LastCall.IsZero() {
					return b.LastCall
				}
				return b.CreatedAt
			}})
	}
	for _, p := range passes {
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			var (
				batch      []BindingRecord
				candidates int
			)
			err := s.write(ctx, func(tx pgx.Tx) error {
				var err error
				batch, candidates, err = pgReclaimBatch(ctx, tx, p.cond, p.order, p.before, p.reason, now, rules.CoolDown)
				return err
			})
			if err != nil {
				return res, fmt.Errorf("pool: collect garbage: %w", s.closedOr(err))
			}
			slices.SortFunc(batch, func(a, b BindingRecord) int {
				return cmp.Or(p.key(a).Compare(p.key(b)), cmp.Compare(a.ID, b.ID))
			})
			*p.count += len(batch)
			res.Reclaimed = append(res.Reclaimed, batch...)
			if candidates < gcBatch || len(batch) == 0 {
				break // done, or the rest is held elsewhere: the next pass takes it
			}
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var n int
		err := s.write(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM binding_parties WHERE (number, party) IN
				(SELECT number, party FROM binding_parties
				 WHERE cooling_until IS NOT NULL AND cooling_until <= $1
				 LIMIT $2 FOR UPDATE SKIP LOCKED)
				AND cooling_until IS NOT NULL AND cooling_until <= $1`, now.UnixMilli(), gcBatch)
			n = int(tag.RowsAffected())
			return err
		})
		if err != nil {
			return res, fmt.Errorf("pool: collect garbage: release cooled pairs: %w", s.closedOr(err))
		}
		res.Released += n
		if n < gcBatch {
			return res, nil
		}
	}
}

// pgReclaimBatch ends up to gcBatch bindings matching cond ($1 = before) for
// reason, inside tx, and returns them as stored afterwards with the number of
// candidates it found. It waits for no one: a candidate whose virtual number or row
// another transaction holds (an allocation, an unbind, a call's touch) is left for
// the next batch or pass, and one that stopped qualifying meanwhile is left alone.
func pgReclaimBatch(ctx context.Context, tx pgx.Tx, cond, order string, before time.Time, reason EndReason,
	now time.Time, cool time.Duration) ([]BindingRecord, int, error) {
	type candidate struct {
		id   int64
		x, y string
	}
	rows, err := tx.Query(ctx, `SELECT id, virtual, y FROM bindings WHERE `+cond+` ORDER BY `+order+`, id LIMIT $2`,
		before.UnixMilli(), gcBatch)
	if err != nil {
		return nil, 0, err
	}
	var (
		cands   []candidate
		numbers []string
	)
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.x, &c.y); err != nil {
			rows.Close()
			return nil, 0, err
		}
		cands, numbers = append(cands, c), append(numbers, c.x)
		if c.y != "" {
			numbers = append(numbers, c.y)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(cands) == 0 {
		return nil, 0, nil
	}
	slices.Sort(numbers)
	numbers = slices.Compact(numbers)
	// The numbers that exist (an API binding's always do) and those of them this
	// transaction could lock.
	rows, err = tx.Query(ctx, `SELECT number FROM virtual_numbers WHERE number = ANY($1::text[])`, numbers)
	if err != nil {
		return nil, 0, err
	}
	exist, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, err
	}
	rows, err = tx.Query(ctx, `SELECT number FROM virtual_numbers WHERE number = ANY($1::text[])
		ORDER BY number COLLATE "C" FOR UPDATE SKIP LOCKED`, numbers)
	if err != nil {
		return nil, 0, err
	}
	locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, err
	}
	busy := make(map[string]bool, len(exist))
	for _, n := range exist {
		busy[n] = true
	}
	for _, n := range locked {
		delete(busy, n)
	}
	ids := make([]int64, 0, len(cands))
	for _, c := range cands {
		if !busy[c.x] && (c.y == "" || !busy[c.y]) {
			ids = append(ids, c.id)
		}
	}
	if len(ids) == 0 {
		return nil, len(cands), nil
	}
	rows, err = tx.Query(ctx, `UPDATE bindings SET deleted_at = $3, end_reason = $4, updated_at = $3
		WHERE id IN (SELECT id FROM bindings WHERE id = ANY($2::bigint[]) AND `+cond+` FOR UPDATE SKIP LOCKED)
		  AND `+cond+` RETURNING `+bindingDetailColumns,
		before.UnixMilli(), ids, now.UnixMilli(), string(reason))
	if err != nil {
		return nil, 0, err
	}
	var bs []BindingRecord
	for rows.Next() {
		b, err := scanBindingDetail(rows)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		bs = append(bs, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(bs) == 0 {
		return nil, len(cands), nil
	}
	ended := make([]int64, 0, len(bs))
	unbound := make([]string, 0, 2*len(bs))
	for _, b := range bs {
		ended = append(ended, b.ID)
		unbound = append(unbound, b.Virtual)
		if b.Y != "" {
			unbound = append(unbound, b.Y)
		}
	}
	if cool <= 0 {
		_, err = tx.Exec(ctx, `DELETE FROM binding_parties WHERE binding_id = ANY($1::bigint[]) AND cooling_until IS NULL`, ended)
	} else {
		_, err = tx.Exec(ctx, `UPDATE binding_parties SET cooling_until = $1
			WHERE binding_id = ANY($2::bigint[]) AND cooling_until IS NULL`, now.Add(cool).UnixMilli(), ended)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("release parties: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE virtual_numbers AS v SET bound = GREATEST(v.bound - d.n, 0)
		FROM (SELECT number, count(*) AS n FROM unnest($1::text[]) AS number GROUP BY number) AS d
		WHERE v.number = d.number`, unbound); err != nil {
		return nil, 0, fmt.Errorf("unbind numbers: %w", err)
	}
	return bs, len(cands), nil
}
