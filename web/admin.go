package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"callgate/configs"
	"callgate/pool"
	"callgate/routing"

	"golang.org/x/crypto/bcrypt"
)

// This file is the admin page on the internal listener (never the public one):
//
//	GET  /admin/                 the page (web/admin/, embedded)
//	POST /admin/login            {"name","password"} → session cookie and CSRF token
//	POST /admin/logout           ends the session
//	GET  /admin/api/session      who is logged in, and the session's CSRF token
//	GET  /admin/api/overview     trunks, pools, live calls, tenants, config status
//	POST /admin/api/calls/{id}/hangup   hang a live call up
//	GET  /admin/api/series?window=1h    charts: calls per minute, answer rate per
//	                                    trunk, setup latency, from the call records
//	GET  /admin/api/tenants/{tenant}/{calls,calls.csv,feedback,dnc,recordings}
//	GET  /admin/api/tenants/{tenant}/calls/{id}/recording
//	                              the business API's own handlers, read-only
//
// Every /admin/api/ request and logout need the admin session: a random id in an
// HttpOnly, SameSite=Strict cookie, kept in memory (a restart logs everyone out).
// Requests that change anything (POST) also need the session's CSRF token in the
// X-CSRF-Token header, else 403.

// LiveCallBoard lists the calls in progress and hangs one up; cmd/callgate adapts the
// SIP edge to it.
type LiveCallBoard interface {
	LiveCalls() []LiveCallView
	// Hangup ends a live call; false: no such call in progress.
	Hangup(id string) bool
}

// TrunkViewer shows the trunks as failover sees them; a TrunkBoard is one.
type TrunkViewer interface {
	TrunkViews() []TrunkView
}

// LiveCallView is a call in progress on the admin page.
type LiveCallView struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Direction string     `json:"direction"`
	Agent     string     `json:"agent,omitempty"`
	Caller    string     `json:"caller"`
	Callee    string     `json:"callee"`
	InTrunk   string     `json:"in_trunk,omitempty"`
	OutTrunk  string     `json:"out_trunk,omitempty"`
	State     string     `json:"state"`
	SetupAt   time.Time  `json:"setup_at"`
	AnswerAt  *time.Time `json:"answer_at,omitempty"`
	Recording string     `json:"recording,omitempty"`
}

// AdminDeps are what the admin page shows and reuses.
type AdminDeps struct {
	// Users may log in; without any, NewAdmin fails.
	Users []configs.AdminUser
	// SessionTTL is how long a login lasts without use; default 8h.
	SessionTTL time.Duration
	// API is the business API whose read-only handlers the page reuses (call
	// records, CSV export, feedback, do-not-call lists, recordings); required.
	API *Internal
	// Tenants are the configured tenants, for the page's tenant choice.
	Tenants []string
	// Trunks shows the trunks with health and live calls; nil: none shown.
	Trunks TrunkViewer
	// Calls lists and hangs up live calls; nil: none shown.
	Calls LiveCallBoard
	// Records feeds the charts; nil: no charts.
	Records CallRecordStore
	// Config shows the config reload status; nil: not shown.
	Config ConfigAdmin
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives logins and hang-ups; default discards.
	Log *slog.Logger
	// Sessions keeps the logins; share one across the handlers a config reload
	// rebuilds, so that admins stay logged in. Nil: the handler's own.
	Sessions *AdminSessions
}

// AdminSessions keeps admins' logins in memory: a restart logs everyone out.
type AdminSessions struct {
	mu sync.Mutex
	m  map[string]*adminSession // by session id
}

// NewAdminSessions returns an empty session store.
func NewAdminSessions() *AdminSessions { return &AdminSessions{m: map[string]*adminSession{}} }

// Admin serves the admin page and its API under /admin/.
type Admin struct {
	d     AdminDeps
	users map[string][]byte // name → bcrypt hash
	dummy []byte            // compared against for unknown names: same cost either way
	app   *apiApp           // how the page acts on the business API's handlers
	files fs.FS
	mux   *http.ServeMux
}

// adminSession is one logged-in admin.
type adminSession struct {
	user    string
	csrf    string
	expires time.Time
}

// adminCookie names the session cookie.
const adminCookie = "callgate_admin"

