package pool

import (
	"context"
	"database/sql"
	"fmt"
)

// SetBindingRules replaces the limits allocation and the GC keep, e.g. after a config
// reload; zero fields mean their defaults. Transactions already running keep the
// rules they started with.
func (s *SQLiteStore) SetBindingRules(r BindingRules) {
	r = r.withDefaults()
	s.rules.Store(&r)
}

// bindingRules returns the current rules, defaults applied.
func (s *SQLiteStore) bindingRules() BindingRules { return *s.rules.Load() }

// SyncVirtualNumbers makes the allocatable virtual numbers exactly ns, in one
// transaction: new numbers are inserted as available, known ones get their pool,
// tenant, supplier, region and trunk updated (a retired one becomes available again;
// a blocked one stays blocked), and numbers no longer in ns are retired: never
// allocated, while the bindings they carry route until they end. Every number's
// count of live bindings is recomputed. A number listed twice, or an empty number or
// pool, is ErrInvalid and changes nothing.
func (s *SQLiteStore) SyncVirtualNumbers(ctx context.Context, ns []VirtualNumber) error {
	seen := make(map[string]bool, len(ns))
	for _, n := range ns {
		switch {
		case n.Number == "" || n.Pool == "":
			return fmt.Errorf("pool: sync virtual numbers: %w: number %q of pool %q: both are required", ErrInvalid, n.Number, n.Pool)
		case seen[n.Number]:
			return fmt.Errorf("pool: sync virtual numbers: %w: number %s listed twice", ErrInvalid, n.Number)
		}
		seen[n.Number] = true
	}
	now := s.now().UnixMilli()
	var retired int
	err := s.write(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, `INSERT INTO virtual_numbers
			(number, pool, tenant, supplier, region, trunk, state, synced_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'available', ?7)
			ON CONFLICT (number) DO UPDATE SET pool = ?2, tenant = ?3, supplier = ?4, region = ?5,
				trunk = ?6, synced_at = ?7,
				state = CASE WHEN state = 'retired' AND withdrawn_at IS NULL THEN 'available' ELSE state END`)
		if err != nil {
			return err
		}
		defer up.Close()
		for _, n := range ns {
			if _, err := up.ExecContext(ctx, n.Number, n.Pool, n.Tenant, n.Supplier, n.Region, n.Trunk, now); err != nil {
				return fmt.Errorf("number %s: %w", n.Number, err)
			}
		}
		gone, err := vanished(ctx, tx, seen)
		if err != nil {
			return err
		}
		for _, n := range gone {
			if _, err := tx.ExecContext(ctx, `UPDATE virtual_numbers SET state = 'retired', synced_at = ?
				WHERE number = ?`, now, n); err != nil {
				return fmt.Errorf("retire %s: %w", n, err)
			}
		}
		retired = len(gone)
		_, err = tx.ExecContext(ctx, `UPDATE virtual_numbers SET bound =
			(SELECT count(*) FROM bindings b WHERE b.deleted_at IS NULL AND b.virtual = virtual_numbers.number) +
			(SELECT count(*) FROM bindings b WHERE b.deleted_at IS NULL AND b.y = virtual_numbers.number
				AND b.virtual <> virtual_numbers.number)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("pool: sync virtual numbers: %w", err)
	}
	s.log.InfoContext(ctx, "synced virtual numbers", "numbers", len(ns), "retired", retired)
	return nil
}

// vanished returns the numbers not yet retired that are not in keep.
func vanished(ctx context.Context, tx *sql.Tx, keep map[string]bool) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT number FROM virtual_numbers WHERE state <> 'retired'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var gone []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if !keep[n] {
			gone = append(gone, n)
		}
	}
	return gone, rows.Err()
}
