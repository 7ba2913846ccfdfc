package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The callback relations on PostgreSQL (see sqlite_callbacks.go): every instance
// sees the relations every other instance's agents made.

// RememberCallback stores or refreshes relation r, as SQLiteStore.RememberCallback
// does: a relation from a later call is never replaced by one from an earlier call,
// and each write deletes a few relations that expired before r.LastCallAt (skipping
// those another instance is deleting or refreshing).
func (s *PostgresStore) RememberCallback(ctx context.Context, r CallbackRelation) error {
	switch {
	case r.Tenant == "" || r.Number == "" || r.Customer == "" || r.Agent == "":
		return fmt.Errorf("pool: remember callback: %w: tenant, number, customer and agent are required", ErrInvalid)
	case r.LastCallAt.IsZero() || r.ExpiresAt.IsZero():
		return fmt.Errorf("pool: remember callback %s → %s: %w: zero call or expiry time", r.Customer, r.Number, ErrInvalid)
	}
	last := r.LastCallAt.UnixMilli()
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO callback_relations
			(number, customer, tenant, agent, call_id, last_call_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (number, customer) DO UPDATE SET tenant = excluded.tenant, agent = excluded.agent,
				call_id = excluded.call_id, last_call_at = excluded.last_call_at, expires_at = excluded.expires_at
			WHERE excluded.last_call_at >= callback_relations.last_call_at`,
			r.Number, r.Customer, r.Tenant, r.Agent, r.CallID, last, r.ExpiresAt.UnixMilli())
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM callback_relations WHERE (number, customer) IN
			(SELECT number, customer FROM callback_relations WHERE expires_at <= $1
			 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
			AND expires_at <= $1`, last, callbackSweep)
		return err
	})
	if err != nil {
		return fmt.Errorf("pool: remember callback %s → %s: %w", r.Customer, r.Number, s.closedOr(err))
	}
	return nil
}

// CallbackRelation returns the relation a call from customer to number follows if
// it is still active at now, else ErrNotFound, as SQLiteStore.CallbackRelation does.
func (s *PostgresStore) CallbackRelation(ctx context.Context, number, customer string, now time.Time) (CallbackRelation, error) {
	if err := s.checkOpen(); err != nil {
		return CallbackRelation{}, err
	}
	r := CallbackRelation{Number: number, Customer: customer}
	var last, expires int64
	err := s.db.QueryRow(ctx, `SELECT tenant, agent, call_id, last_call_at, expires_at
		FROM callback_relations WHERE number = $1 AND customer = $2 AND expires_at > $3`,
		number, customer, now.UnixMilli()).Scan(&r.Tenant, &r.Agent, &r.CallID, &last, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return CallbackRelation{}, fmt.Errorf("pool: callback relation %s → %s: %w", customer, number, ErrNotFound)
	}
	if err != nil {
		return CallbackRelation{}, fmt.Errorf("pool: callback relation %s → %s: %w", customer, number, s.closedOr(err))
	}
	r.LastCallAt = fromMS(sql.NullInt64{Int64: last, Valid: true})
	r.ExpiresAt = fromMS(sql.NullInt64{Int64: expires, Valid: true})
	return r, nil
}
