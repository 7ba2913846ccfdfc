package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"callgate/pool"
	"callgate/web/apiclient"
)

// endedSessions records what the API asked the agent sessions to end.
type endedSessions struct {
	mu  sync.Mutex
	ids []string
}

func (s *endedSessions) EndTokenSessions(ids ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, ids...)
	return len(ids)
}

func (s *endedSessions) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

// newTokenEnv serves the business API with the token endpoints (tenants acme and
// globex, max TTL 24h) over a fresh SQLite file.
func newTokenEnv(t *testing.T) (*apiEnv, *endedSessions) {
	t.Helper()
	e := &apiEnv{t: t, path: filepath.Join(t.TempDir(), "callgate.db"), clk: &apiClock{now: apiT0}}
	s, err := pool.OpenSQLite(context.Background(), e.path, pool.WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	sessions := &endedSessions{}
	h, err := NewInternal(InternalDeps{Bindings: s, Nonces: s, Policy: testPolicy(t), Apps: testApps, Now: e.clk.Now,
		Tokens: AgentTokens{Store: s, Sessions: sessions, Tenants: []string{"acme", "globex"}, MaxTTL: 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	e.store, e.srv = s, httptest.NewServer(h)
	t.Cleanup(e.close)
	return e, sessions
}

// signedBy builds a request signed by app at the env's clock.
func (e *apiEnv) signedBy(app, secret, method, target string, body any) *http.Request {
	e.t.Helper()
	req := e.request(method, target, body)
	if err := apiclient.Sign(req, app, secret, e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
	return req
}

func (r response) token(t *testing.T) AgentTokenInfo {
	t.Helper()
	var out AgentTokenInfo
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("decode token %q: %v", r.body, err)
	}
	return out
}

func TestAgentTokenIssue(t *testing.T) {
	e, _ := newTokenEnv(t)
	ctx := context.Background()
	const path = "/v1/tenants/acme/agents/alice/tokens"

	r := e.do(e.signed("POST", path, nil))
	if r.status != http.StatusCreated {
		t.Fatalf("POST with no body: %d %s", r.status, r.body)
	}
	tok := r.token(t)
	if !strings.HasPrefix(tok.Token, pool.AgentTokenPrefix) || tok.ID == "" || tok.Tenant != "acme" || tok.Agent != "alice" ||
		tok.App != "crm" || tok.State != "active" || tok.TTLSeconds != 8*3600 || !tok.ExpiresAt.Equal(apiT0.Add(8*time.Hour)) {
		t.Fatalf("issued %+v", tok)
	}
	if loc := r.header.Get("Location"); loc != "/v1/tokens/"+tok.ID {
		t.Errorf("Location %q", loc)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q: a token must not be cached", cc)
	}
	rec, err := e.store.AuthenticateAgentToken(ctx, tok.Token)
	if err != nil || rec.Tenant != "acme" || rec.Agent != "alice" || rec.ID != tok.ID {
		t.Fatalf("the issued token does not log alice in: %+v, %v", rec, err)
	}

	for _, tt := range []struct {
		body string
		ttl  int64
	}{
		{`{"ttl_seconds": 3600}`, 3600},
		{`{"ttl_seconds": 60}`, 60},
		{`{}`, 8 * 3600},
		{`{"ttl_seconds": 90000}`, 24 * 3600},               // capped
		{`{"ttl_seconds": 9223372036854775807}`, 24 * 3600}, // capped, no overflow
	} {
		r := e.do(e.signed("POST", path, tt.body))
		if r.status != http.StatusCreated || r.token(t).TTLSeconds != tt.ttl ||
			!r.token(t).ExpiresAt.Equal(apiT0.Add(time.Duration(tt.ttl)*time.Second)) {
			t.Errorf("%s: %d %s, want ttl %d", tt.body, r.status, r.body, tt.ttl)
		}
	}
}

func TestAgentTokenIssueRefusals(t *testing.T) {
	e, _ := newTokenEnv(t)
	tests := []struct {
		name                string
		req                 *http.Request
		status              int
		code, field, header string
	}{
		{"unsigned", e.request("POST", "/v1/tenants/acme/agents/alice/tokens", nil), 401, "missing_header", "", ""},
		{"other tenant", e.signed("POST", "/v1/tenants/globex/agents/alice/tokens", nil), 403, "tenant_not_allowed", "tenant", ""},
		{"unknown tenant", e.signedBy("ops", opsSecret, "POST", "/v1/tenants/initech/agents/alice/tokens", nil), 404, "not_found", "tenant", ""},
		{"bad agent name", e.signed("POST", "/v1/tenants/acme/agents/al%20ice/tokens", nil), 400, "invalid_field", "agent", ""},
		{"long agent name", e.signed("POST", "/v1/tenants/acme/agents/"+strings.Repeat("a", 65)+"/tokens", nil), 400, "invalid_field", "agent", ""},
		{"ttl too short", e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", `{"ttl_seconds": 59}`), 400, "invalid_field", "ttl_seconds", ""},
		{"negative ttl", e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", `{"ttl_seconds": -1}`), 400, "invalid_field", "ttl_seconds", ""},
		{"ttl as text", e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", `{"ttl_seconds": "8h"}`), 400, "invalid_field", "ttl_seconds", ""},
		{"unknown field", e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", `{"ttl": 60}`), 400, "unknown_field", "ttl", ""},
		{"GET the collection", e.signed("GET", "/v1/tenants/acme/agents/alice/tokens", nil), 405, "method_not_allowed", "", "POST, DELETE"},
		{"PATCH a token", e.signed("PATCH", "/v1/tokens/0123456789abcdef", `{}`), 405, "method_not_allowed", "", "GET, DELETE"},
		{"token id not hex", e.signed("GET", "/v1/tokens/xyz", nil), 404, "not_found", "", ""},
		{"unknown token", e.signed("DELETE", "/v1/tokens/0123456789abcdef", nil), 404, "not_found", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.req)
			if r.status != tt.status || r.err.Code != tt.code || r.err.Field != tt.field {
				t.Fatalf("%d %+v, want %d %s field %q", r.status, r.err, tt.status, tt.code, tt.field)
			}
			if tt.header != "" && r.header.Get("Allow") != tt.header {
				t.Fatalf("Allow %q, want %q", r.header.Get("Allow"), tt.header)
			}
		})
	}
	if n := count(t, e, `SELECT count(*) FROM agent_tokens`); n != 0 {
		t.Fatalf("refused requests stored %d tokens", n)
	}
}

// TestAgentTokenRevoke: DELETE /v1/tokens/{id} revokes the token, ends the sessions
// that use it, and is refused (404) to apps of other tenants.
func TestAgentTokenRevoke(t *testing.T) {
	e, sessions := newTokenEnv(t)
	ctx := context.Background()
	tok := e.do(e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", `{"ttl_seconds": 3600}`)).token(t)

	r := e.do(e.signedBy("globex-app", globexSecret, "DELETE", "/v1/tokens/"+tok.ID, nil))
	if r.status != 404 || r.err.Code != "not_found" {
		t.Fatalf("another tenant's app revoking: %d %s", r.status, r.body)
	}
	if r := e.do(e.signedBy("globex-app", globexSecret, "GET", "/v1/tokens/"+tok.ID, nil)); r.status != 404 {
		t.Fatalf("another tenant's app reading: %d %s", r.status, r.body)
	}
	if _, err := e.store.AuthenticateAgentToken(ctx, tok.Token); err != nil || len(sessions.got()) != 0 {
		t.Fatalf("a refused revocation revoked: %v, sessions ended %v", err, sessions.got())
	}

	got := e.do(e.signed("GET", "/v1/tokens/"+tok.ID, nil)).token(t)
	if got.State != "active" || got.Token != "" || got.RevokedAt != nil {
		t.Fatalf("GET %+v (a read never shows the token)", got)
	}

	e.clk.Add(time.Minute)
	r = e.do(e.signedBy("ops", opsSecret, "DELETE", "/v1/tokens/"+tok.ID, nil))
	rev := r.token(t)
	if r.status != 200 || rev.State != "revoked" || rev.RevokedAt == nil || !rev.RevokedAt.Equal(apiT0.Add(time.Minute)) ||
		rev.SessionsEnded == nil || *rev.SessionsEnded != 1 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if ids := sessions.got(); !slices.Equal(ids, []string{tok.ID}) {
		t.Fatalf("sessions ended for %v, want [%s]", ids, tok.ID)
	}
	if _, err := e.store.AuthenticateAgentToken(ctx, tok.Token); !errors.Is(err, pool.ErrEnded) {
		t.Fatalf("revoked token still logs in: %v", err)
	}
	if got := e.do(e.signed("GET", "/v1/tokens/"+tok.ID, nil)).token(t); got.State != "revoked" {
		t.Fatalf("GET after revoke: %+v", got)
	}

	other := e.do(e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", `{"ttl_seconds": 60}`)).token(t)
	e.clk.Add(time.Minute)
	if got := e.do(e.signed("GET", "/v1/tokens/"+other.ID, nil)).token(t); got.State != "expired" {
		t.Fatalf("GET at expiry: %+v", got)
	}
}

// TestAgentTokenRevokeAll revokes every live token of one agent and ends their
// sessions; other agents' tokens stay.
func TestAgentTokenRevokeAll(t *testing.T) {
	e, sessions := newTokenEnv(t)
	ctx := context.Background()
	a1 := e.do(e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", nil)).token(t)
	a2 := e.do(e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", nil)).token(t)
	bob := e.do(e.signed("POST", "/v1/tenants/acme/agents/bob/tokens", nil)).token(t)

	r := e.do(e.signed("DELETE", "/v1/tenants/acme/agents/alice/tokens", nil))
	var out RevokedTokens
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
		t.Fatalf("DELETE all: %d %s %v", r.status, r.body, err)
	}
	var ids []string
	for _, tk := range out.Revoked {
		ids = append(ids, tk.ID)
		if tk.State != "revoked" || tk.Token != "" {
			t.Errorf("revoked %+v", tk)
		}
	}
	slices.Sort(ids)
	want := []string{a1.ID, a2.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) || out.SessionsEnded != 2 {
		t.Fatalf("revoked %v (sessions %d), want %v", ids, out.SessionsEnded, want)
	}
	if got := sessions.got(); len(got) != 2 {
		t.Fatalf("sessions ended for %v", got)
	}
	for _, tk := range []AgentTokenInfo{a1, a2} {
		if _, err := e.store.AuthenticateAgentToken(ctx, tk.Token); !errors.Is(err, pool.ErrEnded) {
			t.Fatalf("alice's token after revoke-all: %v", err)
		}
	}
	if _, err := e.store.AuthenticateAgentToken(ctx, bob.Token); err != nil {
		t.Fatalf("bob's token was revoked: %v", err)
	}
	r = e.do(e.signed("DELETE", "/v1/tenants/acme/agents/alice/tokens", nil))
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Revoked) != 0 || out.Revoked == nil {
		t.Fatalf("second DELETE all: %d %s", r.status, r.body)
	}
}

// TestAgentTokensOffWithoutStore: a handler built without a token store has no
// token endpoints.
func TestAgentTokensOffWithoutStore(t *testing.T) {
	e := newAPIEnv(t, pool.BindingRules{}, apiNumbers())
	for _, req := range []*http.Request{
		e.signed("POST", "/v1/tenants/acme/agents/alice/tokens", nil),
		e.signed("DELETE", "/v1/tokens/0123456789abcdef", nil),
	} {
		if r := e.do(req); r.status != 404 || r.err.Code != "not_found" {
			t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, r.status, r.body)
		}
	}
}
