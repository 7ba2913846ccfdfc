package apiclient

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The worked example of docs/api.md: these values are quoted there, and the
// openssl script docs/examples/sign.sh must agree with them.
const (
	exampleSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	exampleTS     = "1795165200" // 2026-11-20T09:00:00Z
	exampleBody   = `{"mode":"AXB","tenant":"acme","a":"+8613800000001","b":"+8613900000002","expiry":{"type":"after_bind","seconds":3600}}`
	exampleNonce  = "4f1c2a9e7d3b5a60c8e1f2a3b4c5d6e7"
	exampleHash   = "7ebb9f68728866cc3037726d7ee8a08d6e930deb8a6b6b72cd1e0f41d081d9cb"
	exampleSig    = "990c926606fef760be84f60194b9cd7e389c02ecc5275828a01bd370aec5f7f5"

	exampleGetQuery = "tenant=acme&party=%2B8613800000001&limit=20"
	exampleGetNonce = "9a8b7c6d5e4f30211203f4e5d6c7b8a9"
	exampleGetCanon = "limit=20&party=%2B8613800000001&tenant=acme"
	exampleGetSig   = "cbe2dfc09d2e598f3a51e477b3aec87748d536e8fbe02edbb33bdb5d93430c93"
)

func TestWorkedExample(t *testing.T) {
	c, err := Canonical("POST", "/v1/bindings", "", []byte(exampleBody), exampleTS, exampleNonce)
	if err != nil {
		t.Fatal(err)
	}
	want := "POST\n/v1/bindings\n\n" + exampleHash + "\n" + exampleTS + "\n" + exampleNonce
	if c != want {
		t.Errorf("canonical = %q, want %q", c, want)
	}
	if got := Signature(exampleSecret, c); got != exampleSig {
		t.Errorf("signature = %s, want %s", got, exampleSig)
	}
	req, err := http.NewRequest("POST", "http://127.0.0.1:8081/v1/bindings", strings.NewReader(exampleBody))
	if err != nil {
		t.Fatal(err)
	}
	if err := SignWithNonce(req, "crm", exampleSecret, time.Unix(1795165200, 0), exampleNonce); err != nil {
		t.Fatal(err)
	}
	for h, v := range map[string]string{HeaderApp: "crm", HeaderTimestamp: exampleTS, HeaderNonce: exampleNonce, HeaderSignature: exampleSig} {
		if got := req.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	// The body is still there to send.
	if b, _ := io.ReadAll(req.Body); string(b) != exampleBody {
		t.Errorf("body after signing = %q", b)
	}

	get, err := http.NewRequest("GET", "http://127.0.0.1:8081/v1/bindings?"+exampleGetQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignWithNonce(get, "crm", exampleSecret, time.Unix(1795165200, 0), exampleGetNonce); err != nil {
		t.Fatal(err)
	}
	if got := get.Header.Get(HeaderSignature); got != exampleGetSig {
		t.Errorf("GET signature = %s, want %s", got, exampleGetSig)
	}
	if q, _ := CanonicalQuery(exampleGetQuery); q != exampleGetCanon {
		t.Errorf("canonical query = %q, want %q", q, exampleGetCanon)
	}
}

// docs/examples/sign.sh computes the worked example's signatures with openssl.
func TestSignScriptAgrees(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	script, err := filepath.Abs("../../docs/examples/sign.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		nonce string
		sig   string
	}{
		{[]string{"POST", "/v1/bindings", "", exampleBody}, exampleNonce, exampleSig},
		{[]string{"GET", "/v1/bindings", exampleGetCanon}, exampleGetNonce, exampleGetSig},
	} {
		cmd := exec.Command("sh", append([]string{script}, tc.args...)...)
		cmd.Env = append(os.Environ(), "CALLGATE_DRY_RUN=1", "CALLGATE_APP=crm", "CALLGATE_SECRET="+exampleSecret,
			"CALLGATE_TIMESTAMP="+exampleTS, "CALLGATE_NONCE="+tc.nonce)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sign.sh: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("X-Callgate-Signature: "+tc.sig+"\n")) {
			t.Errorf("sign.sh %v printed:\n%s\nwant signature %s", tc.args[:2], out, tc.sig)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		raw, want string
		bad       bool
	}{
		{"", "", false},
		{"b=2&a=1", "a=1&b=2", false},
		{"a=2&a=10&a=1", "a=1&a=10&a=2", false}, // by encoded value, as text
		{"party=%2B86138", "party=%2B86138", false},
		{"party=+86138", "party=%2086138", false}, // "+" is a space
		{"q=a%20b&q=a+b", "q=a%20b&q=a%20b", false},
		{"k=%e4%bd%a0", "k=%E4%BD%A0", false},               // upper-case hex
		{"k=~-._AZaz09", "k=~-._AZaz09", false},             // unreserved stay
		{"k=!*'()/:@", "k=%21%2A%27%28%29%2F%3A%40", false}, // reserved are encoded
		{"flag&x=1&&", "flag=&x=1", false},                  // key without value, empty parts
		{"=v", "=v", false},
		{"B=1&a=1", "B=1&a=1", false}, // byte order: upper case first
		{"a=%zz", "", true},
		{"a=1;b=2", "", true},
	}
	for _, tt := range tests {
		got, err := CanonicalQuery(tt.raw)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("CanonicalQuery(%q) = %q, %v; want %q (error %v)", tt.raw, got, err, tt.want, tt.bad)
		}
	}
	if _, err := Canonical("GET", "/a\nb", "", nil, "1", "nonce-123"); err == nil {
		t.Error("a path with a line break was canonicalised")
	}
}

func TestSignRewindsBody(t *testing.T) {
	// A body without GetBody (not from http.NewRequest) is read and put back.
	req, _ := http.NewRequest("PATCH", "http://x/v1/bindings/1", nil)
	req.Body = io.NopCloser(strings.NewReader(`{"b":"+8613900000009"}`))
	if err := Sign(req, "crm", exampleSecret, time.Now()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rc, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(rc); string(b) != `{"b":"+8613900000009"}` {
			t.Errorf("GetBody = %q", b)
		}
	}
	if n := req.Header.Get(HeaderNonce); len(n) != 32 {
		t.Errorf("nonce %q", n)
	}
	other, _ := http.NewRequest("GET", "http://x/v1/bindings", nil)
	if err := Sign(other, "crm", exampleSecret, time.Now()); err != nil {
		t.Fatal(err)
	}
	if other.Header.Get(HeaderNonce) == req.Header.Get(HeaderNonce) {
		t.Error("two requests got the same nonce")
	}
}
