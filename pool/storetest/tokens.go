package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"callgate/pool"
)

// Tokens keeps agent login tokens.
type Tokens interface {
	IssueAgentToken(ctx context.Context, t pool.AgentToken) (string, pool.AgentToken, error)
	AuthenticateAgentToken(ctx context.Context, token string) (pool.AgentToken, error)
	AgentToken(ctx context.Context, id string) (pool.AgentToken, error)
	RevokeAgentToken(ctx context.Context, id string) (pool.AgentToken, error)
	RevokeAgentTokens(ctx context.Context, tenant, agent string) ([]pool.AgentToken, error)
}

func issue(t *testing.T, ts Tokens, tenant, agent string, ttl time.Duration, now time.Time) (string, pool.AgentToken) {
	t.Helper()
	tok, rec, err := ts.IssueAgentToken(ctxT(t), pool.AgentToken{Tenant: tenant, Agent: agent, App: "crm", ExpiresAt: now.Add(ttl)})
	must(t, err)
	return tok, rec
}

// A token logs its agent in until it expires or is revoked; then it is ErrEnded,
// while wrong or malformed tokens are ErrNotFound.
func testAgentTokens(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s := open(t, pool.WithClock(clk.Now))
	ts := need[Tokens](t, s)
	ctx := ctxT(t)
	tok, rec := issue(t, ts, "acme", "alice", 8*time.Hour, t0)
	id, ok := pool.AgentTokenID(tok)
	if !ok || id != rec.ID || !pool.ValidAgentTokenID(id) || !strings.HasPrefix(tok, pool.AgentTokenPrefix+id+"_") {
		t.Fatalf("token %q, record ID %q, parsed %q %v", tok, rec.ID, id, ok)
	}
	if rec.Tenant != "acme" || rec.Agent != "alice" || rec.App != "crm" || !rec.CreatedAt.Equal(t0) ||
		!rec.ExpiresAt.Equal(t0.Add(8*time.Hour)) || !rec.RevokedAt.IsZero() {
		t.Fatalf("record %+v", rec)
	}
	got, err := ts.AuthenticateAgentToken(ctx, tok)
	if err != nil || got != rec {
		t.Fatalf("AuthenticateAgentToken = %+v, %v; want %+v", got, err, rec)
	}
	last := "A"
	if tok[len(tok)-1] == 'A' {
		last = "B"
	}
	for _, bad := range []string{tok[:len(tok)-1] + last, tok[:len(tok)-1], "cgt_" + id, strings.ToUpper(tok), "",
		"cgt_0123456789abcdef_" + tok[len(tok)-43:]} {
		_, err := ts.AuthenticateAgentToken(ctx, bad)
		wantErr(t, err, pool.ErrNotFound)
	}
	clk.Set(t0.Add(8*time.Hour - time.Millisecond))
	_, err = ts.AuthenticateAgentToken(ctx, tok)
	must(t, err)
	clk.Set(t0.Add(8 * time.Hour))
	_, err = ts.AuthenticateAgentToken(ctx, tok)
	wantErr(t, err, pool.ErrEnded)

	clk.Set(t0.Add(time.Hour))
	revoked, err := ts.RevokeAgentToken(ctx, id)
	must(t, err)
	if !revoked.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("revoked %+v", revoked)
	}
	_, err = ts.AuthenticateAgentToken(ctx, tok)
	wantErr(t, err, pool.ErrEnded)
	clk.Set(t0.Add(2 * time.Hour))
	again, err := ts.RevokeAgentToken(ctx, id)
	if err != nil || !again.RevokedAt.Equal(revoked.RevokedAt) {
		t.Fatalf("revoking twice moved RevokedAt: %+v, %v", again, err)
	}
	if r, err := ts.AgentToken(ctx, id); err != nil || r != again || r.Active(clk.Now()) {
		t.Fatalf("AgentToken = %+v, %v", r, err)
	}
	_, err = ts.RevokeAgentToken(ctx, "0123456789abcdef")
	wantErr(t, err, pool.ErrNotFound)
	_, err = ts.AgentToken(ctx, "0123456789abcdef")
	wantErr(t, err, pool.ErrNotFound)
}

