package web

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"callgate/pool"
	"callgate/web/apiclient"

	_ "github.com/mattn/go-sqlite3" // count reads the database file
)

var _ BindingStore = (*pool.SQLiteStore)(nil)
var _ NonceStore = (*pool.SQLiteStore)(nil)

// apiT0 is the API tests' epoch, a whole second.
var apiT0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// The test apps and their secrets.
const (
	crmSecret    = "crm-secret-0123456789abcdef0123456789abcdef"
	opsSecret    = "ops-secret-0123456789abcdef0123456789abcdef"
	globexSecret = "globex-secret-0123456789abcdef0123456789abc"
)

var testApps = []APIApp{
	{Name: "crm", Secret: crmSecret, Tenants: []string{"acme"}},
	{Name: "ops", Secret: opsSecret, Tenants: []string{"*"}},
	{Name: "globex-app", Secret: globexSecret, Tenants: []string{"globex"}},
}

// apiClock is a settable clock.
type apiClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *apiClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *apiClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *apiClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// apiEnv is the business API served over HTTP on a real SQLite file.
type apiEnv struct {
	t     testing.TB
	path  string
	clk   *apiClock
	store *pool.SQLiteStore
	srv   *httptest.Server
}

// vnum returns the i-th test virtual number.
func vnum(i int) string { return fmt.Sprintf("+8675561%06d", i) }

// apiNumbers are the virtual numbers of the test pools: acme-sz (acme's), 10
// numbers; shared, 5 numbers; solo (tenant solo), 1 number.
func apiNumbers() []pool.VirtualNumber {
	var ns []pool.VirtualNumber
	for i := range 10 {
		ns = append(ns, pool.VirtualNumber{Number: vnum(i), Pool: "acme-sz", Tenant: "acme", Trunk: "tr-a"})
	}
	for i := 100; i < 105; i++ {
		ns = append(ns, pool.VirtualNumber{Number: vnum(i), Pool: "shared", Trunk: "tr-s"})
	}
	ns = append(ns, pool.VirtualNumber{Number: vnum(200), Pool: "solo", Tenant: "solo", Trunk: "tr-solo"})
	return ns
}

func testPolicy(t testing.TB) *pool.Policy {
	p, err := pool.NewPolicy(
		[]pool.PoolInfo{{Name: "acme-sz", Tenant: "acme"}, {Name: "shared"}, {Name: "solo", Tenant: "solo"}},
		[]pool.PolicyRule{
			{Tenant: "acme", City: "*", Channel: "*", Pools: []string{"acme-sz", "shared"}},
			{Tenant: "acme", City: "Beijing", Channel: "*", Pools: []string{"shared"}},
			{Tenant: "solo", City: "*", Channel: "*", Pools: []string{"solo"}},
		},
		[]string{"shared"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newAPIEnv opens a store at a fresh path and serves the API over it.
func newAPIEnv(t testing.TB, rules pool.BindingRules, ns []pool.VirtualNumber) *apiEnv {
	t.Helper()
	e := &apiEnv{t: t, path: filepath.Join(t.TempDir(), "callgate.db"), clk: &apiClock{now: apiT0}}
	e.open(rules, ns)
	return e
}

// open (re)opens the store and the server.
func (e *apiEnv) open(rules pool.BindingRules, ns []pool.VirtualNumber) {
	e.t.Helper()
	ctx := context.Background()
	s, err := pool.OpenSQLite(ctx, e.path, pool.WithClock(e.clk.Now), pool.WithBindingRules(rules))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := s.SyncVirtualNumbers(ctx, ns); err != nil {
		e.t.Fatal(err)
	}
	h, err := NewInternal(InternalDeps{Bindings: s, Nonces: s, Policy: testPolicy(e.t), Apps: testApps, Now: e.clk.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store, e.srv = s, httptest.NewServer(h)
	e.t.Cleanup(e.close)
}

// close stops the server and closes the store (safe twice).
func (e *apiEnv) close() {
	e.srv.Close()
	e.store.Close()
}

// client returns an API client for app.
func (e *apiEnv) client(app, secret string) *apiclient.Client {
	e.t.Helper()
	c, err := apiclient.New(e.srv.URL, app, secret, apiclient.WithClock(e.clk.Now), apiclient.WithHTTPClient(e.srv.Client()))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// request builds a request to the server; body may be nil, a string or a value to
// marshal.
func (e *apiEnv) request(method, target string, body any) *http.Request {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewReader([]byte(b))
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+target, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return req
}

// signed builds a request signed by crm at the env's clock.
func (e *apiEnv) signed(method, target string, body any) *http.Request {
	e.t.Helper()
	req := e.request(method, target, body)
	if err := apiclient.Sign(req, "crm", crmSecret, e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
	return req
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
	err    apiclient.ErrorDetail
}

// do sends req and reads the answer; an error answer is decoded into err, and must
// be the JSON error shape.
func (e *apiEnv) do(req *http.Request) response {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: body}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
	}
	if res.StatusCode >= 300 {
		var eb apiclient.ErrorBody
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			e.t.Errorf("%s %s: %d error body %q is not {\"error\":{\"code\",\"message\"}}", req.Method, req.URL.Path, res.StatusCode, body)
		}
		r.err = eb.Error
	}
	return r
}

// binding decodes a binding answer.
func (r response) binding(t testing.TB) apiclient.Binding {
	t.Helper()
	var b apiclient.Binding
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("decode binding %q: %v", r.body, err)
	}
	return b
}

// apiErr returns err as an *apiclient.Error, failing the test otherwise.
func apiErr(t testing.TB, err error) *apiclient.Error {
	t.Helper()
	var e *apiclient.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an API error", err)
	}
	return e
}

// count runs a count query on the env's database file through a connection of its
// own (read-only).
func count(t testing.TB, e *apiEnv, query string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+e.path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