// NewAdmin returns the admin page handler.
func NewAdmin(d AdminDeps) (*Admin, error) {
	if len(d.Users) == 0 || d.API == nil {
		return nil, errors.New("web: NewAdmin: users and the business API are required")
	}
	if d.SessionTTL <= 0 {
		d.SessionTTL = 8 * time.Hour
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	files, err := fs.Sub(assetFS, "admin")
	if err != nil {
		return nil, err
	}
	if d.Sessions == nil {
		d.Sessions = NewAdminSessions()
	}
	a := &Admin{d: d, users: map[string][]byte{}, files: files, mux: http.NewServeMux(),
		app: &apiApp{name: "admin", all: true, tenants: map[string]bool{}}}
	for _, u := range d.Users {
		a.users[u.Name] = []byte(u.PasswordHash)
		if a.dummy == nil {
			a.dummy = []byte(u.PasswordHash)
		}
	}
	a.mux.HandleFunc("GET /admin/{$}", a.page)
	a.mux.HandleFunc("GET /admin/{file}", a.page)
	a.mux.HandleFunc("POST /admin/login", a.login)
	a.mux.HandleFunc("POST /admin/logout", a.session(true, a.logout))
	a.mux.HandleFunc("GET /admin/api/session", a.session(false, a.whoami))
	a.mux.HandleFunc("GET /admin/api/overview", a.session(false, a.overview))
	a.mux.HandleFunc("POST /admin/api/calls/{id}/hangup", a.session(true, a.hangup))
	a.mux.HandleFunc("GET /admin/api/series", a.session(false, a.series))
	reused := map[string]func(*apiCall) error{}
	if api := d.API; api.outbound.Records != nil {
		reused["calls"], reused["calls.csv"], reused["feedback"] = api.calls, api.callsCSV, api.feedback
	}
	if api := d.API; api.outbound.Lists != nil && api.outbound.DoNotCall != nil {
		reused["dnc"] = api.dncList
	}
	if api := d.API; api.recordings != nil {
		reused["recordings"], reused["calls/{id}/recording"] = api.recordingList, api.recording
	}
	for p, h := range reused {
		a.mux.HandleFunc("GET /admin/api/tenants/{tenant}/"+p, a.session(false, a.reuse(h)))
	}
	a.mux.HandleFunc("/admin/", func(w http.ResponseWriter, _ *http.Request) { writeAPIError(w, errNoRoute) })
	return a, nil
}

// Mount returns a handler serving the admin page under /admin/ and everything else
// with next (the business API).
func (a *Admin) Mount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/admin":
			http.Redirect(w, r, "/admin/", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/admin/"):
			a.mux.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// ServeHTTP serves /admin/ only.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// adminCSP keeps the admin page to its own origin, out of frames.
const adminCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// page serves the embedded page files.
func (a *Admin) page(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		name = "index.html"
	}
	body, err := fs.ReadFile(a.files, name)
	if err != nil || isTestFile(name) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	ctype := assetTypes[path.Ext(name)]
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", adminCSP)
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(body)
}

// errAdminLogin answers a wrong name or password (the same for both).
var errAdminLogin = &requestError{status: http.StatusUnauthorized, code: "bad_credentials", msg: "wrong name or password"}

// errAdminSession answers a request without a valid session.
var errAdminSession = &requestError{status: http.StatusUnauthorized, code: "no_session", msg: "log in first"}

// errAdminCSRF answers a change without the session's CSRF token.
var errAdminCSRF = &requestError{status: http.StatusForbidden, code: "csrf", msg: "missing or wrong X-CSRF-Token"}

// login checks a name and password and starts a session.
func (a *Admin) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil {
		writeAPIError(w, &requestError{status: http.StatusBadRequest, code: "bad_request", msg: "want {\"name\", \"password\"}"})
		return
	}
	hash, ok := a.users[in.Name]
	if !ok {
		hash = a.dummy
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(in.Password)) != nil || !ok {
		a.d.Log.Warn("admin login refused", "name", truncate(in.Name, 64), "remote", r.RemoteAddr)
		writeAPIError(w, errAdminLogin)
		return
	}
	s := &adminSession{user: in.Name, csrf: randomHex(), expires: a.d.Now().Add(a.d.SessionTTL)}
	id := randomHex()
	ss := a.d.Sessions
	ss.mu.Lock()
	now := a.d.Now()
	for k, old := range ss.m {
		if now.After(old.expires) {
			delete(ss.m, k)
		}
	}
	ss.m[id] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: id, Path: "/admin/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	a.d.Log.Info("admin logged in", "name", in.Name, "remote", r.RemoteAddr)
	writeAPIJSON(w, http.StatusOK, map[string]string{"user": s.user, "csrf": s.csrf})
}

// session wraps an admin handler: it needs a valid session cookie and, if change,
// the session's CSRF token.
func (a *Admin) session(change bool, fn func(w http.ResponseWriter, r *http.Request, s *adminSession, id string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, id := a.lookup(r)
		var err error
		switch {
		case s == nil:
			err = errAdminSession
		case change && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(s.csrf)) != 1:
			err = errAdminCSRF
		default:
			err = fn(w, r, s, id)
		}
		if err != nil {
			if status := writeAPIError(w, err); status >= 500 {
				a.d.Log.Error("admin request failed", "path", r.URL.Path, "err", err)
			}
		}
	}
}

