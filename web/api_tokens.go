package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"callgate/pool"
)

// This file holds the handlers of the agent tokens: business systems issue agents
// short-lived login tokens and revoke them.
//
//	POST   /v1/tenants/{tenant}/agents/{agent}/tokens   issue a token
//	DELETE /v1/tenants/{tenant}/agents/{agent}/tokens   revoke every token of the agent
//	GET    /v1/tokens/{id}                              read a token's record
//	DELETE /v1/tokens/{id}                              revoke one token

// AgentTokenStore issues, reads and revokes agent tokens; *pool.SQLiteStore is one.
type AgentTokenStore interface {
	IssueAgentToken(ctx context.Context, t pool.AgentToken) (string, pool.AgentToken, error)
	AgentToken(ctx context.Context, id string) (pool.AgentToken, error)
	RevokeAgentToken(ctx context.Context, id string) (pool.AgentToken, error)
	RevokeAgentTokens(ctx context.Context, tenant, agent string) ([]pool.AgentToken, error)
}

var _ AgentTokenStore = (*pool.SQLiteStore)(nil)

// TokenSessions ends the live agent sessions that logged in with revoked tokens;
// *signaling.Server is one.
type TokenSessions interface {
	EndTokenSessions(ids ...string) int
}

// AgentTokens configures the token endpoints (InternalDeps.Tokens). Without a Store
// they are not served (404).
type AgentTokens struct {
	Store AgentTokenStore
	// Sessions, if set, has the sessions of revoked tokens ended at once.
	Sessions TokenSessions
	// Tenants are the tenants tokens may be issued for (the configured ones).
	Tenants []string
	// DefaultTTL is a token's lifetime when the request names none (default 8h);
	// MaxTTL caps what a request may ask for (default 24h).
	DefaultTTL, MaxTTL time.Duration
}

// Lifetimes of issued tokens.
const (
	defaultTokenTTL = 8 * time.Hour
	defaultTokenMax = 24 * time.Hour
	minTokenTTL     = time.Minute
)

// tokenAPI is AgentTokens ready to serve.
type tokenAPI struct {
	AgentTokens
	tenants map[string]bool
}

func newTokenAPI(t AgentTokens) *tokenAPI {
	a := &tokenAPI{AgentTokens: t, tenants: map[string]bool{}}
	if a.MaxTTL <= 0 {
		a.MaxTTL = defaultTokenMax
	}
	if a.DefaultTTL <= 0 {
		a.DefaultTTL = min(defaultTokenTTL, a.MaxTTL)
	}
	for _, tn := range t.Tenants {
		a.tenants[tn] = true
	}
	return a
}

// IssueTokenRequest is the body of POST /v1/tenants/{tenant}/agents/{agent}/tokens;
// an empty body asks for the default lifetime.
type IssueTokenRequest struct {
	// TTLSeconds is the token's lifetime: at least 60; more than the configured
	// maximum is cut to it; 0 or absent: the configured default.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
}

// AgentTokenInfo is a token's record as the API shows it. Token is set only in the
// answer that issued it.
type AgentTokenInfo struct {
	ID         string     `json:"id"`
	Token      string     `json:"token,omitempty"`
	Tenant     string     `json:"tenant"`
	Agent      string     `json:"agent"`
	App        string     `json:"app"`
	State      string     `json:"state"` // active, expired or revoked
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	TTLSeconds int64      `json:"ttl_seconds,omitempty"` // in the issuing answer
	// SessionsEnded counts the agent sessions a revocation ended.
	SessionsEnded *int `json:"sessions_ended,omitempty"`
}

// RevokedTokens answers DELETE /v1/tenants/{tenant}/agents/{agent}/tokens.
type RevokedTokens struct {
	Revoked       []AgentTokenInfo `json:"revoked"`
	SessionsEnded int              `json:"sessions_ended"`
}

// errNoToken answers a token id that names no token the app may see.
var errNoToken = &requestError{status: http.StatusNotFound, code: "not_found", msg: "no such token"}

