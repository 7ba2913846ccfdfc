package pool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

func issue(t *testing.T, s *SQLiteStore, tenant, agent string, ttl time.Duration, now time.Time) (string, AgentToken) {
	t.Helper()
	tok, rec, err := s.IssueAgentToken(context.Background(), AgentToken{Tenant: tenant, Agent: agent, App: "crm", ExpiresAt: now.Add(ttl)})
	if err != nil {
		t.Fatalf("IssueAgentToken: %v", err)
	}
	return tok, rec
}

// TestAgentTokenLifecycle: a token issued for an agent logs that agent in until it
// expires or is revoked; then it is ErrEnded, while wrong or malformed tokens are
// ErrNotFound.
func TestAgentTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openTest(t, WithClock(clk.Now))
	tok, rec := issue(t, s, "acme", "alice", 8*time.Hour, t0)

	id, ok := AgentTokenID(tok)
	if !ok || id != rec.ID || !ValidAgentTokenID(id) || !strings.HasPrefix(tok, AgentTokenPrefix+id+"_") {
		t.Fatalf("token %q, record ID %q, parsed %q %v", tok, rec.ID, id, ok)
	}
	if rec.Tenant != "acme" || rec.Agent != "alice" || rec.App != "crm" || !rec.CreatedAt.Equal(t0) || !rec.ExpiresAt.Equal(t0.Add(8*time.Hour)) {
		t.Fatalf("record %+v", rec)
	}
	got, err := s.AuthenticateAgentToken(ctx, tok)
	if err != nil || got != rec {
		t.Fatalf("AuthenticateAgentToken = %+v, %v; want %+v", got, err, rec)
	}

	// Same ID, another secret; a cut token; another shape; nothing.
	last := "A"
	if tok[len(tok)-1] == 'A' {
		last = "B"
	}
	forged := tok[:len(tok)-1] + last
	for _, bad := range []string{forged, tok[:len(tok)-1], "cgt_" + id, strings.ToUpper(tok), "", "tok-alice-0123456789abcdef"} {
		if _, err := s.AuthenticateAgentToken(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("AuthenticateAgentToken(%q) = %v, want ErrNotFound", bad, err)
		}
	}

	clk.Set(t0.Add(8*time.Hour - time.Millisecond))
	if _, err := s.AuthenticateAgentToken(ctx, tok); err != nil {
		t.Fatalf("a millisecond before expiry: %v", err)
	}
	clk.Set(t0.Add(8 * time.Hour))
	if _, err := s.AuthenticateAgentToken(ctx, tok); !errors.Is(err, ErrEnded) {
		t.Fatalf("at expiry: %v, want ErrEnded", err)
	}

	clk.Set(t0.Add(time.Hour))
	revoked, err := s.RevokeAgentToken(ctx, id)
	if err != nil || !revoked.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("RevokeAgentToken = %+v, %v", revoked, err)
	}
	if _, err := s.AuthenticateAgentToken(ctx, tok); !errors.Is(err, ErrEnded) {
		t.Fatalf("after revocation: %v, want ErrEnded", err)
	}
	clk.Set(t0.Add(2 * time.Hour))
	again, err := s.RevokeAgentToken(ctx, id)
	if err != nil || !again.RevokedAt.Equal(revoked.RevokedAt) {
		t.Fatalf("revoking twice moved RevokedAt: %+v, %v", again, err)
	}
	if r, err := s.AgentToken(ctx, id); err != nil || r != again || r.Active(clk.Now()) {
		t.Fatalf("AgentToken = %+v, %v", r, err)
	}
	if _, err := s.RevokeAgentToken(ctx, "0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking an unknown token: %v", err)
	}
	if _, err := s.AgentToken(ctx, "0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reading an unknown token: %v", err)
	}
}

// TestAgentTokenStoredHashedOnly: the database holds the token's SHA-256, never the
// token or its secret.
func TestAgentTokenStoredHashedOnly(t *testing.T) {
	s := openTest(t, WithClock(newClock(t0).Now))
	tok, rec := issue(t, s, "acme", "alice", time.Hour, t0)
	var hash []byte
	var n int
	if err := s.r.QueryRow(`SELECT hash, count(*) FROM agent_tokens WHERE id = ?`, rec.ID).Scan(&hash, &n); err != nil || n != 1 {
		t.Fatalf("row: %v, %d", err, n)
	}
	want := sha256.Sum256([]byte(tok))
	if !bytes.Equal(hash, want[:]) {
		t.Fatalf("stored hash %x, want sha256(token) %x", hash, want)
	}
	secret := tok[strings.LastIndexByte(tok, '_')+1:]
	if got := count(t, s, `SELECT count(*) FROM agent_tokens WHERE instr(CAST(hash AS TEXT), ?) > 0 OR instr(id, ?) > 0
		OR instr(tenant || agent || app, ?) > 0`, secret, secret, secret); got != 0 {
		t.Fatalf("the secret appears in %d rows", got)
	}
}

