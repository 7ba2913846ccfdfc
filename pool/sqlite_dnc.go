package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// defaultDNCLimit is the page size of ListDoNotCall when DNCFilter.Limit is zero.
const defaultDNCLimit = 1000

// AddDoNotCall adds es to their lists in one transaction and returns how many were
// new; an entry already listed keeps its first AddedAt and Source. Numbers must be
// normalised E.164 (ErrInvalid otherwise); a zero AddedAt is the store's clock.
func (s *SQLiteStore) AddDoNotCall(ctx context.Context, es []DNCEntry) (int, error) {
	for _, e := range es {
		if !isE164(e.Number) {
			return 0, fmt.Errorf("pool: add do-not-call: %w: %q is not E.164", ErrInvalid, e.Number)
		}
	}
	now := s.now()
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO do_not_call (tenant, number, added_at, source) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range es {
			at := e.AddedAt
			if at.IsZero() {
				at = now
			}
			res, err := st.ExecContext(ctx, e.Tenant, e.Number, at.UnixMilli(), e.Source)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pool: add do-not-call: %w", s.closedOr(err))
	}
	return added, nil
}

// RemoveDoNotCall takes number off tenant's list ("" the global one) and reports
// whether it was listed.
func (s *SQLiteStore) RemoveDoNotCall(ctx context.Context, tenant, number string) (bool, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM do_not_call WHERE tenant = ? AND number = ?`, tenant, number)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("pool: remove do-not-call: %w", s.closedOr(err))
	}
	return n > 0, nil
}

// DoNotCall reports whether number (E.164) is on tenant's list or on the global
// list, and returns the entry (the tenant's own if on both).
func (s *SQLiteStore) DoNotCall(ctx context.Context, tenant, number string) (DNCEntry, bool, error) {
	var e DNCEntry
	var at int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT tenant, number, added_at, source FROM do_not_call
			WHERE number = ? AND tenant IN (?, '') ORDER BY tenant DESC LIMIT 1`, number, tenant).
			Scan(&e.Tenant, &e.Number, &at, &e.Source)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return DNCEntry{}, false, nil
	}
	if err != nil {
		return DNCEntry{}, false, fmt.Errorf("pool: do-not-call lookup: %w", s.closedOr(err))
	}
	e.AddedAt = fromMS(sql.NullInt64{Int64: at, Valid: true})
	return e, true, nil
}

// ListDoNotCall returns one page of a list, ordered by number.
func (s *SQLiteStore) ListDoNotCall(ctx context.Context, f DNCFilter) ([]DNCEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultDNCLimit
	}
	var out []DNCEntry
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT tenant, number, added_at, source FROM do_not_call
			WHERE tenant = ? AND number > ? ORDER BY number LIMIT ?`, f.Tenant, f.After, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanDNC(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pool: list do-not-call: %w", s.closedOr(err))
	}
	return out, nil
}

// DNCQuery selects entries across do-not-call lists for ListDNC.
type DNCQuery struct {
	// Lists are the lists to read, by tenant ("" is the global list); nil reads every
	// list, an empty non-nil slice none.
	Lists []string
	// Number, if set, selects the entries of this E.164 number only: which lists
	// hold it.
	Number string
	// After is the last entry of the previous page (its Tenant and Number); the zero
	// DNCEntry for the first page.
	After DNCEntry
	// Limit bounds the page: 0 means 100, at most MaxListLimit.
	Limit int
}

// defaultDNCPage is the page size of ListDNC when DNCQuery.Limit is zero.
const defaultDNCPage = 100

// ListDNC returns one page of the entries q selects, ordered by list (the global
// list first, then tenants by name) and number, and whether more follow.
func (s *SQLiteStore) ListDNC(ctx context.Context, q DNCQuery) ([]DNCEntry, bool, error) {
	if q.Lists != nil && len(q.Lists) == 0 {
		return nil, false, nil
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultDNCPage
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	var (
		where []string
		args  []any
	)
	if q.Lists != nil {
		where = append(where, "tenant IN ("+placeholders(len(q.Lists))+")")
		for _, t := range q.Lists {
			args = append(args, t)
		}
	}
	if q.Number != "" {
		where, args = append(where, "number = ?"), append(args, q.Number)
	}
	if q.After != (DNCEntry{}) {
		where, args = append(where, "(tenant, number) > (?, ?)"), append(args, q.After.Tenant, q.After.Number)
	}
	query := "SELECT tenant, number, added_at, source FROM do_not_call"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY tenant, number LIMIT ?"
	args = append(args, limit+1)
	var out []DNCEntry
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanDNC(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, false, fmt.Errorf("pool: list do-not-call: %w", s.closedOr(err))
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// placeholders returns n comma-separated "?".
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// EachDoNotCall calls fn with every entry of every list, from one snapshot; fn's
// error stops the walk and is returned.
func (s *SQLiteStore) EachDoNotCall(ctx context.Context, fn func(DNCEntry) error) error {
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT tenant, number, added_at, source FROM do_not_call`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanDNC(rows)
			if err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("pool: read do-not-call lists: %w", s.closedOr(err))
	}
	return nil
}

func scanDNC(rows rowScanner) (DNCEntry, error) {
	var e DNCEntry
	var at int64
	err := rows.Scan(&e.Tenant, &e.Number, &at, &e.Source)
	e.AddedAt = fromMS(sql.NullInt64{Int64: at, Valid: true})
	return e, err
}

// isE164 reports whether s is "+" and 8 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
