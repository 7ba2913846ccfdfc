package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"callgate/pool"
	"callgate/web"
	"callgate/web/apiclient"
)

// The test app that signs acme's events.
const (
	testApp    = "crm"
	testSecret = "crm-secret-0123456789abcdef0123456789abcdef"
)

// memNonces is an in-memory web.NonceStore.
type memNonces struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *memNonces) UseNonce(_ context.Context, app, nonce string, _, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	if m.seen[app+"\n"+nonce] {
		return pool.ErrExists
	}
	m.seen[app+"\n"+nonce] = true
	return nil
}

// noBindings is a web.BindingStore for a business API that only verifies: the
// receiver never calls it.
type noBindings struct{ web.BindingStore }

// delivery is one POST the receiver got.
type delivery struct {
	Event   Event
	Data    json.RawMessage
	Attempt int
	Header  http.Header
}

// receiver is a business system's event endpoint on loopback. It checks every
// request's signature with callgate's own verifier: it hands the request to a
// business API handler (web.Internal) at a path under /v1/ that has no endpoint, which
// answers 404 not_found only after the signature, timestamp and nonce passed and 401
// otherwise. A verified event is recorded, then answered by respond (default 204).
type receiver struct {
	t   testing.TB
	srv *httptest.Server
	api *web.Internal

	mu       sync.Mutex
	got      []delivery
	rejected []string // why requests failed verification
	respond  func(n int, r *http.Request) int
	arrived  chan struct{} // one value per verified request, if not nil
	cut      int           // this many first connections are closed without an answer
	cutDone  int
}

const receiverPath = "/v1/callgate-events"

func newReceiver(t testing.TB, respond func(n int, r *http.Request) int) *receiver {
	t.Helper()
	policy, err := pool.NewPolicy(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := web.NewInternal(web.InternalDeps{Bindings: noBindings{}, Nonces: &memNonces{}, Policy: policy,
		Apps: []web.APIApp{{Name: testApp, Secret: testSecret, Tenants: []string{"acme"}}}})
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, api: api, respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve)) // 127.0.0.1
	t.Cleanup(rc.srv.Close)
	return rc
}

// url is where the events go.
func (rc *receiver) url() string { return rc.srv.URL + receiverPath }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	cut := rc.cutDone < rc.cut
	if cut {
		rc.cutDone++
	}
	rc.mu.Unlock()
	if cut {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if why := rc.verify(r, body); why != "" {
		rc.mu.Lock()
		rc.rejected = append(rc.rejected, why)
		rc.mu.Unlock()
		http.Error(w, why, http.StatusUnauthorized)
		return
	}
	var raw struct {
		Event
		Data json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	attempt, _ := strconv.Atoi(r.Header.Get(HeaderAttempt))
	rc.mu.Lock()
	rc.got = append(rc.got, delivery{Event: raw.Event, Data: raw.Data, Attempt: attempt, Header: r.Header.Clone()})
	n := len(rc.got)
	respond, arrived := rc.respond, rc.arrived
	rc.mu.Unlock()
	if arrived != nil {
		arrived <- struct{}{}
	}
	status := http.StatusNoContent
	if respond != nil {
		status = respond(n, r)
	}
	w.WriteHeader(status)
}

// verify runs callgate's business API verifier on a copy of r; it returns "" if the
// signature holds, else the API's answer.
func (rc *receiver) verify(r *http.Request, body []byte) string {
	if r.Method != http.MethodPost || r.URL.Path != receiverPath || r.Header.Get("Content-Type") != "application/json" {
		return "not a POST of JSON to " + receiverPath
	}
	check := r.Clone(r.Context())
	check.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	rc.api.ServeHTTP(rec, check)
	var answer apiclient.ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	if rec.Code == http.StatusNotFound && answer.Error.Code == "not_found" {
		return ""
	}
	return strconv.Itoa(rec.Code) + " " + answer.Error.Code + ": " + answer.Error.Message
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

func (rc *receiver) rejections() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.rejected...)
}

// waitFor polls cond until it holds; it fails the test after a generous deadline
// (the machine is shared: nothing here measures time).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testTarget is acme's target on rc with quick retries.
func testTarget(url string) Target {
	return Target{Tenant: "acme", URL: url, App: testApp, Secret: testSecret, Timeout: 10 * time.Second,
		MaxAttempts: 4, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Queue: 100, Workers: 2}
}

// newDispatcher starts a dispatcher for targets and closes it at the end of the test.
func newDispatcher(t testing.TB, targets []Target, opts ...Option) *Dispatcher {
	t.Helper()
	d, err := New(targets, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}