func testAgentTokensChecks(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	ts := need[Tokens](t, s)
	for _, bad := range []pool.AgentToken{
		{Agent: "alice", ExpiresAt: t0.Add(time.Hour)},
		{Tenant: "acme", ExpiresAt: t0.Add(time.Hour)},
		{Tenant: "acme", Agent: "alice", ExpiresAt: t0},
		{Tenant: "acme", Agent: "alice"},
	} {
		_, _, err := ts.IssueAgentToken(ctxT(t), bad)
		wantErr(t, err, pool.ErrInvalid)
	}
	a, ra := issue(t, ts, "acme", "alice", time.Hour, t0)
	b, rb := issue(t, ts, "acme", "alice", time.Hour, t0)
	if a == b || ra.ID == rb.ID {
		t.Fatalf("two tokens alike: %q %q", a, b)
	}
}

// Revoking an agent's tokens revokes every active one of that agent and no one
// else's; old expired tokens are forgotten when new ones are issued.
func testRevokeAgentTokens(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s := open(t, pool.WithClock(clk.Now))
	ts := need[Tokens](t, s)
	ctx := ctxT(t)
	_, old := issue(t, ts, "acme", "alice", time.Minute, t0) // expires before the revocation
	clk.Set(t0.Add(time.Second))
	a1tok, a1 := issue(t, ts, "acme", "alice", time.Hour, clk.Now())
	clk.Set(t0.Add(2 * time.Second))
	_, a2 := issue(t, ts, "acme", "alice", time.Hour, clk.Now())
	bobTok, _ := issue(t, ts, "acme", "bob", time.Hour, clk.Now())
	otherTok, _ := issue(t, ts, "globex", "alice", time.Hour, clk.Now())

	clk.Set(t0.Add(2 * time.Minute))
	got, err := ts.RevokeAgentTokens(ctx, "acme", "alice")
	must(t, err)
	if len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID || !got[0].RevokedAt.Equal(clk.Now()) {
		t.Fatalf("revoked %+v, want %s and %s", got, a1.ID, a2.ID)
	}
	_, err = ts.AuthenticateAgentToken(ctx, a1tok)
	wantErr(t, err, pool.ErrEnded)
	for _, tok := range []string{bobTok, otherTok} {
		_, err := ts.AuthenticateAgentToken(ctx, tok)
		must(t, err)
	}
	if r, err := ts.AgentToken(ctx, old.ID); err != nil || !r.RevokedAt.IsZero() {
		t.Fatalf("an expired token was revoked: %+v %v", r, err)
	}
	if again, err := ts.RevokeAgentTokens(ctx, "acme", "alice"); err != nil || len(again) != 0 {
		t.Fatalf("second revoke-all: %+v, %v", again, err)
	}
	// A day after the first token expired, the next issue forgets it.
	clk.Set(old.ExpiresAt.Add(pool.AgentTokenRetention + time.Millisecond))
	issue(t, ts, "acme", "carol", time.Hour, clk.Now())
	_, err = ts.AgentToken(ctx, old.ID)
	wantErr(t, err, pool.ErrNotFound)
	_, err = ts.AgentToken(ctx, a1.ID)
	must(t, err)
}

func testAgentTokensClosed(t *testing.T, open Opener) {
	s := open(t)
	ts := need[Tokens](t, s)
	ctx := ctxT(t)
	tok, rec := issue(t, ts, "acme", "alice", time.Hour, time.Now())
	must(t, s.Close())
	must(t, s.Close())
	_, _, err := ts.IssueAgentToken(ctx, pool.AgentToken{Tenant: "acme", Agent: "alice", ExpiresAt: time.Now().Add(time.Hour)})
	wantErr(t, err, pool.ErrClosed)
	_, err = ts.AuthenticateAgentToken(ctx, tok)
	wantErr(t, err, pool.ErrClosed)
	_, err = ts.AgentToken(ctx, rec.ID)
	wantErr(t, err, pool.ErrClosed)
	_, err = ts.RevokeAgentToken(ctx, rec.ID)
	wantErr(t, err, pool.ErrClosed)
	_, err = ts.RevokeAgentTokens(ctx, "acme", "alice")
	wantErr(t, err, pool.ErrClosed)
}
