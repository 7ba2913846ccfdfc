package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Do-not-call lists and API nonces on PostgreSQL. Numbers compare byte-wise
// (COLLATE "C"), as in SQLite, so that paging is the same on both stores.

// AddDoNotCall adds es to their lists in one transaction and returns how many were
// new, as SQLiteStore.AddDoNotCall does.
func (s *PostgresStore) AddDoNotCall(ctx context.Context, es []DNCEntry) (int, error) {
	for _, e := range es {
		if !isE164(e.Number) {
			return 0, fmt.Errorf("pool: add do-not-call: %w: %q is not E.164", ErrInvalid, e.Number)
		}
	}
	now := s.now()
	added := 0
	err := s.write(ctx, func(tx pgx.Tx) error {
		added = 0
		for _, e := range es {
			at := e.AddedAt
			if at.IsZero() {
				at = now
			}
			tag, err := tx.Exec(ctx, `INSERT INTO do_not_call (tenant, number, added_at, source) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, e.Tenant, e.Number, at.UnixMilli(), e.Source)
			if err != nil {
				return err
			}
			added += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pool: add do-not-call: %w", s.closedOr(err))
	}
	return added, nil
}

// RemoveDoNotCall takes number off tenant's list and reports whether it was listed.
func (s *PostgresStore) RemoveDoNotCall(ctx context.Context, tenant, number string) (bool, error) {
	var n int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM do_not_call WHERE tenant = $1 AND number = $2`, tenant, number)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("pool: remove do-not-call: %w", s.closedOr(err))
	}
	return n > 0, nil
}

// DoNotCall reports whether number is on tenant's list or the global one, and
// returns the entry (the tenant's own if on both).
func (s *PostgresStore) DoNotCall(ctx context.Context, tenant, number string) (DNCEntry, bool, error) {
	if err := s.checkOpen(); err != nil {
		return DNCEntry{}, false, err
	}
	e, err := pgScanDNC(s.db.QueryRow(ctx, `SELECT tenant, number, added_at, source FROM do_not_call
		WHERE number = $1 AND tenant IN ($2, '') ORDER BY tenant COLLATE "C" DESC LIMIT 1`, number, tenant))
	if errors.Is(err, pgx.ErrNoRows) {
		return DNCEntry{}, false, nil
	}
	if err != nil {
		return DNCEntry{}, false, fmt.Errorf("pool: do-not-call lookup: %w", s.closedOr(err))
	}
	return e, true, nil
}

// ListDoNotCall returns one page of a list, ordered by number.
func (s *PostgresStore) ListDoNotCall(ctx context.Context, f DNCFilter) ([]DNCEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultDNCLimit
	}
	var out []DNCEntry
	err := s.read(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT tenant, number, added_at, source FROM do_not_call
			WHERE tenant = $1 AND number COLLATE "C" > $2 ORDER BY number COLLATE "C" LIMIT $3`, f.Tenant, f.After, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := pgScanDNC(rows)
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

// EachDoNotCall calls fn with every entry of every list, from one snapshot.
func (s *PostgresStore) EachDoNotCall(ctx context.Context, fn func(DNCEntry) error) error {
	err := s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT tenant, number, added_at, source FROM do_not_call`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := pgScanDNC(rows)
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

func pgScanDNC(row rowScanner) (DNCEntry, error) {
	var e DNCEntry
	var at int64
	err := row.Scan(&e.Tenant, &e.Number, &at, &e.Source)
	e.AddedAt = fromMS(sql.NullInt64{Int64: at, Valid: true})
	return e, err
}

// UseNonce records that app used nonce in a request stamped at (ErrExists if it
// did before) and forgets nonces stamped before pruneBefore, in one transaction.
// Every instance sees every nonce: a request replayed to another instance fails.
func (s *PostgresStore) UseNonce(ctx context.Context, app, nonce string, at, pruneBefore time.Time) error {
	if app == "" || nonce == "" {
		return fmt.Errorf("pool: use nonce: %w: app and nonce are required", ErrInvalid)
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM api_nonces WHERE ts < $1`, pruneBefore.UnixMilli()); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO api_nonces (app, nonce, ts) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			app, nonce, at.UnixMilli())
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("pool: nonce of app %q: %w", app, ErrExists)
		}
		return err
	})
	if errors.Is(err, ErrExists) {
		return err
	}
	if err != nil {
		return fmt.Errorf("pool: use nonce: %w", s.closedOr(err))
	}
	return nil
}
