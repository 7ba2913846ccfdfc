package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"callgate/configs"
	"callgate/web/apiclient"

	"github.com/gorilla/websocket"
)

// makeCert runs `callgate cert` for hosts into dir and returns the paths.
func makeCert(t *testing.T, dir, hosts string, extra ...string) (certPath, keyPath string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args := append([]string{"cert", "--host", hosts, "--out", dir}, extra...)
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("callgate cert exited %d: %s", code, stderr.String())
	}
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertCommand: `callgate cert` writes a self-signed ECDSA P-256 server
// certificate for the hosts given and its key with mode 0600, and does not overwrite
// a pair without --force.
func TestCertCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	certPath, keyPath := makeCert(t, dir, "localhost, 127.0.0.1,::1,Callgate.Example")
	c := readCert(t, certPath)
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if !slices.Equal(c.DNSNames, []string{"localhost", "callgate.example"}) {
		t.Errorf("DNS names %q", c.DNSNames)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"127.0.0.1", "::1"}) {
		t.Errorf("IPs %q", ips)
	}
	if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || c.IsCA {
		t.Errorf("ext key usage %v, CA %v", c.ExtKeyUsage, c.IsCA)
	}
	if now := time.Now(); c.NotBefore.After(now) || c.NotAfter.Before(now.Add(89*24*time.Hour)) {
		t.Errorf("valid %s to %s", c.NotBefore, c.NotAfter)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil || !bytes.Equal(c.RawIssuer, c.RawSubject) {
		t.Errorf("not self-signed: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c)
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := c.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: roots}); err == nil {
		t.Error("the certificate is valid for a host not asked for")
	}
	st, err := os.Stat(keyPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, %v", st.Mode().Perm(), err)
	}
	if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		t.Fatalf("not a pair: %v", err)
	}

	before, _ := os.ReadFile(certPath)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"cert", "--out", dir}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "exists: pass --force") {
		t.Fatalf("second run without --force: %d %s", code, stderr.String())
	}
	if after, _ := os.ReadFile(certPath); !bytes.Equal(before, after) {
		t.Fatal("a refused run changed cert.pem")
	}
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	makeCert(t, dir, "localhost", "--force")
	if after, _ := os.ReadFile(certPath); bytes.Equal(before, after) {
		t.Fatal("--force did not replace cert.pem")
	}
	if st, err := os.Stat(keyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("replaced key mode %v, %v", st.Mode().Perm(), err)
	}
}

func TestCertUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"cert"},
		{"cert", "--out", dir, "--host", "exa mple.com"},
		{"cert", "--out", dir, "--host", " , "},
		{"cert", "--out", dir, "--days", "0"},
		{"cert", "--out", dir, "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("callgate %v exited %d, want 2 (%s)", args, code, stderr.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors wrote %d files", len(entries))
	}
}

// TestCheckTLSFiles: `callgate check` names the file and line of a listener's
// certificate or key that is missing or unreadable, and shows a good one.
func TestCheckTLSFiles(t *testing.T) {
	dir := t.TempDir()
	makeCert(t, filepath.Join(dir, "tls"), "localhost")
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := writeFile(t, dir, "bad.yaml", "web:\n  public:\n    tls:\n      cert_file: tls/missing.pem\n      key_file: tls/key.pem\n"+
		"  internal:\n    tls:\n      cert_file: tls/cert.pem\n      key_file: adir\n")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"check", "--config", bad}, &stdout, &stderr); code != 1 {
		t.Fatalf("check exited %d on missing files: %s", code, stdout.String())
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`bad\.yaml:4: web: public: tls: cert_file: cannot read \S*tls/missing\.pem: no such file or directory`),
		regexp.MustCompile(`bad\.yaml:9: web: internal: tls: key_file: cannot read \S*adir: is a directory`),
	} {
		if !re.MatchString(stderr.String()) {
			t.Errorf("stderr does not match %s:\n%s", re, stderr.String())
		}
	}

	good := writeFile(t, dir, "good.yaml", "web:\n  public:\n    tls: {cert_file: tls/cert.pem, key_file: tls/key.pem}\n")
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"check", "--config", good}, &stdout, &stderr); code != 0 {
		t.Fatalf("check exited %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "tls: public http serves HTTPS with tls/cert.pem") {
		t.Errorf("summary does not show the public listener's TLS:\n%s", stdout.String())
	}
}

