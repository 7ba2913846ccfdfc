package pool

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// This file holds the agent login tokens the business API issues: their format, and
// their storage in agent_tokens (migration 0015), where only a token's SHA-256 is kept.

// AgentTokenPrefix starts every issued agent token. A token is
// "cgt_" + ID (16 lowercase hex digits, 64 random bits) + "_" + secret (43 characters
// of unpadded base64url, 256 random bits). The ID names the token in the API and in
// logs; the secret is known only to whoever the token was given to.
const AgentTokenPrefix = "cgt_"

// Sizes of an issued token's parts.
const (
	agentTokenIDBytes     = 8
	agentTokenSecretBytes = 32
	agentTokenIDLen       = 2 * agentTokenIDBytes
	agentTokenSecretLen   = (agentTokenSecretBytes*8 + 5) / 6 // base64 without padding
	agentTokenLen         = len(AgentTokenPrefix) + agentTokenIDLen + 1 + agentTokenSecretLen
)

// AgentTokenRetention is how long a token is kept after it expired, so the API can
// still say it expired; older ones are deleted when new tokens are issued.
const AgentTokenRetention = 24 * time.Hour

// AgentToken is the record of an issued agent token (never the token itself).
type AgentToken struct {
	// ID is the token's public name: 16 lowercase hex digits.
	ID string
	// Tenant and Agent are whom the token logs in.
	Tenant, Agent string
	// App is the business API app that issued it.
	App string
	// CreatedAt and ExpiresAt bound its validity; RevokedAt is when it was revoked,
	// zero if it was not.
	CreatedAt, ExpiresAt, RevokedAt time.Time
}

// Active reports whether the token logs its agent in at now: not revoked and not
// expired.
func (t AgentToken) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt)
}

