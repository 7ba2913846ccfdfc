package web

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"callgate/pool"
	"callgate/web/apiclient"
)

func TestAPIAuth(t *testing.T) {
	e := newAPIEnv(t, pool.BindingRules{}, apiNumbers())
	const body = `{"mode":"AXN","b":"+8613900000001"}`
	sign := func(r *http.Request, app, secret string, at time.Time, nonce string) *http.Request {
		t.Helper()
		if err := apiclient.SignWithNonce(r, app, secret, at, nonce); err != nil {
			t.Fatal(err)
		}
		return r
	}
	now := apiT0
	tests := []struct {
		name   string
		req    func() *http.Request
		reason string
	}{
		{"unsigned", func() *http.Request { return e.request("POST", "/v1/bindings", body) }, "missing_header"},
		{"unsigned unknown path", func() *http.Request { return e.request("GET", "/v1/nothing", nil) }, "missing_header"},
		{"no signature", func() *http.Request {
			r := sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now, "nonce-0001")
			r.Header.Del(apiclient.HeaderSignature)
			return r
		}, "missing_header"},
		{"no nonce", func() *http.Request {
			r := sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now, "nonce-0002")
			r.Header.Del(apiclient.HeaderNonce)
			return r
		}, "missing_header"},
		{"unknown app", func() *http.Request {
			return sign(e.request("POST", "/v1/bindings", body), "intruder", crmSecret, now, "nonce-0003")
		}, "unknown_app"},
		{"timestamp not a number", func() *http.Request {
			r := sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now, "nonce-0004")
			r.Header.Set(apiclient.HeaderTimestamp, now.Format(time.RFC3339))
			return r
		}, "bad_timestamp"},
		{"expired: 301 s old", func() *http.Request {
			return sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now.Add(-301*time.Second), "nonce-0005")
		}, "bad_timestamp"},
		{"from the future: 301 s ahead", func() *http.Request {
			return sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now.Add(301*time.Second), "nonce-0006")
		}, "bad_timestamp"},
		{"nonce too short", func() *http.Request {
			return sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now, "n1")
		}, "bad_nonce"},
		{"nonce with a slash", func() *http.Request {
			return sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now, "nonce/0007")
		}, "bad_nonce"},
		{"wrong secret", func() *http.Request {
			return sign(e.request("POST", "/v1/bindings", body), "crm", opsSecret, now, "nonce-0008")
		}, "bad_signature"},
		{"signature in upper case", func() *http.Request {
			r := sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now, "nonce-0009")
			r.Header.Set(apiclient.HeaderSignature, upper(r.Header.Get(apiclient.HeaderSignature)))
			return r
		}, "bad_signature"},
		{"body changed", func() *http.Request {
			r := sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now, "nonce-0010")
			signed := r.Header.Clone()
			r = e.request("POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000002"}`)
			r.Header = signed
			return r
		}, "bad_signature"},
		{"query changed", func() *http.Request {
			r := sign(e.request("GET", "/v1/bindings?limit=5", nil), "crm", crmSecret, now, "nonce-0011")
			r.URL.RawQuery = "limit=6"
			return r
		}, "bad_signature"},
		{"method changed", func() *http.Request {
			r := sign(e.request("GET", "/v1/bindings/1", nil), "crm", crmSecret, now, "nonce-0012")
			r.Method = "DELETE"
			return r
		}, "bad_signature"},
		{"path changed", func() *http.Request {
			r := sign(e.request("GET", "/v1/bindings/1", nil), "crm", crmSecret, now, "nonce-0013")
			r.URL.Path = "/v1/bindings/2"
			return r
		}, "bad_signature"},
		{"another app's name", func() *http.Request {
			return sign(e.request("POST", "/v1/bindings", body), "ops", crmSecret, now, "nonce-0014")
		}, "bad_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(tt.req())
			if res.status != http.StatusUnauthorized || res.err.Code != tt.reason {
				t.Errorf("got %d %s (%s), want 401 %s", res.status, res.err.Code, res.err.Message, tt.reason)
			}
		})
	}
	if n := count(t, e, `SELECT count(*) FROM bindings`); n != 0 {
		t.Errorf("refused requests made %d bindings", n)
	}

	// Exactly ±300 s is accepted.
	for i, at := range []time.Time{now.Add(-300 * time.Second), now.Add(300 * time.Second)} {
		r := sign(e.request("GET", "/v1/bindings", nil), "crm", crmSecret, at, "edge-nonce-"+strconv.Itoa(i))
		if res := e.do(r); res.status != 200 {
			t.Errorf("timestamp %+ds: %d %s", int(at.Sub(now).Seconds()), res.status, res.body)
		}
	}

	// A replayed request: the first succeeds, the same bytes again are refused.
	signed := sign(e.request("POST", "/v1/bindings", body), "crm", crmSecret, now, "replay-nonce-1")
	replay := e.request("POST", "/v1/bindings", body)
	replay.Header = signed.Header.Clone()
	if res := e.do(signed); res.status != 201 {
		t.Fatalf("first: %d %s", res.status, res.body)
	}
	if res := e.do(replay); res.status != 401 || res.err.Code != "replayed_nonce" {
		t.Errorf("replay: %d %s", res.status, res.body)
	}
	// A nonce is per app: another app may use the same one.
	r := sign(e.request("GET", "/v1/bindings?tenant=acme", nil), "ops", opsSecret, now, "replay-nonce-1")
	if res := e.do(r); res.status != 200 {
		t.Errorf("same nonce, other app: %d %s", res.status, res.body)
	}
	// A nonce is spent only by a request whose signature holds: a forged request
	// cannot burn a nonce the real client is about to use.
	forged := sign(e.request("GET", "/v1/bindings", nil), "crm", opsSecret, now, "future-nonce")
	if res := e.do(forged); res.err.Code != "bad_signature" {
		t.Fatalf("forged: %d %s", res.status, res.body)
	}
	if res := e.do(sign(e.request("GET", "/v1/bindings", nil), "crm", crmSecret, now, "future-nonce")); res.status != 200 {
		t.Errorf("after a forged use of the nonce: %d %s", res.status, res.body)
	}
}

// Nonces outlive the process: a request captured before a restart is refused after
// it, within the timestamp window.
func TestAPINonceSurvivesRestart(t *testing.T) {
	e := newAPIEnv(t, pool.BindingRules{}, apiNumbers())
	const body = `{"mode":"AXB","a":"+8613800000001","b":"+8613900000001"}`
	first := e.request("POST", "/v1/bindings", body)
	if err := apiclient.SignWithNonce(first, "crm", crmSecret, apiT0, "captured-nonce"); err != nil {
		t.Fatal(err)
	}
	captured := first.Header.Clone()
	if res := e.do(first); res.status != 201 {
		t.Fatalf("first: %d %s", res.status, res.body)
	}
	e.close()
	e.clk.Add(2 * time.Minute)
	e.open(pool.BindingRules{}, apiNumbers())
	replay := e.request("POST", "/v1/bindings", body)
	replay.Header = captured
	if res := e.do(replay); res.status != 401 || res.err.Code != "replayed_nonce" {
		t.Errorf("replay after restart: %d %s", res.status, res.body)
	}
	if n := count(t, e, `SELECT count(*) FROM bindings`); n != 1 {
		t.Errorf("%d bindings, want 1", n)
	}
	// Old nonces are pruned once their timestamps leave the window.
	e.clk.Add(10 * time.Minute)
	if res := e.do(e.signed("GET", "/v1/bindings", nil)); res.status != 200 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if n := count(t, e, `SELECT count(*) FROM api_nonces WHERE nonce = 'captured-nonce'`); n != 0 {
		t.Errorf("an expired nonce is kept")
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 32
		}
	}
	return string(b)
}
