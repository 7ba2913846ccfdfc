package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reading, changing, unbinding and listing bindings for the business API on
// PostgreSQL. Every change to the bindings on a virtual number first locks the
// number's row (pgLockNumbers), in number order, then the binding's: the order
// allocation takes them in (it picks and locks the number, then inserts), so that
// an unbind, an update, the GC and allocation on one number, from any instance,
// queue up instead of deadlocking.

// pgLockNumbers locks the rows of the given virtual numbers ("" and numbers that
// are not allocatable are skipped) until the transaction ends, in number order.
func pgLockNumbers(ctx context.Context, tx pgx.Tx, numbers ...string) error {
	ns := make([]string, 0, len(numbers))
	for _, n := range numbers {
		if n != "" {
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT number FROM virtual_numbers WHERE number = ANY($1::text[])
		ORDER BY number COLLATE "C" FOR UPDATE`, ns)
	if err != nil {
		return fmt.Errorf("lock virtual numbers: %w", err)
	}
	return nil
}

// pgLockBinding locks binding id's row and reads it, after the numbers it is on.
func pgLockBinding(ctx context.Context, tx pgx.Tx, id int64) (BindingRecord, error) {
	old, err := pgBinding(ctx, tx, id)
	if err != nil {
		return BindingRecord{}, err
	}
	if err := pgLockNumbers(ctx, tx, old.Virtual, old.Y); err != nil {
		return BindingRecord{}, err
	}
	b, err := scanBindingDetail(tx.QueryRow(ctx, `SELECT `+bindingDetailColumns+` FROM bindings WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return BindingRecord{}, fmt.Errorf("binding %d: %w", id, ErrNotFound)
	}
	return b, err
}

// Binding returns binding id whatever its state, as SQLiteStore.Binding does; an
// unknown id is ErrNotFound.
func (s *PostgresStore) Binding(ctx context.Context, id int64) (BindingRecord, error) {
	var b BindingRecord
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = pgBinding(ctx, tx, id)
		return err
	})
	if err != nil {
		return BindingRecord{}, fmt.Errorf("pool: %w", s.closedOr(err))
	}
	return b, nil
}

// UpdateBinding changes live binding id as p says and returns it, as
// SQLiteStore.UpdateBinding does: a static binding is ErrStatic, an ended one
// ErrEnded, a new B taken on its number an *AllocationError (ErrConflict).
func (s *PostgresStore) UpdateBinding(ctx context.Context, id int64, p BindingPatch) (BindingRecord, error) {
	rules := s.bindingRules()
	if p.Expiry != nil {
		e, err := checkExpiry(*p.Expiry, s.now())
		if err != nil {
			return BindingRecord{}, err
		}
		p.Expiry = &e
	}
	var (
		b      BindingRecord
		mode   Mode
		tenant string
	)
	err := s.write(ctx, func(tx pgx.Tx) error {
		old, err := pgLockBinding(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.now() // with the locks held: times follow commit order
		mode, tenant = old.Mode, old.Tenant
		if err := changeable(old, now); err != nil {
			return err
		}
		if p.B != "" && p.B != old.B {
			if err := pgChangeB(ctx, tx, old, p.B, rules, now); err != nil {
				return err
			}
		}
		if p.Expiry != nil {
			if _, err := tx.Exec(ctx, `UPDATE bindings SET expiry_type = $1, expiry_sec = $2, expire_at = $3
				WHERE id = $4`, string(p.Expiry.Type), p.Expiry.Sec, ms(p.Expiry.At), id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE bindings SET updated_at = $1 WHERE id = $2`, now.UnixMilli(), id); err != nil {
			return err
		}
		b, err = pgBinding(ctx, tx, id)
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

// pgChangeB replaces party B of live binding old by b, inside tx (which holds the
// locks of old's numbers and row).
func pgChangeB(ctx context.Context, tx pgx.Tx, old BindingRecord, b string, rules BindingRules, now time.Time) error {
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
		if err := pgReleaseHoldings(ctx, tx, old.ID, now, rules.CoolDown, was); err != nil {
			return err
		}
		if err := pgClaimParties(ctx, tx, old.ID, will, now); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE bindings SET party_b = $1 WHERE id = $2`, b, old.ID)
	return err
}

// pgReleaseHoldings ends binding id's hold on the pairs hs: they cool down until
// now+cool, or are freed at once if cool <= 0.
func pgReleaseHoldings(ctx context.Context, tx pgx.Tx, id int64, now time.Time, cool time.Duration, hs []holding) error {
	for _, h := range hs {
		var err error
		if cool <= 0 {
			_, err = tx.Exec(ctx, `DELETE FROM binding_parties
				WHERE number = $1 AND party = $2 AND binding_id = $3 AND cooling_until IS NULL`, h.number, h.party, id)
		} else {
			_, err = tx.Exec(ctx, `UPDATE binding_parties SET cooling_until = $1
				WHERE number = $2 AND party = $3 AND binding_id = $4 AND cooling_until IS NULL`,
				now.Add(cool).UnixMilli(), h.number, h.party, id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteBinding unbinds binding id and returns it as stored afterwards, as
// SQLiteStore.DeleteBinding does: a soft delete whose pairs cool down; a binding
// that already ended is returned unchanged; a static one is ErrStatic.
func (s *PostgresStore) DeleteBinding(ctx context.Context, id int64) (BindingRecord, error) {
	rules := s.bindingRules()
	var b BindingRecord
	err := s.write(ctx, func(tx pgx.Tx) error {
		old, err := pgLockBinding(ctx, tx, id)
		switch {
		case err != nil:
			return err
		case old.Static:
			return ErrStatic
		}
		now := s.now() // with the locks held: times follow commit order
		if err := pgEndBinding(ctx, tx, old.Binding, EndUnbound, now, rules.CoolDown); err != nil {
			return err
		}
		b, err = pgBinding(ctx, tx, id)
		return err
	})
	if err != nil {
		return BindingRecord{}, fmt.Errorf("pool: delete binding %d: %w", id, s.closedOr(err))
	}
	return b, nil
}

// ListBindings returns one page of the live bindings f selects, in ID order, and
// the cursor of the next page (0 on the last), as SQLiteStore.ListBindings does.
func (s *PostgresStore) ListBindings(ctx context.Context, f BindingFilter) ([]BindingRecord, int64, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = defaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	var w pgWhere
	w.add(`deleted_at IS NULL AND id > ?`, f.After)
	if f.Tenant != "" {
		w.add(`tenant = ?`, f.Tenant)
	}
	if f.Virtual != "" {
		w.add(`(virtual = ? OR y = ?)`, f.Virtual, f.Virtual)
	}
	if f.Party != "" {
		w.add(`(party_a = ? OR party_b = ?)`, f.Party, f.Party)
	}
	query := `SELECT ` + bindingDetailColumns + ` FROM bindings` + w.sql() + ` ORDER BY id LIMIT ` + w.arg(limit+1)
	var out []BindingRecord
	err := s.read(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, query, w.args...)
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