// TestIssueAgentTokenChecks: what IssueAgentToken refuses, and that two tokens of one
// agent differ.
func TestIssueAgentTokenChecks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithClock(newClock(t0).Now))
	for _, bad := range []AgentToken{
		{Agent: "alice", ExpiresAt: t0.Add(time.Hour)},
		{Tenant: "acme", ExpiresAt: t0.Add(time.Hour)},
		{Tenant: "acme", Agent: "alice", ExpiresAt: t0},
		{Tenant: "acme", Agent: "alice"},
	} {
		if _, _, err := s.IssueAgentToken(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("IssueAgentToken(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	a, ra := issue(t, s, "acme", "alice", time.Hour, t0)
	b, rb := issue(t, s, "acme", "alice", time.Hour, t0)
	if a == b || ra.ID == rb.ID {
		t.Fatalf("two tokens alike: %q %q", a, b)
	}
}

// TestRevokeAgentTokens revokes every active token of one agent and no one else's,
// and old expired tokens are forgotten when new ones are issued.
func TestRevokeAgentTokens(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openTest(t, WithClock(clk.Now))
	_, old := issue(t, s, "acme", "alice", time.Minute, t0) // expires before the revocation
	clk.Set(t0.Add(time.Second))
	a1tok, a1 := issue(t, s, "acme", "alice", time.Hour, clk.Now())
	clk.Set(t0.Add(2 * time.Second))
	_, a2 := issue(t, s, "acme", "alice", time.Hour, clk.Now())
	bobTok, _ := issue(t, s, "acme", "bob", time.Hour, clk.Now())
	otherTok, _ := issue(t, s, "globex", "alice", time.Hour, clk.Now())

	clk.Set(t0.Add(2 * time.Minute))
	got, err := s.RevokeAgentTokens(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID || !got[0].RevokedAt.Equal(clk.Now()) {
		t.Fatalf("revoked %+v, want %s and %s", got, a1.ID, a2.ID)
	}
	if _, err := s.AuthenticateAgentToken(ctx, a1tok); !errors.Is(err, ErrEnded) {
		t.Fatalf("alice's token after revoke-all: %v", err)
	}
	for _, tok := range []string{bobTok, otherTok} {
		if _, err := s.AuthenticateAgentToken(ctx, tok); err != nil {
			t.Fatalf("someone else's token was revoked: %v", err)
		}
	}
	if r, _ := s.AgentToken(ctx, old.ID); !r.RevokedAt.IsZero() {
		t.Fatalf("an expired token was revoked again: %+v", r)
	}
	if again, err := s.RevokeAgentTokens(ctx, "acme", "alice"); err != nil || len(again) != 0 {
		t.Fatalf("second revoke-all: %+v, %v", again, err)
	}

	// A day after the first token expired, the next issue forgets it.
	clk.Set(old.ExpiresAt.Add(AgentTokenRetention + time.Millisecond))
	issue(t, s, "acme", "carol", time.Hour, clk.Now())
	if _, err := s.AgentToken(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired token kept past retention: %v", err)
	}
	if _, err := s.AgentToken(ctx, a1.ID); err != nil {
		t.Fatalf("a token still in retention was deleted: %v", err)
	}
}

// TestAgentTokenClosedStore: after Close every method says ErrClosed.
func TestAgentTokenClosedStore(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	tok, rec := issue(t, s, "acme", "alice", time.Hour, time.Now())
	s.Close()
	s.Close()
	if _, _, err := s.IssueAgentToken(ctx, AgentToken{Tenant: "acme", Agent: "alice", ExpiresAt: time.Now().Add(time.Hour)}); !errors.Is(err, ErrClosed) {
		t.Errorf("issue: %v", err)
	}
	if _, err := s.AuthenticateAgentToken(ctx, tok); !errors.Is(err, ErrClosed) {
		t.Errorf("authenticate: %v", err)
	}
	if _, err := s.RevokeAgentToken(ctx, rec.ID); !errors.Is(err, ErrClosed) {
		t.Errorf("revoke: %v", err)
	}
	if _, err := s.RevokeAgentTokens(ctx, "acme", "alice"); !errors.Is(err, ErrClosed) {
		t.Errorf("revoke all: %v", err)
	}
}