// agentTokens serves /v1/tenants/{tenant}/agents/{agent}/tokens: POST issues, DELETE
// revokes all.
func (h *Internal) agentTokens(c *apiCall) error {
	if c.r.Method != http.MethodPost && c.r.Method != http.MethodDelete {
		return methodNotAllowed(c.r.Method, "POST, DELETE")
	}
	tenant, agent := c.r.PathValue("tenant"), c.r.PathValue("agent")
	if !c.app.allows(tenant) {
		return &requestError{status: http.StatusForbidden, code: "tenant_not_allowed", field: "tenant",
			msg: "app " + strconv.Quote(c.app.name) + " may not act for tenant " + strconv.Quote(truncate(tenant, 64))}
	}
	if !h.tokens.tenants[tenant] {
		return &requestError{status: http.StatusNotFound, code: "not_found", field: "tenant", msg: "no tenant " + strconv.Quote(truncate(tenant, 64))}
	}
	if msg := checkAgentName(agent); msg != "" {
		return badField("agent", "%s", msg)
	}
	if c.r.Method == http.MethodDelete {
		return h.revokeAgentTokens(c, tenant, agent)
	}
	var req IssueTokenRequest
	if len(strings.TrimSpace(string(c.body))) > 0 {
		if err := decodeJSON(c.body, &req); err != nil {
			return err
		}
	}
	ttl := h.tokens.DefaultTTL
	switch minSec, maxSec := int64(minTokenTTL/time.Second), int64(h.tokens.MaxTTL/time.Second); {
	case req.TTLSeconds < 0 || req.TTLSeconds > 0 && req.TTLSeconds < minSec:
		return badField("ttl_seconds", "must be at least %d (seconds)", minSec)
	case req.TTLSeconds >= maxSec:
		ttl = h.tokens.MaxTTL // capped
	case req.TTLSeconds > 0:
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	token, rec, err := h.tokens.Store.IssueAgentToken(c.ctx, pool.AgentToken{Tenant: tenant, Agent: agent, App: c.app.name,
		ExpiresAt: h.now().Add(ttl)})
	if err != nil {
		return err
	}
	out := wireToken(rec, h.now())
	out.Token = token
	out.TTLSeconds = int64(rec.ExpiresAt.Sub(rec.CreatedAt).Round(time.Second) / time.Second)
	c.w.Header().Set("Location", "/v1/tokens/"+rec.ID)
	writeAPIJSON(c.w, http.StatusCreated, out)
	return nil
}

// revokeAgentTokens serves DELETE /v1/tenants/{tenant}/agents/{agent}/tokens.
func (h *Internal) revokeAgentTokens(c *apiCall, tenant, agent string) error {
	recs, err := h.tokens.Store.RevokeAgentTokens(c.ctx, tenant, agent)
	if err != nil {
		return err
	}
	out := RevokedTokens{Revoked: make([]AgentTokenInfo, 0, len(recs))}
	ids := make([]string, 0, len(recs))
	now := h.now()
	for _, r := range recs {
		out.Revoked = append(out.Revoked, wireToken(r, now))
		ids = append(ids, r.ID)
	}
	if h.tokens.Sessions != nil && len(ids) > 0 {
		out.SessionsEnded = h.tokens.Sessions.EndTokenSessions(ids...)
	}
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

// token serves /v1/tokens/{id}: GET reads, DELETE revokes.
func (h *Internal) token(c *apiCall) error {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodDelete {
		return methodNotAllowed(c.r.Method, "GET, DELETE")
	}
	id := c.r.PathValue("id")
	if !pool.ValidAgentTokenID(id) {
		return errNoToken
	}
	rec, err := h.tokens.Store.AgentToken(c.ctx, id)
	if errors.Is(err, pool.ErrNotFound) || err == nil && !c.app.allows(rec.Tenant) {
		return errNoToken
	}
	if err != nil {
		return err
	}
	if c.r.Method == http.MethodGet {
		writeAPIJSON(c.w, http.StatusOK, wireToken(rec, h.now()))
		return nil
	}
	if rec, err = h.tokens.Store.RevokeAgentToken(c.ctx, id); err != nil {
		return err
	}
	ended := 0
	if h.tokens.Sessions != nil {
		ended = h.tokens.Sessions.EndTokenSessions(id)
	}
	out := wireToken(rec, h.now())
	out.SessionsEnded = &ended
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

// wireToken is r as the API shows it at now.
func wireToken(r pool.AgentToken, now time.Time) AgentTokenInfo {
	t := AgentTokenInfo{ID: r.ID, Tenant: r.Tenant, Agent: r.Agent, App: r.App, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		RevokedAt: timeOrNil(r.RevokedAt), State: "active"}
	switch {
	case !r.RevokedAt.IsZero():
		t.State = "revoked"
	case !now.Before(r.ExpiresAt):
		t.State = "expired"
	}
	return t
}

// checkAgentName checks an agent's name as configs does: 1 to 64 of A-Z a-z 0-9 . _
// -. It returns "" or what is wrong.
func checkAgentName(s string) string {
	if s == "" || len(s) > 64 {
		return "want 1 to 64 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "may hold only letters A-Z and a-z, digits, '.', '_' and '-'"
		}
	}
	return ""
}
