package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"callgate/pool"
	"callgate/routing"
	"callgate/web/apiclient"
)

// memNonces is an in-memory NonceStore for fuzzing the signature check without a
// database write per input.
type memNonces struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *memNonces) UseNonce(_ context.Context, app, nonce string, _, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[app+"\x00"+nonce] {
		return pool.ErrExists
	}
	m.seen[app+"\x00"+nonce] = true
	return nil
}

// FuzzCanonical checks the canonical form of signed requests: it never panics, it
// is always six lines, the canonical query is a fixed point that does not depend
// on parameter order, and whatever a client signs the server verifies — and a
// changed body it refuses.
func FuzzCanonical(f *testing.F) {
	f.Add("GET", "/v1/bindings", "tenant=acme&limit=10", []byte(""), "1795165200", "0123456789abcdef")
	f.Add("POST", "/v1/bindings", "", []byte(`{"mode":"AXN","b":"+8613900000001"}`), "1795165200", "nonce-1")
	f.Add("GET", "/v1/bindings", "party=%2B8613800000001&virtual=+86755&b=&a", []byte{}, "1", "nonce_nonce")
	f.Add("GET", "/v1/b%C3%A9", "k=%E4%BD%A0%E5%A5%BD&k=a&K=b&=x&&", []byte{0xff}, "0", "~~~~~~~~")
	f.Add("GET", "/v1/bindings", "a=%zz", []byte(nil), "1", "nonce-2")
	f.Add("GET\n", "/x\ny", "a;b", []byte("x"), "1\n", "n\r")
	store := &memNonces{seen: map[string]bool{}}
	h, err := NewInternal(InternalDeps{Bindings: (*pool.SQLiteStore)(nil), Nonces: store, Policy: &pool.Policy{},
		Apps: []APIApp{{Name: "crm", Secret: crmSecret, Tenants: []string{"acme"}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, rawQuery string, body []byte, ts, nonce string) {
		c, err := apiclient.Canonical(method, path, rawQuery, body, ts, nonce)
		if err != nil {
			if !errors.Is(err, apiclient.ErrCanonical) {
				t.Fatalf("Canonical error %v is not ErrCanonical", err)
			}
			return
		}
		lines := strings.Split(c, "\n")
		if len(lines) != 6 || lines[0] != method || lines[1] != path || lines[4] != ts || lines[5] != nonce || !isLowerHex(lines[3], 64) {
			t.Fatalf("canonical %q is not six lines of the request", c)
		}
		q := lines[2]
		if again, err := apiclient.CanonicalQuery(q); err != nil || again != q {
			t.Fatalf("canonical query %q is not a fixed point: %q, %v", q, again, err)
		}
		if strings.Trim(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%=&") != "" {
			t.Fatalf("canonical query %q holds characters outside RFC 3986's unreserved set", q)
		}
		parts := strings.Split(rawQuery, "&")
		slices.Reverse(parts)
		if rev, err := apiclient.CanonicalQuery(strings.Join(parts, "&")); err != nil || rev != q {
			t.Fatalf("parameter order changes the canonical query: %q vs %q (%v)", rev, q, err)
		}

		// Round trip through the server's check, for requests a client can send.
		u, err := url.Parse("http://callgate" + path)
		if err != nil || u.Path == "" || u.EscapedPath() != path || !validMethod(method) {
			return
		}
		u.RawQuery = rawQuery
		if !validNonce(nonce) {
			nonce = apiclient.NewNonce()
		}
		now := time.Unix(1795165200, 0)
		req := &http.Request{Method: method, URL: u, Header: http.Header{}, Body: http.NoBody}
		if len(body) > 0 {
			req.Body = nopCloser{bytes.NewReader(body)}
		}
		if err := apiclient.SignWithNonce(req, "crm", crmSecret, now, nonce); err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if _, err := h.verify(context.Background(), req, body, now); err != nil {
			var ae *authError
			if errors.As(err, &ae) && ae.reason == authReplayedNonce {
				return // the fuzzer repeated a nonce
			}
			t.Fatalf("server refused what the client signed: %v", err)
		}
		tampered := append(slices.Clone(body), 'x')
		req.Header.Set(apiclient.HeaderNonce, apiclient.NewNonce())
		if _, err := h.verify(context.Background(), req, tampered, now); err == nil {
			t.Fatal("server accepted a changed body")
		}
	})
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// validMethod reports whether m is an HTTP token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// FuzzCreateBindingJSON sends arbitrary bodies, correctly signed, to POST
// /v1/bindings over a real store: every answer is a 201 with a well-formed
// binding or a JSON error of an expected status; a 400 about a field names it.
func FuzzCreateBindingJSON(f *testing.F) {
	for _, s := range []string{
		`{"mode":"AXN","b":"+8613900000001"}`,
		`{"mode":"AXB","a":"+8613800000001","b":"+8613900000001","expiry":{"type":"after_bind","seconds":60}}`,
		`{"mode":"axyb","a":"008613800000002","b":"86 139 0000 0002","city":"Shenzhen","channel":"sales","expiry":{"type":"at","at":"2030-01-01T00:00:00Z"}}`,
		`{"mode":"AXB","a":"+8613800000001","b":"+8613900000001","x":"+8675561000001","idempotency_key":"k1"}`,
		`{"mode":"AXN","b":"+8613900000001","expiry":{"type":"after_last_call","seconds":1e3}}`,
		`{"mode":"AXN","b":"+8613900000001","tenant":"globex"}`,
		`{"mode":"AXN","b":null,"a":[],"expiry":{}}`,
		`{"mode":"AXN","b":"+8613900000001"}{}`,
		`[{"mode":"AXN"}]`, `"x"`, `null`, `{`, ``, "\x00\xff",
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	s, err := pool.OpenSQLite(ctx, filepath.Join(f.TempDir(), "fuzz.db"), pool.WithClock(func() time.Time { return apiT0 }))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if err := s.SyncVirtualNumbers(ctx, apiNumbers()); err != nil {
		f.Fatal(err)
	}
	h, err := NewInternal(InternalDeps{Bindings: s, Nonces: s, Policy: testPolicy(f), Apps: testApps,
		Now: func() time.Time { return apiT0 }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/bindings", bytes.NewReader(body))
		if err := apiclient.Sign(req, "crm", crmSecret, apiT0); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		out := rec.Body.Bytes()
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		switch res.StatusCode {
		case http.StatusCreated:
			var b apiclient.Binding
			if err := json.Unmarshal(out, &b); err != nil {
				t.Fatalf("201 body %q: %v", out, err)
			}
			for _, n := range []string{b.B, b.X} {
				if norm, err := routing.NormalizeE164(n); err != nil || norm != n {
					t.Fatalf("binding %+v holds a number that is not E.164: %q", b, n)
				}
			}
			if b.Tenant != "acme" || b.State != apiclient.StateActive && b.State != apiclient.StateExpired && b.State != apiclient.StateEnded {
				t.Fatalf("binding %+v", b)
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusConflict, http.StatusRequestEntityTooLarge:
			var eb apiclient.ErrorBody
			if err := json.Unmarshal(out, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
				t.Fatalf("%d body %q is not a JSON error", res.StatusCode, out)
			}
			if eb.Error.Code == "invalid_field" && eb.Error.Field == "" {
				t.Fatalf("invalid_field without a field: %q", out)
			}
		default:
			t.Fatalf("status %d for body %q: %s", res.StatusCode, body, out)
		}
	})
}
