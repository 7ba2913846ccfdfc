package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// This file keeps the callback relations: an agent's outbound call from caller number
// N to customer C means a call from C back to N reaches that agent, until the
// relation expires (routing/callback.go decides; this is its memory).

// CallbackRelation is the implicit A-V-B relation an agent's outbound call creates:
// Customer saw Number calling on behalf of Agent; Customer's calls to Number reach
// Agent until ExpiresAt.
type CallbackRelation struct {
	Tenant   string
	Number   string // the caller number the customer saw, E.164
	Customer string // E.164
	Agent    string
	// CallID is the call that created or last refreshed the relation.
	CallID     string
	LastCallAt time.Time
	ExpiresAt  time.Time
}

// callbackSweep is how many expired relations each RememberCallback deletes: the
// table stays bounded without a collector of its own.
const callbackSweep = 16

// RememberCallback stores r, or refreshes the relation on (r.Number, r.Customer): the
// agent, tenant, call and times become r's, unless the stored relation comes from a
// later call (calls can end out of order). Each write also deletes a few relations
// that expired before r.LastCallAt. Empty Tenant, Number, Customer or Agent, or a
// zero LastCallAt or ExpiresAt, is ErrInvalid.
func (s *SQLiteStore) RememberCallback(ctx context.Context, r CallbackRelation) error {
	switch {
	case r.Tenant == "" || r.Number == "" || r.Customer == "" || r.Agent == "":
		return fmt.Errorf("pool: remember callback: %w: tenant, number, customer and agent are required", ErrInvalid)
	case r.LastCallAt.IsZero() || r.ExpiresAt.IsZero():
		return fmt.Errorf("pool: remember callback %s → %s: %w: zero call or expiry time", r.Customer, r.Number, ErrInvalid)
	}
	last := r.LastCallAt.UnixMilli()
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO callback_relations
			(number, customer, tenant, agent, call_id, last_call_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (number, customer) DO UPDATE SET tenant = excluded.tenant, agent = excluded.agent,
				call_id = excluded.call_id, last_call_at = excluded.last_call_at, expires_at = excluded.expires_at
			WHERE excluded.last_call_at >= callback_relations.last_call_at`,
			r.Number, r.Customer, r.Tenant, r.Agent, r.CallID, last, r.ExpiresAt.UnixMilli())
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM callback_relations WHERE (number, customer) IN
			(SELECT number, customer FROM callback_relations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
			last, callbackSweep)
		return err
	})
	if err != nil {
		return fmt.Errorf("pool: remember callback %s → %s: %w", r.Customer, r.Number, err)
	}
	return nil
}

// CallbackRelation returns the relation a call from customer to number follows, if
// it is still active at now (ExpiresAt after now); else ErrNotFound. It is one
// primary-key lookup.
func (s *SQLiteStore) CallbackRelation(ctx context.Context, number, customer string, now time.Time) (CallbackRelation, error) {
	r := CallbackRelation{Number: number, Customer: customer}
	var last, expires int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT tenant, agent, call_id, last_call_at, expires_at
			FROM callback_relations WHERE number = ? AND customer = ? AND expires_at > ?`,
			number, customer, now.UnixMilli()).Scan(&r.Tenant, &r.Agent, &r.CallID, &last, &expires)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return CallbackRelation{}, fmt.Errorf("pool: callback relation %s → %s: %w", customer, number, ErrNotFound)
	}
	if err != nil {
		return CallbackRelation{}, fmt.Errorf("pool: callback relation %s → %s: %w", customer, number, err)
	}
	r.LastCallAt = fromMS(sql.NullInt64{Int64: last, Valid: true})
	r.ExpiresAt = fromMS(sql.NullInt64{Int64: expires, Valid: true})
	return r, nil
}
