package pool

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const bindingColumns = `id, tenant, mode, virtual, party_a, party_b, y, trunk, static,
	expiry_type, expiry_sec, expire_at, created_at, first_call_at, last_call_at, y_trunk`

// bindingDetailColumns are bindingColumns and what only the business API reads.
const bindingDetailColumns = bindingColumns + `, city, channel, pool, idem_key, updated_at,
	deleted_at, end_reason`

// rowScanner is *sql.Rows or *sql.Row.
type rowScanner interface{ Scan(dest ...any) error }

// scanBinding reads one row of bindingColumns.
func scanBinding(rows rowScanner) (Binding, error) {
	var (
		b                           Binding
		expireAt, first, last, crtd sql.NullInt64
	)
	err := rows.Scan(&b.ID, &b.Tenant, &b.Mode, &b.Virtual, &b.A, &b.B, &b.Y, &b.Trunk, &b.Static,
		&b.Expiry, &b.ExpirySec, &expireAt, &crtd, &first, &last, &b.YTrunk)
	b.ExpireAt, b.CreatedAt, b.FirstCall, b.LastCall = fromMS(expireAt), fromMS(crtd), fromMS(first), fromMS(last)
	return b, err
}

// scanBindingDetail reads one row of bindingDetailColumns.
func scanBindingDetail(rows rowScanner) (BindingRecord, error) {
	var (
		r                                             BindingRecord
		expireAt, first, last, crtd, updated, deleted sql.NullInt64
	)
	b := &r.Binding
	err := rows.Scan(&b.ID, &b.Tenant, &b.Mode, &b.Virtual, &b.A, &b.B, &b.Y, &b.Trunk, &b.Static,
		&b.Expiry, &b.ExpirySec, &expireAt, &crtd, &first, &last, &b.YTrunk,
		&r.City, &r.Channel, &r.Pool, &r.IdempotencyKey, &updated, &deleted, &r.EndReason)
	b.ExpireAt, b.CreatedAt, b.FirstCall, b.LastCall = fromMS(expireAt), fromMS(crtd), fromMS(first), fromMS(last)
	r.UpdatedAt, r.DeletedAt = fromMS(updated), fromMS(deleted)
	return r, err
}

// staticKey is the identity of a static binding.
type staticKey struct {
	virtual string
	mode    Mode
	a       string
}

func keyOf(b Binding) staticKey { return staticKey{b.Virtual, b.Mode, b.A} }

// sameStatic reports whether the stored static binding old already says what the
// configured binding b says (identity aside).
func sameStatic(old, b Binding) bool {
	return old.Tenant == b.Tenant && old.B == b.B && old.Y == b.Y && old.Trunk == b.Trunk &&
		old.Expiry == b.Expiry && old.ExpirySec == b.ExpirySec &&
		old.ExpireAt.UnixMilli() == b.ExpireAt.UnixMilli() && old.ExpireAt.IsZero() == b.ExpireAt.IsZero()
}

