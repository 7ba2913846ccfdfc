package pool

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Agent login tokens on PostgreSQL (see sqlite_tokens.go for their format): only a
// token's SHA-256 is stored, and a token issued by one instance logs in on all.

// IssueAgentToken makes a new login token for t.Agent of t.Tenant valid until
// t.ExpiresAt and returns it with its record, as SQLiteStore.IssueAgentToken does.
func (s *PostgresStore) IssueAgentToken(ctx context.Context, t AgentToken) (string, AgentToken, error) {
	now := s.now()
	switch {
	case t.Tenant == "" || t.Agent == "":
		return "", AgentToken{}, fmt.Errorf("pool: issue agent token: %w: tenant and agent are required", ErrInvalid)
	case !t.ExpiresAt.After(now):
		return "", AgentToken{}, fmt.Errorf("pool: issue agent token: %w: expiry %s is not after now (%s)", ErrInvalid,
			t.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	rec := AgentToken{Tenant: t.Tenant, Agent: t.Agent, App: t.App,
		CreatedAt: fromMS(sql.NullInt64{Int64: now.UnixMilli(), Valid: true}),
		ExpiresAt: fromMS(sql.NullInt64{Int64: t.ExpiresAt.UnixMilli(), Valid: true})}
	for attempt := 0; ; attempt++ {
		token, id, hash, err := newAgentToken()
		if err != nil {
			return "", AgentToken{}, fmt.Errorf("pool: issue agent token: %w", err)
		}
		err = s.write(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM agent_tokens WHERE expires_at < $1`,
				now.Add(-AgentTokenRetention).UnixMilli()); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO agent_tokens (id, hash, tenant, agent, app, created_at, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, hash[:], rec.Tenant, rec.Agent, rec.App,
				rec.CreatedAt.UnixMilli(), rec.ExpiresAt.UnixMilli())
			return err
		})
		if pgCode(err) == pgUniqueViolation && attempt < 3 {
			continue // two random 64-bit IDs met: draw again
		}
		if err != nil {
			return "", AgentToken{}, fmt.Errorf("pool: issue agent token: %w", s.closedOr(err))
		}
		rec.ID = id
		return token, rec, nil
	}
}

// AuthenticateAgentToken returns the record of token if it is an issued token
// neither revoked nor expired at the store's clock, as
// SQLiteStore.AuthenticateAgentToken does: malformed, unknown or wrong is
// ErrNotFound, revoked or expired ErrEnded; the hash is compared in constant time.
func (s *PostgresStore) AuthenticateAgentToken(ctx context.Context, token string) (AgentToken, error) {
	id, ok := AgentTokenID(token)
	if !ok {
		return AgentToken{}, fmt.Errorf("pool: agent token: %w: malformed", ErrNotFound)
	}
	if err := s.checkOpen(); err != nil {
		return AgentToken{}, err
	}
	var stored []byte
	t, err := scanAgentToken(s.db.QueryRow(ctx, `SELECT `+agentTokenColumns+`, hash FROM agent_tokens WHERE id = $1`, id), &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return AgentToken{}, fmt.Errorf("pool: agent token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return AgentToken{}, fmt.Errorf("pool: agent token %s: %w", id, s.closedOr(err))
	}
	hash := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(hash[:], stored) != 1 {
		return AgentToken{}, fmt.Errorf("pool: agent token %s: %w: secret does not match", id, ErrNotFound)
	}
	now := s.now()
	switch {
	case !t.RevokedAt.IsZero():
		return t, fmt.Errorf("pool: agent token %s: %w: revoked at %s", id, ErrEnded, t.RevokedAt.Format(time.RFC3339))
	case !now.Before(t.ExpiresAt):
		return t, fmt.Errorf("pool: agent token %s: %w: expired at %s", id, ErrEnded, t.ExpiresAt.Format(time.RFC3339))
	}
	return t, nil
}

// AgentToken returns the record of token id whatever its state; ErrNotFound if
// there is none.
func (s *PostgresStore) AgentToken(ctx context.Context, id string) (AgentToken, error) {
	if err := s.checkOpen(); err != nil {
		return AgentToken{}, err
	}
	t, err := scanAgentToken(s.db.QueryRow(ctx, `SELECT `+agentTokenColumns+` FROM agent_tokens WHERE id = $1`, id), nil)
	if errors.Is(err, pgx.ErrNoRows) {
		return AgentToken{}, fmt.Errorf("pool: agent token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return AgentToken{}, fmt.Errorf("pool: agent token %s: %w", id, s.closedOr(err))
	}
	return t, nil
}

// RevokeAgentToken revokes token id at the store's clock and returns its record,
// as SQLiteStore.RevokeAgentToken does: RevokedAt stays the first revocation.
func (s *PostgresStore) RevokeAgentToken(ctx context.Context, id string) (AgentToken, error) {
	now := s.now().UnixMilli()
	var t AgentToken
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE agent_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, now, id); err != nil {
			return err
		}
		var err error
		t, err = scanAgentToken(tx.QueryRow(ctx, `SELECT `+agentTokenColumns+` FROM agent_tokens WHERE id = $1`, id), nil)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return AgentToken{}, fmt.Errorf("pool: revoke agent token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return AgentToken{}, fmt.Errorf("pool: revoke agent token %s: %w", id, s.closedOr(err))
	}
	return t, nil
}

// RevokeAgentTokens revokes every active token of agent (tenant, agent) at the
// store's clock and returns their records, oldest first.
func (s *PostgresStore) RevokeAgentTokens(ctx context.Context, tenant, agent string) ([]AgentToken, error) {
	now := s.now().UnixMilli()
	var out []AgentToken
	err := s.write(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `UPDATE agent_tokens SET revoked_at = $1
			WHERE tenant = $2 AND agent = $3 AND revoked_at IS NULL AND expires_at > $1
			RETURNING `+agentTokenColumns, now, tenant, agent)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanAgentToken(rows, nil)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pool: revoke tokens of agent %q of tenant %q: %w", agent, tenant, s.closedOr(err))
	}
	sortTokens(out)
	return out, nil
}
