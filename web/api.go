package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"callgate/configs"
	"callgate/pool"
)

// This file is the business API's frame on the internal listener: its
// dependencies, its routes, and what every request goes through (a bounded body, a
// verified signature) before a handler of api_bindings.go runs.

// MaxAPIBody is the largest request body the business API reads.
const MaxAPIBody = 64 << 10

// BindingStore is what the business API needs of the store; *pool.SQLiteStore is one.
type BindingStore interface {
	CreateBinding(ctx context.Context, nb pool.NewBinding) (pool.BindingRecord, bool, error)
	GetOrBind(ctx context.Context, nb pool.NewBinding) (pool.BindingRecord, bool, error)
	Binding(ctx context.Context, id int64) (pool.BindingRecord, error)
	UpdateBinding(ctx context.Context, id int64, p pool.BindingPatch) (pool.BindingRecord, error)
	DeleteBinding(ctx context.Context, id int64) (pool.BindingRecord, error)
	ListBindings(ctx context.Context, f pool.BindingFilter) ([]pool.BindingRecord, int64, error)
}

// NonceStore remembers the nonces of signed requests across restarts;
// *pool.SQLiteStore is one. UseNonce returns pool.ErrExists for a nonce app used
// before.
type NonceStore interface {
	UseNonce(ctx context.Context, app, nonce string, at, pruneBefore time.Time) error
}

// APIApp is a business system allowed to call the API.
type APIApp struct {
	Name   string
	Secret string // the HMAC key it signs with
	// Tenants it may act for; "*" means all.
	Tenants []string
}

// APIAppsFrom returns the apps of the config's api section.
func APIAppsFrom(cfg *configs.Config) []APIApp {
	out := make([]APIApp, 0, len(cfg.API.Apps))
	for _, a := range cfg.API.Apps {
		out = append(out, APIApp{Name: a.Name, Secret: a.Secret, Tenants: slices.Clone(a.Tenants)})
	}
	return out
}

// InternalDeps are what the internal handler works with. Bindings, Nonces and
// Policy are required.
type InternalDeps struct {
	Bindings BindingStore
	Nonces   NonceStore
	// Policy picks the virtual pools of a new binding (pool.PolicyFrom).
	Policy *pool.Policy
	// Apps may call the API; with none, every request is refused (unknown_app).
	Apps []APIApp
	// Now is the clock for signatures and binding states; default time.Now.
	Now func() time.Time
	// Log receives failed requests (5xx at Error, others at Debug); default discards.
	Log *slog.Logger
	// Tokens serves the agent tokens (api_tokens.go); without a store, not at all.
	Tokens AgentTokens
	// Outbound serves the do-not-call lists, explain, call records and cost
	// (api_calls.go); each part left nil is not served.
	Outbound OutboundAPI
	// Trunks serves /v1/trunks (api_trunks.go); nil: not served.
	Trunks TrunkBoard
	// Admin serves /v1/admin/config and /v1/admin/reload (api_admin.go); nil: not
	// served.
	Admin ConfigAdmin
	// Recordings serves the call recordings (api_recording.go); nil: not served.
	Recordings RecordingStore
	// Pools orders the policy's pools of each new binding and serves /v1/pools
	// (api_pools.go); nil: policy order, not served.
	Pools PoolBoard
}

// Internal is the handler of the internal listener: the business API under /v1/.
type Internal struct {
	store  BindingStore
	nonces NonceStore
	policy *pool.Policy
	apps   map[string]*apiApp
	now    func() time.Time
	log    *slog.Logger
	mux    *http.ServeMux
	tokens *tokenAPI // nil: no token endpoints
	// outbound holds the dependencies of api_calls.go and its siblings.
	outbound OutboundAPI
	trunks   TrunkBoard // nil: no trunk endpoints
	// recordings is nil without recording endpoints (api_recording.go).
	recordings RecordingStore
	pools      PoolBoard // nil: no pool endpoints, policy order (api_pools.go)
}

var _ http.Handler = (*Internal)(nil)

// apiApp is an APIApp ready for lookups.
type apiApp struct {
	name, secret string
	all          bool            // may act for every tenant
	tenants      map[string]bool // else these
	only         string          // the one tenant, when there is exactly one
}

// allows reports whether the app may act for tenant.
func (a *apiApp) allows(tenant string) bool { return a.all || a.tenants[tenant] }

