package pool

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The bindings of the PostgreSQL store: static ones from config, the call-setup
// lookups, call times, and the (number, party) holdings that keep the invariant.

// pgSyncLock is the advisory lock key of the config syncs, so that instances
// starting together apply one config at a time.
const pgSyncLock = "callgate:sync"

// SyncStaticBindings makes the live static bindings exactly bs, as
// SQLiteStore.SyncStaticBindings does.
func (s *PostgresStore) SyncStaticBindings(ctx context.Context, bs []Binding) error {
	want := make(map[staticKey]Binding, len(bs))
	order := make([]staticKey, 0, len(bs))
	for _, b := range bs {
		b, err := b.validate()
		if err != nil {
			return err
		}
		k := keyOf(b)
		if _, dup := want[k]; dup {
			return fmt.Errorf("pool: static binding %s %s (A %q): %w: defined twice", b.Mode, b.Virtual, b.A, ErrInvalid)
		}
		want[k] = b
		order = append(order, k)
	}
	now := s.now()
	cool := s.bindingRules().CoolDown
	var inserted, updated, deleted int
	err := s.write(ctx, func(tx pgx.Tx) error {
		inserted, updated, deleted = 0, 0, 0
		if err := pgLock(ctx, tx, pgSyncLock+":static"); err != nil {
			return err
		}
		have, err := pgLiveStatic(ctx, tx)
		if err != nil {
			return err
		}
		for k, old := range have {
			b, ok := want[k]
			switch {
			case !ok:
				err = pgEndBinding(ctx, tx, old, EndConfig, now, cool)
				deleted++
			case !sameStatic(old, b):
				_, err = tx.Exec(ctx, `UPDATE bindings SET tenant = $1, party_b = $2, y = $3, trunk = $4,
					expiry_type = $5, expiry_sec = $6, expire_at = $7, updated_at = $8 WHERE id = $9`,
					b.Tenant, b.B, b.Y, b.Trunk, string(b.Expiry), b.ExpirySec, ms(b.ExpireAt), now.UnixMilli(), old.ID)
				if err == nil && (old.B != b.B || old.Y != b.Y) {
					b.ID = old.ID
					if err = pgDropParties(ctx, tx, old.ID); err == nil {
						err = pgClaimStaticParties(ctx, tx, b)
					}
					if err == nil && old.Y != b.Y {
						if err = pgAdjustBound(ctx, tx, -1, old.Y); err == nil {
							err = pgAdjustBound(ctx, tx, +1, b.Y)
						}
					}
				}
				updated++
			}
			if err != nil {
				return fmt.Errorf("binding %d: %w", old.ID, err)
			}
		}
		for _, k := range order {
			if _, ok := have[k]; ok {
				continue
			}
			b := want[k]
			err := tx.QueryRow(ctx, `INSERT INTO bindings (tenant, mode, virtual, party_a, party_b, y,
				trunk, static, expiry_type, expiry_sec, expire_at, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8, $9, $10, $11) RETURNING id`,
				b.Tenant, string(b.Mode), b.Virtual, b.A, b.B, b.Y, b.Trunk, string(b.Expiry), b.ExpirySec,
				ms(b.ExpireAt), now.UnixMilli()).Scan(&b.ID)
			if err == nil {
				err = pgClaimStaticParties(ctx, tx, b)
			}
			if err == nil {
				err = pgAdjustBound(ctx, tx, +1, b.Virtual, b.Y)
			}
			if err != nil {
				return fmt.Errorf("insert %s %s (A %q): %w", b.Mode, b.Virtual, b.A, err)
			}
			inserted++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pool: sync static bindings: %w", err)
	}
	if inserted+updated+deleted > 0 {
		s.log.InfoContext(ctx, "synced static bindings",
			"inserted", inserted, "updated", updated, "deleted", deleted, "total", len(bs))
	}
	return nil
}

func pgLiveStatic(ctx context.Context, tx pgx.Tx) (map[staticKey]Binding, error) {
	rows, err := tx.Query(ctx, `SELECT `+bindingColumns+` FROM bindings WHERE static AND deleted_at IS NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := make(map[staticKey]Binding)
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, err
		}
		have[keyOf(b)] = b
	}
	return have, rows.Err()
}

const pgActiveBindingsQuery = `SELECT ` + bindingColumns + ` FROM bindings
	WHERE virtual = $1 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > $2)
	UNION ALL
	SELECT ` + bindingColumns + ` FROM bindings
	WHERE y = $1 AND virtual <> $1 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > $2)
	ORDER BY id`

// ActiveBindings returns the bindings on virtual number v (as X or Y) that route at
// now, in ID order. A zero now means the store's clock.
func (s *PostgresStore) ActiveBindings(ctx context.Context, v string, now time.Time) ([]Binding, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if v == "" {
		return nil, nil
	}
	if now.IsZero() {
		now = s.now()
	}
	bs, err := s.queryBindings(ctx, pgActiveBindingsQuery, v, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("pool: active bindings on %s: %w", v, s.closedOr(err))
	}
	return bs, nil
}

const pgRouteBindingsQuery = `SELECT ` + bindingColumns + ` FROM bindings
	WHERE virtual = $1 AND party_a IN ($2, '') AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > $3) AND NOT EXISTS (SELECT 1 FROM virtual_numbers WHERE number = $1 AND state = 'blocked')
	UNION ALL
	SELECT ` + bindingColumns + ` FROM bindings
	WHERE virtual = $1 AND party_b = $2 AND mode = 'AXB' AND party_a <> $2 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > $3) AND NOT EXISTS (SELECT 1 FROM virtual_numbers WHERE number = $1 AND state = 'blocked')
	UNION ALL
	SELECT ` + bindingColumns + ` FROM bindings
	WHERE y = $1 AND party_b = $2 AND virtual <> $1 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > $3) AND NOT EXISTS (SELECT 1 FROM virtual_numbers WHERE number = $1 AND state = 'blocked')`

// RouteBindings returns the bindings that can route a call from caller to v at now,
// in ID order, as SQLiteStore.RouteBindings does.
func (s *PostgresStore) RouteBindings(ctx context.Context, v, caller string, now time.Time) ([]Binding, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if v == "" {
		return nil, nil
	}
	if now.IsZero() {
		now = s.now()
	}
	bs, err := s.queryBindings(ctx, pgRouteBindingsQuery, v, caller, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("pool: route bindings on %s from %s: %w", v, caller, s.closedOr(err))
	}
	if len(bs) > 1 {
		slices.SortFunc(bs, func(a, b Binding) int { return cmp.Compare(a.ID, b.ID) })
	}
	return bs, nil
}

func (s *PostgresStore) queryBindings(ctx context.Context, q string, args ...any) ([]Binding, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var bs []Binding
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, err
		}
		bs = append(bs, b)
	}
	return bs, rows.Err()
}

const pgTouchBinding = `UPDATE bindings
	SET first_call_at = LEAST(coalesce(first_call_at, $1::bigint), $1::bigint),
	    last_call_at  = GREATEST(coalesce(last_call_at, $1::bigint), $1::bigint)
	WHERE id = $2`

// TouchBinding records a call through binding id at time at (deleted bindings too);
// an unknown id is ErrNotFound.
func (s *PostgresStore) TouchBinding(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("pool: touch binding %d: %w: zero time", id, ErrInvalid)
	}
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, pgTouchBinding, at.UnixMilli(), id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("pool: touch binding %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("pool: touch binding %d: %w", id, ErrNotFound)
	}
	return nil
}

// pgClaimParties makes binding id hold hs; a pair held or still cooling is an
// ErrConflict.
func pgClaimParties(ctx context.Context, tx pgx.Tx, id int64, hs []holding, now time.Time) error {
	for _, h := range hs {
		tag, err := tx.Exec(ctx, `INSERT INTO binding_parties (number, party, binding_id) VALUES ($1, $2, $3)
			ON CONFLICT (number, party) DO UPDATE SET binding_id = $3, cooling_until = NULL
			WHERE binding_parties.cooling_until IS NOT NULL AND binding_parties.cooling_until <= $4`,
			h.number, h.party, id, now.UnixMilli())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return &AllocationError{Reason: ReasonNumberTaken, Number: h.number, Party: h.party, err: ErrConflict}
		}
	}
	return nil
}

// pgClaimStaticParties makes static binding b hold its pairs, taking them over.
func pgClaimStaticParties(ctx context.Context, tx pgx.Tx, b Binding) error {
	for _, h := range holdings(b) {
		if _, err := tx.Exec(ctx, `INSERT INTO binding_parties (number, party, binding_id) VALUES ($1, $2, $3)
			ON CONFLICT (number, party) DO UPDATE SET binding_id = excluded.binding_id, cooling_until = NULL`,
			h.number, h.party, b.ID); err != nil {
			return err
		}
	}
	return nil
}

// pgReleaseParties ends binding id's hold on its pairs: they cool down until
// now+cool, or are freed at once if cool <= 0.
func pgReleaseParties(ctx context.Context, tx pgx.Tx, id int64, now time.Time, cool time.Duration) error {
	if cool <= 0 {
		return pgDropParties(ctx, tx, id)
	}
	_, err := tx.Exec(ctx, `UPDATE binding_parties SET cooling_until = $1 WHERE binding_id = $2 AND cooling_until IS NULL`,
		now.Add(cool).UnixMilli(), id)
	return err
}

func pgDropParties(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := tx.Exec(ctx, `DELETE FROM binding_parties WHERE binding_id = $1 AND cooling_until IS NULL`, id)
	return err
}

// pgAdjustBound adds delta to the live-binding count of each of numbers; updating
// the row also locks it until the transaction ends.
func pgAdjustBound(ctx context.Context, tx pgx.Tx, delta int, numbers ...string) error {
	for _, n := range numbers {
		if n == "" {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE virtual_numbers SET bound = GREATEST(bound + $1, 0) WHERE number = $2`,
			delta, n); err != nil {
			return err
		}
	}
	return nil
}

// pgEndBinding soft-deletes live binding b, as endBinding does.
func pgEndBinding(ctx context.Context, tx pgx.Tx, b Binding, reason EndReason, now time.Time, cool time.Duration) error {
	tag, err := tx.Exec(ctx, `UPDATE bindings SET deleted_at = $1, end_reason = $2, updated_at = $1
		WHERE id = $3 AND deleted_at IS NULL`, now.UnixMilli(), string(reason), b.ID)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	if err := pgReleaseParties(ctx, tx, b.ID, now, cool); err != nil {
		return fmt.Errorf("release parties of binding %d: %w", b.ID, err)
	}
	return pgAdjustBound(ctx, tx, -1, b.Virtual, b.Y)
}

// pgBinding reads binding id, whatever its state.
func pgBinding(ctx context.Context, tx pgx.Tx, id int64) (BindingRecord, error) {
	b, err := scanBindingDetail(tx.QueryRow(ctx, `SELECT `+bindingDetailColumns+` FROM bindings WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return BindingRecord{}, fmt.Errorf("binding %d: %w", id, ErrNotFound)
	}
	return b, err
}
