package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"

	"golang.org/x/crypto/bcrypt"
)

// fakeCalls is a LiveCallBoard with one call in progress.
type fakeCalls struct {
	mu   sync.Mutex
	live map[string]bool
}

func (f *fakeCalls) LiveCalls() []LiveCallView {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []LiveCallView
	for id := range f.live {
		out = append(out, LiveCallView{ID: id, Tenant: "acme", State: "answered", Caller: "+862100000001", Callee: "+8613900000002"})
	}
	return out
}

func (f *fakeCalls) Hangup(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[id] {
		return false
	}
	delete(f.live, id)
	return true
}

type fakeTrunks struct{}

func (fakeTrunks) TrunkViews() []TrunkView {
	return []TrunkView{{Name: "carrier", Supplier: "c", State: "up", Active: 1}}
}

// adminEnv is the admin page mounted on the business API.
type adminEnv struct {
	*recEnv
	calls *fakeCalls
	srv   *httptest.Server
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	e := newRecEnv(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-admin"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	calls := &fakeCalls{live: map[string]bool{"live-1": true}}
	a, err := NewAdmin(AdminDeps{Users: []configs.AdminUser{{Name: "root", PasswordHash: string(hash)}}, API: e.api,
		Tenants: []string{"acme"}, Trunks: fakeTrunks{}, Calls: calls, Records: e.store, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Mount(e.api))
	t.Cleanup(srv.Close)
	return &adminEnv{recEnv: e, calls: calls, srv: srv}
}

// client is a browser-like client with a cookie jar.
func (e *adminEnv) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func (e *adminEnv) send(c *http.Client, method, path, csrf, body string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// login logs c in and returns the CSRF token.
func (e *adminEnv) login(c *http.Client) string {
	e.t.Helper()
	res, body := e.send(c, "POST", "/admin/login", "", `{"name":"root","password":"s3cret-admin"}`)
	var out struct{ User, CSRF string }
	if err := json.Unmarshal(body, &out); err != nil || res.StatusCode != 200 || out.User != "root" || len(out.CSRF) != 64 {
		e.t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	return out.CSRF
}

func TestAdminLogin(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	// A wrong password and an unknown user get the same answer.
	for _, body := range []string{`{"name":"root","password":"wrong"}`, `{"name":"nobody","password":"s3cret-admin"}`} {
		res, b := e.send(c, "POST", "/admin/login", "", body)
		if res.StatusCode != 401 || !strings.Contains(string(b), `"bad_credentials"`) || len(res.Cookies()) != 0 {
			t.Fatalf("login %s: %d %s", body, res.StatusCode, b)
		}
	}
	if res, _ := e.send(c, "GET", "/admin/api/overview", "", ""); res.StatusCode != 401 {
		t.Fatalf("overview without a session: %d", res.StatusCode)
	}
	res, body := e.send(c, "POST", "/admin/login", "", `{"name":"root","password":"s3cret-admin"}`)
	if res.StatusCode != 200 {
		t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	ck := res.Cookies()
	if len(ck) != 1 || ck[0].Name != adminCookie || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode ||
		ck[0].Path != "/admin/" || len(ck[0].Value) != 64 {
		t.Fatalf("session cookie %+v", ck)
	}
	var who struct{ User, CSRF string }
	_ = json.Unmarshal(body, &who)

	res, body = e.send(c, "GET", "/admin/api/overview", "", "")
	var ov AdminOverview
	if err := json.Unmarshal(body, &ov); err != nil || res.StatusCode != 200 || len(ov.Trunks) != 1 ||
		len(ov.Calls) != 1 || ov.Calls[0].ID != "live-1" || len(ov.Tenants) != 1 {
		t.Fatalf("overview: %d %s", res.StatusCode, body)
	}
	// Changes need the session's CSRF token.
	for _, csrf := range []string{"", strings.Repeat("0", 64)} {
		if res, b := e.send(c, "POST", "/admin/api/calls/live-1/hangup", csrf, ""); res.StatusCode != 403 || !strings.Contains(string(b), `"csrf"`) {
			t.Fatalf("hang-up with CSRF token %q: %d %s", csrf, res.StatusCode, b)
		}
	}
	if len(e.calls.LiveCalls()) != 1 {
		t.Fatal("a call was hung up without the CSRF token")
	}
	if res, b := e.send(c, "POST", "/admin/api/calls/live-1/hangup", who.CSRF, ""); res.StatusCode != 200 || len(e.calls.LiveCalls()) != 0 {
		t.Fatalf("hang-up: %d %s", res.StatusCode, b)
	}
	if res, _ := e.send(c, "POST", "/admin/api/calls/live-1/hangup", who.CSRF, ""); res.StatusCode != 404 {
		t.Fatalf("hang-up of a call no longer live: %d", res.StatusCode)
	}
	// Another browser's session has another token.
	other := e.client()
	otherCSRF := e.login(other)
	if otherCSRF == who.CSRF {
		t.Fatal("two sessions share a CSRF token")
	}
	if res, _ := e.send(c, "POST", "/admin/logout", otherCSRF, ""); res.StatusCode != 403 {
		t.Fatalf("logout with another session's token: %d", res.StatusCode)
	}
	if res, _ := e.send(c, "POST", "/admin/logout", who.CSRF, ""); res.StatusCode != 200 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := e.send(c, "GET", "/admin/api/session", "", ""); res.StatusCode != 401 {
		t.Fatalf("session after logout: %d", res.StatusCode)
	}
	if res, _ := e.send(other, "GET", "/admin/api/session", "", ""); res.StatusCode != 200 {
		t.Fatalf("the other session ended too: %d", res.StatusCode)
	}
}

func TestAdminPageAndReusedHandlers(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	for i, answered := range []bool{true, false, true} {
		c := pool.Call{ID: "c" + string(rune('1'+i)), Tenant: "acme", Direction: pool.Outbound, Agent: "alice",
			Caller: "+862100000001", Callee: "+8613900000002", OutTrunk: "carrier", State: "ended", SIPCode: 486,
			SetupAt: apiT0.Add(-time.Duration(10+i) * time.Minute), RingAt: apiT0.Add(-time.Duration(10+i)*time.Minute + 300*time.Millisecond),
			EndAt: apiT0.Add(-5 * time.Minute)}
		if answered {
			c.SIPCode, c.AnswerAt = 200, c.RingAt.Add(time.Second)
		}
		if err := e.store.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client()
	res, body := e.send(c, "GET", "/admin/", "", "")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") || !strings.Contains(string(body), "/admin/admin.js") {
		t.Fatalf("page: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := e.send(c, "GET", "/admin/admin.js", "", ""); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("script: %d", res.StatusCode)
	}
	if res, _ := e.send(c, "GET", "/admin/api/tenants/acme/calls", "", ""); res.StatusCode != 401 {
		t.Fatalf("records without a session: %d", res.StatusCode)
	}
	csrf := e.login(c)
	res, body = e.send(c, "GET", "/admin/api/tenants/acme/calls?result=answered", "", "")
	var list CallList
	if err := json.Unmarshal(body, &list); err != nil || res.StatusCode != 200 || len(list.Calls) != 2 {
		t.Fatalf("records: %d %s", res.StatusCode, body)
	}
	res, body = e.send(c, "GET", "/admin/api/tenants/acme/calls.csv", "", "")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || strings.Count(string(body), "\r\n") != 4 {
		t.Fatalf("CSV: %d %s", res.StatusCode, body)
	}
	// The reused handlers are read-only here: a POST changes nothing.
	if res, _ := e.send(c, "POST", "/admin/api/tenants/acme/calls", csrf, `{}`); res.StatusCode < 400 {
		t.Fatalf("POST through the admin page: %d", res.StatusCode)
	}
	// The business API itself still wants signatures.
	if res, _ := e.send(c, "GET", "/v1/tenants/acme/calls", "", ""); res.StatusCode != 401 {
		t.Fatalf("the session opened the business API: %d", res.StatusCode)
	}

	res, body = e.send(c, "GET", "/admin/api/series?window=1h", "", "")
	var s Series
	if err := json.Unmarshal(body, &s); err != nil || res.StatusCode != 200 {
		t.Fatalf("series: %d %s", res.StatusCode, body)
	}
	total := 0
	for _, n := range s.Calls {
		total += n
	}
	if len(s.Calls) != 60 || total != 3 || len(s.AnswerRate) != 1 || s.AnswerRate[0].Trunk != "carrier" {
		t.Fatalf("series %+v", s)
	}
	var rates, setups []float64
	for i := range s.Calls {
		if p := s.AnswerRate[0].Points[i]; p != nil {
			rates = append(rates, *p)
		}
		if p := s.SetupMillis[i]; p != nil {
			setups = append(setups, *p)
		}
	}
	if len(rates) != 3 || rates[0]+rates[1]+rates[2] != 2 || len(setups) != 3 || setups[0] != 300 {
		t.Fatalf("answer rates %v, setup latencies %v", rates, setups)
	}
	if res, _ := e.send(c, "GET", "/admin/api/series?window=2d", "", ""); res.StatusCode != 400 {
		t.Fatalf("bad window: %d", res.StatusCode)
	}
}

// TestAdminNotOnPublicListener: the public listener has no admin paths.
func TestAdminNotOnPublicListener(t *testing.T) {
	srv := httptest.NewServer(NewPublic(nil, WithAssets(Assets())))
	defer srv.Close()
	for _, p := range []string{"/admin/", "/admin/admin.js", "/admin/login", "/admin/api/overview"} {
		for _, m := range []string{"GET", "POST"} {
			req, _ := http.NewRequest(m, srv.URL+p, nil)
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 404 && res.StatusCode != 405 {
				t.Errorf("%s %s on the public listener: %d", m, p, res.StatusCode)
			}
		}
	}
}