// SyncStaticBindings makes the live static bindings exactly bs, in one transaction.
// A static binding's identity is (Virtual, Mode, A): one that is new is inserted
// (CreatedAt = the store's clock), one whose other fields changed is updated in place
// (keeping its ID, CreatedAt and call times), and one no longer in bs is unbound
// (deleted_at set, end reason "config"; the row stays for history, and its parties
// cool down like an unbound binding's). Static bindings hold their (number, party)
// pairs like API bindings do, so allocation never hands out a number a static AXN
// binding holds; where an API binding holds the same pair, the static one takes it
// over (config wins). ID, Static, CreatedAt,
// FirstCall and LastCall of bs are ignored. Invalid or duplicate bindings fail the
// whole sync with ErrInvalid and change nothing.
func (s *SQLiteStore) SyncStaticBindings(ctx context.Context, bs []Binding) error {
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		have, err := liveStatic(ctx, tx)
		if err != nil {
			return err
		}
		for k, old := range have {
			b, ok := want[k]
			switch {
			case !ok:
				err = endBinding(ctx, tx, old, EndConfig, now, cool)
				deleted++
			case !sameStatic(old, b):
				_, err = tx.ExecContext(ctx, `UPDATE bindings SET tenant = ?, party_b = ?, y = ?, trunk = ?,
					expiry_type = ?, expiry_sec = ?, expire_at = ?, updated_at = ? WHERE id = ?`,
					b.Tenant, b.B, b.Y, b.Trunk, b.Expiry, b.ExpirySec, ms(b.ExpireAt), now.UnixMilli(), old.ID)
				if err == nil && (old.B != b.B || old.Y != b.Y) {
					// Its parties changed: hold the new ones (the old are released
					// without cool-down: config edits are deliberate).
					b.ID = old.ID
					if err = dropParties(ctx, tx, old.ID); err == nil {
						err = claimStaticParties(ctx, tx, b)
					}
					if err == nil && old.Y != b.Y {
						err = adjustBound(ctx, tx, -1, old.Y)
						if err == nil {
							err = adjustBound(ctx, tx, +1, b.Y)
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
			res, err := tx.ExecContext(ctx, `INSERT INTO bindings (tenant, mode, virtual, party_a, party_b, y,
				trunk, static, expiry_type, expiry_sec, expire_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
				b.Tenant, b.Mode, b.Virtual, b.A, b.B, b.Y, b.Trunk, b.Expiry, b.ExpirySec, ms(b.ExpireAt), now.UnixMilli())
			if err == nil {
				b.ID, err = res.LastInsertId()
			}
			if err == nil {
				err = claimStaticParties(ctx, tx, b)
			}
			if err == nil {
				err = adjustBound(ctx, tx, +1, b.Virtual, b.Y)
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

// liveStatic reads the static bindings that are not deleted, by identity.
func liveStatic(ctx context.Context, tx *sql.Tx) (map[staticKey]Binding, error) {
	// Without statistics SQLite would scan a whole index of every binding for the
	// few static ones; the partial index holds exactly the live static rows.
	rows, err := tx.QueryContext(ctx, `SELECT `+bindingColumns+` FROM bindings
		INDEXED BY bindings_static_identity WHERE static = 1 AND deleted_at IS NULL`)
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

// activeBindingsQuery selects the live bindings on ?1 (as X or as Y) that have not
// ended at ?2 (unix ms). It is a UNION rather than an OR so that each half searches
// its partial index (bindings_by_virtual, bindings_by_y); ends_at is the stored
// expiry rule.
const activeBindingsQuery = `SELECT ` + bindingColumns + ` FROM bindings
	WHERE virtual = ?1 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > ?2)
	UNION ALL
	SELECT ` + bindingColumns + ` FROM bindings
	WHERE y = ?1 AND virtual <> ?1 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > ?2)
	ORDER BY id`

// ActiveBindings returns the bindings on virtual number v that route at now, in ID
// order: not deleted, and not expired by their expiry type (see Binding.EndsAt). A
// binding is on v if v is its X (Virtual) or, for AXYB, its Y: the caller tells the
// two apart by comparing v with Virtual. A zero now means the store's clock.
func (s *SQLiteStore) ActiveBindings(ctx context.Context, v string, now time.Time) ([]Binding, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if v == "" {
		return nil, nil
	}
	if now.IsZero() {
		now = s.now()
	}
	rows, err := s.r.QueryContext(ctx, activeBindingsQuery, v, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("pool: active bindings on %s: %w", v, s.closedOr(err))
	}
	defer rows.Close()
	bs := make([]Binding, 0, 4) // one allocation for the usual few
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, fmt.Errorf("pool: active bindings on %s: %w", v, err)
		}
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pool: active bindings on %s: %w", v, err)
	}
	return bs, nil
}

// TouchBinding records a call through binding id at time at: FirstCall becomes the
// earliest and LastCall the latest time touched. Expiry types after_first_call and
// after_last_call count from these. It works on deleted bindings too (a call in
// progress survives unbind); an unknown id is ErrNotFound.
func (s *SQLiteStore) TouchBinding(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("pool: touch binding %d: %w: zero time", id, ErrInvalid)
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bindings
			SET first_call_at = min(coalesce(first_call_at, ?1), ?1),
			    last_call_at  = max(coalesce(last_call_at, ?1), ?1)
			WHERE id = ?2`, at.UnixMilli(), id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
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