// AgentTokenID returns the ID inside token, if token has the shape of an issued
// token; it does not say whether the token is valid.
func AgentTokenID(token string) (string, bool) {
	if len(token) != agentTokenLen || !strings.HasPrefix(token, AgentTokenPrefix) {
		return "", false
	}
	rest := token[len(AgentTokenPrefix):]
	id, secret := rest[:agentTokenIDLen], rest[agentTokenIDLen:]
	if !ValidAgentTokenID(id) || secret[0] != '_' {
		return "", false
	}
	for i := 1; i < len(secret); i++ {
		c := secret[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return id, true
}

// ValidAgentTokenID reports whether id has the shape of a token ID.
func ValidAgentTokenID(id string) bool {
	if len(id) != agentTokenIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// newAgentToken makes a fresh token and returns it with its ID and hash.
func newAgentToken() (token, id string, hash [sha256.Size]byte, err error) {
	var b [agentTokenIDBytes + agentTokenSecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", hash, err
	}
	id = hex.EncodeToString(b[:agentTokenIDBytes])
	token = AgentTokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[agentTokenIDBytes:])
	return token, id, sha256.Sum256([]byte(token)), nil
}

// agentTokenColumns are the columns of agent_tokens read into an AgentToken, in the
// order scanAgentToken takes them.
const agentTokenColumns = `id, tenant, agent, app, created_at, expires_at, revoked_at`

// scanAgentToken reads one row of agentTokenColumns (plus hash, if hash is not nil).
func scanAgentToken(row interface{ Scan(...any) error }, hash *[]byte) (AgentToken, error) {
	var t AgentToken
	var created, expires, revoked sql.NullInt64
	dest := []any{&t.ID, &t.Tenant, &t.Agent, &t.App, &created, &expires, &revoked}
	if hash != nil {
		dest = append(dest, hash)
	}
	if err := row.Scan(dest...); err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
	return t, nil
}

// IssueAgentToken makes a new login token for agent t.Agent of tenant t.Tenant,
// valid until t.ExpiresAt, issued by t.App, and returns the token with its record.
// The token is returned only here: the store keeps its SHA-256. CreatedAt is the
// store's clock (any ID or times other than ExpiresAt in t are ignored). An empty
// tenant or agent, or an ExpiresAt not after now, is ErrInvalid. Tokens expired for
// longer than AgentTokenRetention are deleted in the same transaction.
func (s *SQLiteStore) IssueAgentToken(ctx context.Context, t AgentToken) (string, AgentToken, error) {
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
		err = s.write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM agent_tokens WHERE expires_at < ?`,
				now.Add(-AgentTokenRetention).UnixMilli()); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO agent_tokens (id, hash, tenant, agent, app, created_at, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, id, hash[:], rec.Tenant, rec.Agent, rec.App,
				rec.CreatedAt.UnixMilli(), rec.ExpiresAt.UnixMilli())
			return err
		})
		if constraint(err, sqlite3.ErrConstraintPrimaryKey) && attempt < 3 {
			continue // two random 64-bit IDs met: draw again
		}
		if err != nil {
			return "", AgentToken{}, fmt.Errorf("pool: issue agent token: %w", s.closedOr(err))
		}
		rec.ID = id
		return token, rec, nil
	}
}

// AuthenticateAgentToken returns the record of token if it is an issued token that
// is neither revoked nor expired at the store's clock. A token that is malformed,
// unknown or whose secret does not match is ErrNotFound; a revoked or expired one is
// ErrEnded. The secret is compared in constant time.
func (s *SQLiteStore) AuthenticateAgentToken(ctx context.Context, token string) (AgentToken, error) {
	id, ok := AgentTokenID(token)
	if !ok {
		return AgentToken{}, fmt.Errorf("pool: agent token: %w: malformed", ErrNotFound)
	}
	var stored []byte
	var t AgentToken
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanAgentToken(tx.QueryRowContext(ctx, `SELECT `+agentTokenColumns+`, hash FROM agent_tokens WHERE id = ?`, id), &stored)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
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

// AgentToken returns the record of token id, whatever its state; ErrNotFound if
// there is none (or it was deleted AgentTokenRetention after it expired).
func (s *SQLiteStore) AgentToken(ctx context.Context, id string) (AgentToken, error) {
	var t AgentToken
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanAgentToken(tx.QueryRowContext(ctx, `SELECT `+agentTokenColumns+` FROM agent_tokens WHERE id = ?`, id), nil)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return AgentToken{}, fmt.Errorf("pool: agent token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return AgentToken{}, fmt.Errorf("pool: agent token %s: %w", id, s.closedOr(err))
	}
	return t, nil
}

// RevokeAgentToken revokes token id at the store's clock and returns its record.
// Revoking a revoked token changes nothing (RevokedAt stays the first revocation);
// an expired token is revoked all the same. An unknown id is ErrNotFound.
func (s *SQLiteStore) RevokeAgentToken(ctx context.Context, id string) (AgentToken, error) {
	now := s.now().UnixMilli()
	var t AgentToken
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE agent_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, now, id); err != nil {
			return err
		}
		var err error
		t, err = scanAgentToken(tx.QueryRowContext(ctx, `SELECT `+agentTokenColumns+` FROM agent_tokens WHERE id = ?`, id), nil)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return AgentToken{}, fmt.Errorf("pool: revoke agent token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return AgentToken{}, fmt.Errorf("pool: revoke agent token %s: %w", id, s.closedOr(err))
	}
	return t, nil
}

// RevokeAgentTokens revokes every active token of agent (tenant, agent) at the
// store's clock and returns their records, oldest first; none is an empty result.
func (s *SQLiteStore) RevokeAgentTokens(ctx context.Context, tenant, agent string) ([]AgentToken, error) {
	now := s.now().UnixMilli()
	var out []AgentToken
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE agent_tokens SET revoked_at = ?
			WHERE tenant = ? AND agent = ? AND revoked_at IS NULL AND expires_at > ?
			RETURNING `+agentTokenColumns, now, tenant, agent, now)
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

// sortTokens orders tokens by creation, then ID.
func sortTokens(ts []AgentToken) {
	slices.SortFunc(ts, func(a, b AgentToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
}
