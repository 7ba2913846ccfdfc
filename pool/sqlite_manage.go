package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file reads, changes, unbinds and lists bindings for the business API.

// Binding returns binding id whatever its state (live, expired, deleted), with every
// field; an unknown id is ErrNotFound.
func (s *SQLiteStore) Binding(ctx context.Context, id int64) (BindingRecord, error) {
	var b BindingRecord
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		b, err = bindingTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return BindingRecord{}, fmt.Errorf("pool: %w", s.closedOr(err))
	}
	return b, nil
}

// UpdateBinding changes live binding id as p says and returns it. A static binding
// is ErrStatic; one deleted, or expired at the store's clock, is ErrEnded. A new B
// must be free on the number it is reached on (X for AXB, Y for AXYB), else an
// *AllocationError (ErrConflict); the old B's pair cools down like an unbound one.
func (s *SQLiteStore) UpdateBinding(ctx context.Context, id int64, p BindingPatch) (BindingRecord, error) {
	now := s.now()
	rules := s.bindingRules()
	if p.Expiry != nil {
		e, err := checkExpiry(*p.Expiry, now)
		if err != nil {
			return BindingRecord{}, err
		}
		p.Expiry = &e
	}
	var b BindingRecord
	var mode Mode
	var tenant string
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := s.now() // under the write lock: times follow commit order
		old, err := bindingTx(ctx, tx, id)
		if err != nil {
			return err
		}
		mode, tenant = old.Mode, old.Tenant
		if err := changeable(old, now); err != nil {
			return err
		}
		if p.B != "" && p.B != old.B {
			if err := changeB(ctx, tx, old, p.B, rules, now); err != nil {
				return err
			}
		}
		if p.Expiry != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE bindings SET expiry_type = ?, expiry_sec = ?, expire_at = ?
				WHERE id = ?`, p.Expiry.Type, p.Expiry.Sec, ms(p.Expiry.At), id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bindings SET updated_at = ? WHERE id = ?`, now.UnixMilli(), id); err != nil {
			return err
		}
		b, err = bindingTx(ctx, tx, id)
		return err
	})
	if err != nil {
		var ae *AllocationError
		if errors.As(err, &ae) {
			ae.Mode, ae.Tenant = mode, tenant
			return BindingRecord{}, ae
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			return BindingRecord{}, fe
		}
		return BindingRecord{}, fmt.Errorf("pool: update binding %d: %w", id, s.closedOr(err))
	}
	return b, nil
}

// changeable says whether binding b may be changed through the API at now.
func changeable(b BindingRecord, now time.Time) error {
	switch {
	case b.Static:
		return ErrStatic
	case !b.DeletedAt.IsZero():
		return fmt.Errorf("%w: %s at %s", ErrEnded, b.EndReason, b.DeletedAt.Format(time.RFC3339))
	case !b.ActiveAt(now):
		return fmt.Errorf("%w: expired at %s", ErrEnded, b.EndsAt().Format(time.RFC3339))
	}
	return nil
}

// changeB replaces party B of live binding old by b, inside tx.
func changeB(ctx context.Context, tx *sql.Tx, old BindingRecord, b string, rules BindingRules, now time.Time) error {
	switch {
	case b == old.A:
		return fieldErr("b", "must differ from a")
	case b == old.Virtual || b == old.Y:
		return fieldErr("b", "must differ from the binding's virtual numbers")
	}
	var was, will []holding
	switch old.Mode {
	case ModeAXB:
		was, will = []holding{{old.Virtual, old.B}}, []holding{{old.Virtual, b}}
	case ModeAXYB:
		was, will = []holding{{old.Y, old.B}}, []holding{{old.Y, b}}
	}
	if len(was) > 0 { // AXN: B is reached by anyone on X; no pair changes
		if err := releaseParties(ctx, tx, old.ID, now, rules.CoolDown, was...); err != nil {
			return err
		}
		if err := claimParties(ctx, tx, old.ID, will, now); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE bindings SET party_b = ? WHERE id = ?`, b, old.ID)
	return err
}

// DeleteBinding unbinds binding id and returns it as stored afterwards. The row is
// kept (deleted_at, end reason "unbound"): a call in progress through it goes on,
// and its (number, party) pairs cool down before anyone else may bind them.
// Deleting a binding that already ended returns it unchanged; a static binding is
// ErrStatic, an unknown id ErrNotFound.
func (s *SQLiteStore) DeleteBinding(ctx context.Context, id int64) (BindingRecord, error) {
	rules := s.bindingRules()
	var b BindingRecord
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := s.now() // under the write lock: times follow commit order
		old, err := bindingTx(ctx, tx, id)
		switch {
		case err != nil:
			return err
		case old.Static:
			return ErrStatic
		}
		if err := endBinding(ctx, tx, old.Binding, EndUnbound, now, rules.CoolDown); err != nil {
			return err
		}
		b, err = bindingTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return BindingRecord{}, fmt.Errorf("pool: delete binding %d: %w", id, s.closedOr(err))
	}
	return b, nil
}

// ListBindings returns one page of the live (not deleted) bindings f selects, in ID
// order, with every field, and the cursor of the next page (0 when this is the
// last). Bindings that have expired but are not reclaimed yet are listed.
func (s *SQLiteStore) ListBindings(ctx context.Context, f BindingFilter) ([]BindingRecord, int64, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = defaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	query, args := listQuery(BindingFilter{Tenant: f.Tenant, Virtual: f.Virtual, Party: f.Party, After: f.After, Limit: limit + 1})
	var out []BindingRecord
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			b, err := scanBindingDetail(rows)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("pool: list bindings: %w", s.closedOr(err))
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// listQuery builds the query of ListBindings for f (f.Limit rows) and its arguments.
func listQuery(f BindingFilter) (string, []any) {
	var where strings.Builder
	where.WriteString(`deleted_at IS NULL AND id > ?`)
	args := []any{f.After}
	if f.Tenant != "" {
		where.WriteString(` AND tenant = ?`)
		args = append(args, f.Tenant)
	}
	if f.Virtual != "" {
		where.WriteString(` AND (virtual = ? OR y = ?)`)
		args = append(args, f.Virtual, f.Virtual)
	}
	if f.Party != "" {
		where.WriteString(` AND (party_a = ? OR party_b = ?)`)
		args = append(args, f.Party, f.Party)
	}
	args = append(args, f.Limit)
	return `SELECT ` + bindingDetailColumns + ` FROM bindings WHERE ` + where.String() + ` ORDER BY id LIMIT ?`, args
}
