package signaling

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callgate/pool"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"
)

const testToken = "tok-alice-0123456789abcdef"

type testServer struct {
	srv   *Server
	http  *httptest.Server
	seats *Seats
	store *pool.SQLiteStore
}

func newTestServer(t *testing.T, seats int) *testServer {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	store, err := pool.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "cg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ts := &testServer{seats: NewSeats(map[string]int{"acme": seats}), store: store}
	ts.srv = NewServer(Config{AllowedOrigins: []string{"https://crm.example.com"}, PingInterval: time.Second, PongWait: 3 * time.Second},
		Deps{
			Auth: NewDirectory([]AgentAccount{
				{Tenant: "acme", Name: "alice", Token: testToken},
				{Tenant: "acme", Name: "bob", PasswordHash: string(hash)},
			}),
			Seats:   ts.seats,
			Records: store,
			Media: func(context.Context, string) (BrowserLeg, string, error) {
				return nil, "", errors.New("no media in this test")
			},
		})
	ts.http = httptest.NewServer(ts.srv)
	t.Cleanup(func() { ts.http.Close(); ts.srv.Close() })
	return ts
}

func (ts *testServer) dial(t *testing.T, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.http.URL, "http"), h)
}

func (ts *testServer) login(t *testing.T, auth map[string]any) (*websocket.Conn, map[string]any) {
	t.Helper()
	c, _, err := ts.dial(t, ts.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.WriteJSON(auth); err != nil {
		t.Fatal(err)
	}
	return c, read(t, c)
}

func read(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// closed waits for the server to close the connection and returns the close code.
func closed(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		return -1
	}
}

func TestLoginWithTokenAndPassword(t *testing.T) {
	ts := newTestServer(t, 5)
	_, m := ts.login(t, map[string]any{"type": "auth", "v": 1, "token": testToken, "id": "a1"})
	if m["type"] != "ready" || m["agent"] != "alice" || m["tenant"] != "acme" || m["id"] != "a1" {
		t.Fatalf("token login: %v", m)
	}
	if seats := m["seats"].(map[string]any); seats["used"] != 1.0 || seats["total"] != 5.0 {
		t.Fatalf("seats %v", seats)
	}
	_, m = ts.login(t, map[string]any{"type": "auth", "v": 1, "tenant": "acme", "agent": "bob", "password": "s3cret"})
	if m["type"] != "ready" || m["agent"] != "bob" {
		t.Fatalf("password login: %v", m)
	}
}

func TestBadCredentialsAreRefusedAlike(t *testing.T) {
	ts := newTestServer(t, 5)
	for _, auth := range []map[string]any{
		{"type": "auth", "v": 1, "token": "tok-nobody-0123456789abcdef"},
		{"type": "auth", "v": 1, "tenant": "acme", "agent": "bob", "password": "wrong"},
		{"type": "auth", "v": 1, "tenant": "acme", "agent": "nobody", "password": "s3cret"},
		{"type": "auth", "v": 1, "tenant": "acme", "agent": "alice", "password": "s3cret"}, // token-only agent
	} {
		c, m := ts.login(t, auth)
		if m["type"] != "error" || m["code"] != "bad_credentials" || m["message"] != ErrBadCredentials.Error() {
			t.Fatalf("%v: %v", auth, m)
		}
		if code := closed(t, c); code != websocket.CloseNormalClosure {
			t.Fatalf("close code %d", code)
		}
	}
	if ts.seats.Used("acme") != 0 {
		t.Fatal("a refused login took a seat")
	}
}

func TestBadVersionAndMessagesBeforeAuth(t *testing.T) {
	ts := newTestServer(t, 5)
	_, m := ts.login(t, map[string]any{"type": "auth", "v": 2, "token": testToken})
	if m["code"] != "bad_version" {
		t.Fatalf("v2: %v", m)
	}
	_, m = ts.login(t, map[string]any{"type": "dial", "to": "+8613800000001"})
	if m["code"] != "bad_request" {
		t.Fatalf("dial before auth: %v", m)
	}
}

func TestSeatsExhaustedAndReleasedOnDisconnect(t *testing.T) {
	ts := newTestServer(t, 1)
	first, m := ts.login(t, map[string]any{"type": "auth", "v": 1, "token": testToken})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	_, m = ts.login(t, map[string]any{"type": "auth", "v": 1, "tenant": "acme", "agent": "bob", "password": "s3cret"})
	if m["code"] != "seats_exhausted" || !strings.Contains(m["message"].(string), "seats") {
		t.Fatalf("second login: %v", m)
	}
	first.Close() // the page goes away: the seat comes back
	deadline := time.Now().Add(5 * time.Second)
	for ts.seats.Used("acme") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("seat not released after the websocket closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, m = ts.login(t, map[string]any{"type": "auth", "v": 1, "tenant": "acme", "agent": "bob", "password": "s3cret"})
	if m["type"] != "ready" {
		t.Fatalf("login after release: %v", m)
	}
}

func TestOrigins(t *testing.T) {
	ts := newTestServer(t, 5)
	for origin, ok := range map[string]bool{
		ts.http.URL:                  true, // the page's own origin
		"https://crm.example.com":    true, // allowed in config
		"https://CRM.example.com":    true,
		"https://evil.example.com":   false,
		"http://crm.example.com":     false, // scheme matters
		"https://crm.example.com:99": false,
		"":                           false, // not a browser
		"null":                       false,
	} {
		c, res, err := ts.dial(t, origin)
		if ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", origin, err)
				continue
			}
			c.Close()
			continue
		}
		if err == nil {
			c.Close()
			t.Errorf("origin %q accepted", origin)
			continue
		}
		if res == nil || res.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: %v, want HTTP 403", origin, err)
		}
	}
}