// lookup finds the request's live session, of a user still configured, and
// extends it.
func (a *Admin) lookup(r *http.Request) (*adminSession, string) {
	c, err := r.Cookie(adminCookie)
	if err != nil {
		return nil, ""
	}
	ss := a.d.Sessions
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[c.Value]
	now := a.d.Now()
	if s == nil || now.After(s.expires) || a.users[s.user] == nil {
		delete(ss.m, c.Value)
		return nil, ""
	}
	s.expires = now.Add(a.d.SessionTTL)
	cp := *s
	return &cp, c.Value
}

func (a *Admin) logout(w http.ResponseWriter, _ *http.Request, s *adminSession, id string) error {
	a.d.Sessions.mu.Lock()
	delete(a.d.Sessions.m, id)
	a.d.Sessions.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: "", Path: "/admin/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	a.d.Log.Info("admin logged out", "name", s.user)
	writeAPIJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (a *Admin) whoami(w http.ResponseWriter, _ *http.Request, s *adminSession, _ string) error {
	writeAPIJSON(w, http.StatusOK, map[string]string{"user": s.user, "csrf": s.csrf})
	return nil
}

// AdminOverview answers GET /admin/api/overview.
type AdminOverview struct {
	Now     time.Time      `json:"now"`
	Tenants []string       `json:"tenants"`
	Trunks  []TrunkView    `json:"trunks"`
	Calls   []LiveCallView `json:"calls"`
	// Pools are the virtual-number pools with their numbers and scores, as
	// GET /v1/pools shows them; empty when the business API scores no pools.
	Pools []routing.PoolScore `json:"pools"`
	// Config is the config's reload status; nil when reloads are not served.
	Config *ConfigStatus `json:"config,omitempty"`
}

func (a *Admin) overview(w http.ResponseWriter, _ *http.Request, _ *adminSession, _ string) error {
	out := AdminOverview{Now: a.d.Now(), Tenants: a.d.Tenants, Trunks: []TrunkView{}, Calls: []LiveCallView{},
		Pools: []routing.PoolScore{}}
	if out.Tenants == nil {
		out.Tenants = []string{}
	}
	if a.d.Trunks != nil {
		out.Trunks = append(out.Trunks, a.d.Trunks.TrunkViews()...)
	}
	if a.d.Calls != nil {
		out.Calls = append(out.Calls, a.d.Calls.LiveCalls()...)
	}
	if a.d.API.pools != nil {
		out.Pools = append(out.Pools, a.d.API.pools.Scores()...)
	}
	if a.d.Config != nil {
		st := a.d.Config.ConfigStatus()
		out.Config = &st
	}
	writeAPIJSON(w, http.StatusOK, out)
	return nil
}

func (a *Admin) hangup(w http.ResponseWriter, r *http.Request, s *adminSession, _ string) error {
	id := r.PathValue("id")
	if a.d.Calls == nil || !a.d.Calls.Hangup(id) {
		return &requestError{status: http.StatusNotFound, code: "not_found", msg: "no such call in progress"}
	}
	a.d.Log.Info("admin hung a call up", "name", s.user, "call", id)
	writeAPIJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

// reuse runs a business API handler for the admin, who acts for every tenant. Only
// GET reaches it: the page reads through these handlers and changes nothing.
func (a *Admin) reuse(fn func(*apiCall) error) func(http.ResponseWriter, *http.Request, *adminSession, string) error {
	return func(w http.ResponseWriter, r *http.Request, _ *adminSession, _ string) error {
		return fn(&apiCall{w: w, r: r, ctx: r.Context(), app: a.app, now: a.d.Now(), maxBody: MaxAPIBody})
	}
}

// Series answers GET /admin/api/series: the charts, bucketed over the window.
type Series struct {
	Window      string    `json:"window"`
	Start       time.Time `json:"start"`
	StepSeconds int       `json:"step_seconds"`
	// Calls counts the calls set up in each bucket (attempts, answered or not).
	Calls []int `json:"calls"`
	// AnswerRate is, per trunk, the share of its calls answered in each bucket
	// (null: no calls).
	AnswerRate []TrunkSeries `json:"answer_rate"`
	// SetupMillis is the mean time from setup to the first ring or answer, per
	// bucket (null: no call rang).
	SetupMillis []*float64 `json:"setup_ms"`
	// Truncated is set when the window held more calls than the charts read.
	Truncated bool `json:"truncated,omitempty"`
}

// TrunkSeries is one trunk's series.
type TrunkSeries struct {
	Trunk    string     `json:"trunk"`
	Supplier string     `json:"supplier,omitempty"`
	Points   []*float64 `json:"points"`
}

// seriesWindow returns a window the charts offer, with its buckets: 60 each.
func seriesWindow(name string) (window, step time.Duration, ok bool) {
	switch name {
	case "15m":
		return 15 * time.Minute, 15 * time.Second, true
	case "1h":
		return time.Hour, time.Minute, true
	case "6h":
		return 6 * time.Hour, 6 * time.Minute, true
	case "24h":
		return 24 * time.Hour, 24 * time.Minute, true
	}
	return 0, 0, false
}

// maxSeriesCalls bounds the records one series request reads.
const maxSeriesCalls = 20000

func (a *Admin) series(w http.ResponseWriter, r *http.Request, _ *adminSession, _ string) error {
	name := r.URL.Query().Get("window")
	if name == "" {
		name = "1h"
	}
	window, step, ok := seriesWindow(name)
	if !ok {
		return badField("window", "want 15m, 1h, 6h or 24h")
	}
	end := a.d.Now().Truncate(step).Add(step)
	start := end.Add(-window)
	var calls []pool.Call
	truncated := false
	if a.d.Records != nil {
		var err error
		calls, truncated, err = a.callsSince(r.Context(), start, end)
		if err != nil {
			return err
		}
	}
	suppliers := map[string]string{}
	if a.d.Trunks != nil {
		for _, t := range a.d.Trunks.TrunkViews() {
			suppliers[t.Name] = t.Supplier
		}
	}
	s := buildSeries(calls, start, window, step, suppliers)
	s.Window, s.Truncated = name, truncated
	writeAPIJSON(w, http.StatusOK, s)
	return nil
}

// callsSince reads every tenant's call records set up in [start, end).
func (a *Admin) callsSince(ctx context.Context, start, end time.Time) ([]pool.Call, bool, error) {
	var out []pool.Call
	for _, t := range a.d.Tenants {
		q := pool.CallQuery{Tenant: t, Since: start, Until: end, Limit: pool.MaxListLimit}
		for {
			page, err := a.d.Records.ListCalls(ctx, q)
			if err != nil {
				return nil, false, err
			}
			out = append(out, page.Calls...)
			if len(out) >= maxSeriesCalls {
				return out, true, nil
			}
			if page.Next == "" {
				break
			}
			q.After = page.Next
		}
	}
	return out, false, nil
}

// buildSeries buckets calls over [start, start+window) in steps.
func buildSeries(calls []pool.Call, start time.Time, window, step time.Duration, suppliers map[string]string) Series {
	n := int(window / step)
	s := Series{Start: start, StepSeconds: int(step / time.Second), Calls: make([]int, n), SetupMillis: make([]*float64, n),
		AnswerRate: []TrunkSeries{}}
	type tally struct{ placed, answered []int }
	trunks := map[string]*tally{}
	setupSum, setupN := make([]float64, n), make([]int, n)
	for _, c := range calls {
		i := int(c.SetupAt.Sub(start) / step)
		if i < 0 || i >= n {
			continue
		}
		s.Calls[i]++
		trunk := c.OutTrunk
		if trunk == "" {
			trunk = c.InTrunk
		}
		if trunk != "" && routing.OutcomeOf(c) != routing.OutcomeNotPlaced {
			t := trunks[trunk]
			if t == nil {
				t = &tally{placed: make([]int, n), answered: make([]int, n)}
				trunks[trunk] = t
			}
			t.placed[i]++
			if !c.AnswerAt.IsZero() {
				t.answered[i]++
			}
		}
		first := c.RingAt
		if first.IsZero() || (!c.AnswerAt.IsZero() && c.AnswerAt.Before(first)) {
			first = c.AnswerAt
		}
		if !first.IsZero() && !first.Before(c.SetupAt) {
			setupSum[i] += float64(first.Sub(c.SetupAt).Milliseconds())
			setupN[i]++
		}
	}
	for i := range n {
		if setupN[i] > 0 {
			v := math.Round(setupSum[i] / float64(setupN[i]))
			s.SetupMillis[i] = &v
		}
	}
	names := make([]string, 0, len(trunks))
	for name := range trunks {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t := trunks[name]
		ts := TrunkSeries{Trunk: name, Supplier: suppliers[name], Points: make([]*float64, n)}
		for i := range n {
			if t.placed[i] > 0 {
				v := float64(t.answered[i]) / float64(t.placed[i])
				ts.Points[i] = &v
			}
		}
		s.AnswerRate = append(s.AnswerRate, ts)
	}
	return s
}

// randomHex is 32 random bytes in hex: session ids and CSRF tokens.
func randomHex() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