// NewInternal returns the internal handler serving the business API:
//
//	POST   /v1/bindings                  create a binding
//	GET    /v1/bindings                  list bindings (tenant, virtual, party, cursor, limit)
//	GET    /v1/bindings/{id}             read one
//	PATCH  /v1/bindings/{id}             change its B or expiry
//	DELETE /v1/bindings/{id}             unbind it
//	POST   /v1/bindings/lookup-or-bind   the pair's active binding, or a new one
//	POST   /v1/tenants/{tenant}/agents/{agent}/tokens   issue an agent token
//	DELETE /v1/tenants/{tenant}/agents/{agent}/tokens   revoke all of the agent's
//	GET    /v1/tokens/{id}               read a token's record
//	DELETE /v1/tokens/{id}               revoke a token
//	…/v1/dnc, /v1/tenants/{tenant}/{dnc,explain,calls,feedback,cost}: see api_calls.go
//	GET /v1/trunks, GET|PUT /v1/trunks/{name}: see api_trunks.go
//	GET /v1/pools, GET|PUT /v1/pools/{name}: see api_pools.go
//	GET /v1/tenants/{tenant}/calls.csv: see api_export.go
//	GET /v1/admin/config, POST /v1/admin/reload: see api_admin.go
//	GET /v1/tenants/{tenant}/recordings, …/calls/{id}/recording: see api_recording.go
//
// Every /v1/ request must be signed (docs/api.md); other paths are 404.
func NewInternal(d InternalDeps) (*Internal, error) {
	if d.Bindings == nil || d.Nonces == nil || d.Policy == nil {
		return nil, errors.New("web: NewInternal: Bindings, Nonces and Policy are required")
	}
	h := &Internal{store: d.Bindings, nonces: d.Nonces, policy: d.Policy, apps: map[string]*apiApp{},
		now: d.Now, log: d.Log, mux: http.NewServeMux()}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, a := range d.Apps {
		switch {
		case a.Name == "" || a.Secret == "":
			return nil, fmt.Errorf("web: NewInternal: app %q needs a name and a secret", a.Name)
		case h.apps[a.Name] != nil:
			return nil, fmt.Errorf("web: NewInternal: app %q listed twice", a.Name)
		}
		app := &apiApp{name: a.Name, secret: a.Secret, tenants: map[string]bool{}}
		for _, t := range a.Tenants {
			if t == pool.Wildcard {
				app.all = true
			}
			app.tenants[t] = true
		}
		if !app.all && len(app.tenants) == 1 {
			app.only = a.Tenants[0]
		}
		h.apps[a.Name] = app
	}
	h.mux.HandleFunc("/v1/bindings", h.api(h.bindings))
	h.mux.HandleFunc("/v1/bindings/lookup-or-bind", h.api(h.lookupOrBind))
	h.mux.HandleFunc("/v1/bindings/{id}", h.api(h.binding))
	if d.Tokens.Store != nil {
		h.tokens = newTokenAPI(d.Tokens)
		h.mux.HandleFunc("/v1/tenants/{tenant}/agents/{agent}/tokens", h.api(h.agentTokens))
		h.mux.HandleFunc("/v1/tokens/{id}", h.api(h.token))
	}
	h.routeOutbound(d.Outbound) // /v1/dnc…, /v1/tenants/{tenant}/{explain,calls,feedback,cost}
	h.routeTrunks(d.Trunks)     // /v1/trunks…: see api_trunks.go
	h.routeExport()             // /v1/tenants/{tenant}/calls.csv: see api_export.go
	h.routeAdmin(d.Admin)       // /v1/admin/…: see api_admin.go
	h.routeRecordings(d.Recordings)
	h.routePools(d.Pools) // /v1/pools…: see api_pools.go
	h.mux.HandleFunc("/v1/", h.api(func(*apiCall) error { return errNoRoute }))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeAPIError(w, errNoRoute) })
	return h, nil
}

// errNoRoute answers paths the API does not have.
var errNoRoute = &requestError{status: http.StatusNotFound, code: "not_found", msg: "no such endpoint; the business API is under /v1/ (docs/api.md)"}

// ServeHTTP serves the internal listener.
func (h *Internal) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// apiCall is one verified request.
type apiCall struct {
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context
	app  *apiApp
	body []byte
	now  time.Time
	// maxBody bounds the body (MaxAPIBody unless the route says otherwise).
	maxBody int64
}

// api wraps a handler: it reads the body (at most MaxAPIBody), verifies the
// signature, runs fn, and writes fn's error as the JSON error response.
func (h *Internal) api(fn func(c *apiCall) error) http.HandlerFunc { return h.apiBody(MaxAPIBody, fn) }

// apiBody is api reading bodies of up to limit bytes.
func (h *Internal) apiBody(limit int64, fn func(c *apiCall) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &apiCall{w: w, r: r, ctx: r.Context(), now: h.now(), maxBody: limit}
		err := h.prepare(c)
		if err == nil {
			err = fn(c)
		}
		if err == nil {
			return
		}
		status := writeAPIError(w, err)
		app := ""
		if c.app != nil {
			app = c.app.name
		}
		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelError
		}
		h.log.Log(c.ctx, level, "business API request failed", "method", r.Method, "path", r.URL.Path,
			"app", app, "status", status, "err", err)
	}
}

// prepare reads c's body and verifies its signature.
func (h *Internal) prepare(c *apiCall) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, c.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return &requestError{status: http.StatusBadRequest, code: "bad_request", msg: "cannot read the body: " + err.Error()}
	}
	c.body = body
	c.app, err = h.verify(c.ctx, c.r, body, c.now)
	return err
}

// methodNotAllowed answers a method a path does not take.
func methodNotAllowed(method, allow string) error {
	return &requestError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
		msg: fmt.Sprintf("%s is not allowed here; use %s", method, allow), allow: allow}
}