func TestMalformedMessagesKeepTheSession(t *testing.T) {
	ts := newTestServer(t, 5)
	c, m := ts.login(t, map[string]any{"type": "auth", "v": 1, "token": testToken})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	for _, raw := range []string{`{"type":`, `[1,2]`, `{"type":"frobnicate"}`, `{"type":"dtmf","call":"x","digits":"5; rm"}`,
		`{"type":"feedback","call":"x"}`, `{"no":"type"}`} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		if m := read(t, c); m["type"] != "error" || m["code"] != "bad_request" || m["message"] == "" {
			t.Fatalf("%s: %v", raw, m)
		}
	}
	if err := c.WriteJSON(map[string]any{"type": "dial", "id": "d1", "to": "+8613800000001"}); err != nil {
		t.Fatal(err)
	}
	if m := read(t, c); m["code"] != "not_ready" || m["id"] != "d1" {
		t.Fatalf("dial before offer: %v", m)
	}
	if err := c.WriteJSON(map[string]any{"type": "history", "id": "h1"}); err != nil {
		t.Fatal(err)
	}
	if m := read(t, c); m["type"] != "history" || m["id"] != "h1" {
		t.Fatalf("session did not survive: %v", m)
	}
}

func TestOversizedMessageClosesWith1009(t *testing.T) {
	ts := newTestServer(t, 5)
	c, m := ts.login(t, map[string]any{"type": "auth", "v": 1, "token": testToken})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	big := `{"type":"offer","sdp":"` + strings.Repeat("a", 70<<10) + `"}`
	_ = c.WriteMessage(websocket.TextMessage, []byte(big))
	if code := closed(t, c); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.seats.Used("acme") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("seat kept after the oversized message closed the session")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{`{"type":"auth","v":1,"token":"x"}`, `{"type":"dial","to":"+86 138"}`, `{"type":"dtmf","call":"c","digits":"12#"}`,
		`{"type":"mute","call":"c","muted":true}`, `{"type":"history","limit":500}`, `{}`, `null`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not ErrBadRequest", err)
			}
			return
		}
		if m.Type == "dtmf" {
			for i := 0; i < len(m.Digits); i++ {
				if !isDigit(m.Digits[i]) {
					t.Fatalf("accepted digit %q", m.Digits[i])
				}
			}
		}
	})
}

func TestSecondLoginOfSameAgentReplacesTheFirst(t *testing.T) {
	ts := newTestServer(t, 1) // one seat: the new login must get the old one's
	first, m := ts.login(t, map[string]any{"type": "auth", "v": 1, "token": testToken})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	_, m = ts.login(t, map[string]any{"type": "auth", "v": 1, "token": testToken})
	if m["type"] != "ready" {
		t.Fatalf("second login of the same agent: %v", m)
	}
	if m := read(t, first); m["code"] != "signed_in_elsewhere" {
		t.Fatalf("old session got %v", m)
	}
	if code := closed(t, first); code != websocket.CloseNormalClosure {
		t.Fatalf("old session close code %d", code)
	}
	if used := ts.seats.Used("acme"); used != 1 {
		t.Fatalf("%d seats used, want 1", used)
	}
}

func TestSilentClientIsDroppedAndItsSeatFreed(t *testing.T) {
	ts := newTestServer(t, 1)
	c, m := ts.login(t, map[string]any{"type": "auth", "v": 1, "token": testToken})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	// The client stops reading: gorilla answers pings only while reading, so the
	// server's pings go unanswered and PongWait (3 s here) runs out.
	_ = c
	deadline := time.Now().Add(10 * time.Second)
	for ts.seats.Used("acme") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a client that stopped answering pings kept its seat")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