// tlsRig is callgate serving both HTTP listeners over TLS with a certificate made by
// `callgate cert`.
type tlsRig struct {
	public, internal string // https://127.0.0.1:port
	roots            *x509.CertPool
	client           *http.Client
}

const (
	tlsAgentToken = "tok-alice-tls-0123456789abcdef"
	tlsAPISecret  = "crm-secret-0123456789abcdef0123456789abcdef"
)

func newTLSRig(t *testing.T) *tlsRig {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath := makeCert(t, filepath.Join(dir, "tls"), "localhost,127.0.0.1")
	t.Setenv("TLS_ALICE_TOKEN", tlsAgentToken)
	t.Setenv("TLS_CRM_SECRET", tlsAPISecret)
	text := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: 127.0.0.1:0
web:
  public:
    tls: {cert_file: %s, key_file: %s}
  internal:
    tls: {cert_file: tls/cert.pem, key_file: tls/key.pem}
media:
  bind_address: 127.0.0.1
  port_min: 36000
  port_max: 36998
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
    seats: 3
agents:
  - tenant: acme
    name: alice
    token_env: TLS_ALICE_TOKEN
api:
  apps:
    - name: crm
      tenants: [acme]
      secret_env: TLS_CRM_SECRET
  agent_tokens: {default_ttl: 1h, max_ttl: 2h}
`, certPath, keyPath, filepath.Join(dir, "callgate.db"))
	path := writeFile(t, dir, "callgate.yaml", text)
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &lineWriter{}, &lineWriter{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("callgate logs:\n%s", tail(logs.String(), 6000))
		}
	})
	r := &tlsRig{
		public:   out.wait(t, regexp.MustCompile(`page at (https://127\.0\.0\.1:\d+)/`))[1],
		internal: out.wait(t, regexp.MustCompile(`business API at (https://127\.0\.0\.1:\d+)/v1/`))[1],
		roots:    x509.NewCertPool(),
	}
	r.roots.AddCert(readCert(t, certPath))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.roots}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	r.client = &http.Client{Transport: tr, Timeout: 15 * time.Second}
	return r
}

