package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Check is one readiness probe: nil when the part it checks can take calls.
type Check func(ctx context.Context) error

// Public is the handler of the public listener.
type Public struct {
	mux    *http.ServeMux
	checks map[string]Check
	assets http.Handler
}

// PublicOption adds a part to the public handler.
type PublicOption func(*Public)

// WithWebsocket serves the agent websocket at /ws.
func WithWebsocket(h http.Handler) PublicOption {
	return func(p *Public) { p.mux.Handle("GET /ws", h) }
}

// WithMetrics serves Prometheus metrics at /metrics.
func WithMetrics(h http.Handler) PublicOption {
	return func(p *Public) { p.mux.Handle("GET /metrics", h) }
}

// WithAssets serves the agent page and SDK (everything not otherwise routed).
func WithAssets(h http.Handler) PublicOption {
	return func(p *Public) { p.assets = h }
}

// NewPublic returns the public handler. checks name the parts /readyz probes (the
// store, the SIP listener, …).
func NewPublic(checks map[string]Check, opts ...PublicOption) *Public {
	p := &Public{mux: http.NewServeMux(), checks: checks}
	p.mux.HandleFunc("GET /healthz", p.healthz)
	p.mux.HandleFunc("GET /readyz", p.readyz)
	for _, o := range opts {
		o(p)
	}
	if p.assets != nil {
		// Method-less, so that method-less prefixes such as /supplier/v1/ are more
		// specific instead of conflicting; the assets answer 405 to other methods.
		p.mux.Handle("/", p.assets)
	} else {
		p.mux.HandleFunc("GET /{$}", p.index)
	}
	return p
}

func (p *Public) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// healthz answers 200 while the process serves HTTP at all.
func (p *Public) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when every check passes, else 503 naming what failed.
func (p *Public) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := map[string]string{}
	for name, check := range p.checks {
		if err := check(ctx); err != nil {
			failed[name] = err.Error()
		}
	}
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (p *Public) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><meta charset="utf-8"><title>callgate</title>
<h1>callgate is running</h1>
<p>The agent page arrives with the browser dialer. Meanwhile: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>.</p>`))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