func (r *tlsRig) get(t *testing.T, url string) *http.Response {
	t.Helper()
	res, err := r.client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// wss opens the agent websocket over TLS and logs in with auth.
func (r *tlsRig) wss(t *testing.T, auth map[string]any) (*websocket.Conn, map[string]any) {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: r.roots}, HandshakeTimeout: 15 * time.Second}
	c, _, err := d.Dial("wss"+strings.TrimPrefix(r.public, "https")+"/ws", http.Header{"Origin": {r.public}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	auth["type"], auth["v"] = "auth", 1
	if err := c.WriteJSON(auth); err != nil {
		t.Fatal(err)
	}
	return c, readWS(t, c)
}

func readWS(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	var m map[string]any
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// api sends a request signed by the rig's app to the internal listener.
func (r *tlsRig) api(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, r.internal+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := apiclient.Sign(req, "crm", tlsAPISecret, time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %v", method, path, res.StatusCode, err)
	}
	return res.StatusCode, out
}

// TestTLSListeners serves both listeners over TLS: /healthz over HTTPS, the agent
// websocket over WSS, TLS 1.2 at least; each listener serves only its own paths; and
// a token issued through the business API logs an agent in until it is revoked,
// which ends the agent's session.
func TestTLSListeners(t *testing.T) {
	r := newTLSRig(t)

	res := r.get(t, r.public+"/healthz")
	if res.StatusCode != 200 || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("GET /healthz over HTTPS: %d, TLS %+v", res.StatusCode, res.TLS)
	}

	t.Run("TLS 1.1 refused", func(t *testing.T) {
		old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.roots, MaxVersion: tls.VersionTLS11}}}
		for _, u := range []string{r.public, r.internal} {
			if res, err := old.Get(u + "/healthz"); err == nil {
				res.Body.Close()
				t.Errorf("%s accepted TLS 1.1", u)
			}
		}
	})

	t.Run("plain HTTP on a TLS port", func(t *testing.T) {
		res, err := http.Get("http" + strings.TrimPrefix(r.public, "https") + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				t.Fatal("the TLS listener served plain HTTP")
			}
		}
	})

	t.Run("listener separation", func(t *testing.T) {
		publicOnly := []string{"/healthz", "/readyz", "/metrics", "/", "/sdk/callgate.js", "/ws"}
		internalOnly := []string{"/v1/bindings", "/v1/tenants/acme/agents/alice/tokens", "/v1/tokens/0123456789abcdef"}
		for _, p := range publicOnly {
			if res := r.get(t, r.public+p); res.StatusCode == 404 {
				t.Errorf("public %s: 404, want it served there", p)
			}
			if res := r.get(t, r.internal+p); res.StatusCode != 404 {
				t.Errorf("internal %s: %d, want 404", p, res.StatusCode)
			}
		}
		for _, p := range internalOnly {
			if res := r.get(t, r.internal+p); res.StatusCode != 401 {
				t.Errorf("internal %s unsigned: %d, want 401", p, res.StatusCode)
			}
			if res := r.get(t, r.public+p); res.StatusCode != 404 {
				t.Errorf("public %s: %d, want 404", p, res.StatusCode)
			}
		}
		// The websocket upgrade is refused on the internal listener.
		d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: r.roots}}
		if c, res, err := d.Dial("wss"+strings.TrimPrefix(r.internal, "https")+"/ws", http.Header{"Origin": {r.internal}}); err == nil {
			c.Close()
			t.Error("the internal listener upgraded /ws")
		} else if res == nil || res.StatusCode != 404 {
			t.Errorf("internal /ws: %v, want 404", err)
		}
	})

	t.Run("WSS login with a static token", func(t *testing.T) {
		c, m := r.wss(t, map[string]any{"token": tlsAgentToken})
		if m["type"] != "ready" || m["agent"] != "alice" {
			t.Fatalf("login over WSS: %v", m)
		}
		c.Close()
	})

	t.Run("Token issued, used and revoked", func(t *testing.T) {
		status, tok := r.api(t, "POST", "/v1/tenants/acme/agents/bob/tokens", `{"ttl_seconds": 86400}`)
		if status != 201 || tok["ttl_seconds"] != 7200.0 {
			t.Fatalf("issue: %d %v (want the 2h cap)", status, tok)
		}
		c, m := r.wss(t, map[string]any{"token": tok["token"]})
		if m["type"] != "ready" || m["agent"] != "bob" || m["tenant"] != "acme" {
			t.Fatalf("login with the issued token: %v", m)
		}
		status, rev := r.api(t, "DELETE", "/v1/tokens/"+tok["id"].(string), "")
		if status != 200 || rev["state"] != "revoked" || rev["sessions_ended"] != 1.0 {
			t.Fatalf("revoke: %d %v", status, rev)
		}
		if m := readWS(t, c); m["type"] != "error" || m["code"] != "token_revoked" {
			t.Fatalf("session after revocation got %v", m)
		}
		if _, _, err := c.ReadMessage(); err == nil {
			t.Fatal("the session of a revoked token stays open")
		}
		if _, m := r.wss(t, map[string]any{"token": tok["token"]}); m["code"] != "bad_credentials" {
			t.Fatalf("login with the revoked token: %v", m)
		}
	})
}
