package web

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestAssetsServedWithTypesAndCaching(t *testing.T) {
	h := Assets()
	tests := []struct {
		path, ctype string
		cors        bool
	}{
		{"/", "text/html; charset=utf-8", false},
		{"/index.html", "text/html; charset=utf-8", false},
		{"/app.js", "text/javascript; charset=utf-8", false},
		{"/app.css", "text/css; charset=utf-8", false},
		{"/sdk/callgate.js", "text/javascript; charset=utf-8", true},
		{"/sdk/callgate.d.ts", "text/plain; charset=utf-8", true},
		{"/sdk/package.json", "application/json; charset=utf-8", true},
		{"/sdk/README.md", "text/markdown; charset=utf-8", true},
	}
	for _, tt := range tests {
		res := get(t, h, "GET", tt.path, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s = %d, %d bytes", tt.path, res.StatusCode, len(body))
			continue
		}
		if got := res.Header.Get("Content-Type"); got != tt.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.path, got, tt.ctype)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", tt.path, got)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", tt.path, got)
		}
		acao := res.Header.Get("Access-Control-Allow-Origin")
		if tt.cors && acao != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want *", tt.path, acao)
		}
		if !tt.cors && acao != "" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want none (only /sdk/ is open)", tt.path, acao)
		}

		// The ETag lets a browser revalidate cheaply.
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", tt.path)
			continue
		}
		res = get(t, h, "GET", tt.path, map[string]string{"If-None-Match": etag})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag = %d, want 304", tt.path, res.StatusCode)
		}
		res = get(t, h, "HEAD", tt.path, nil)
		body, _ = io.ReadAll(res.Body)
		if res.StatusCode != 200 || len(body) != 0 || res.Header.Get("Content-Type") != tt.ctype {
			t.Errorf("HEAD %s = %d, %d bytes, %q", tt.path, res.StatusCode, len(body), res.Header.Get("Content-Type"))
		}
	}
}

func TestAssetsRefuseTheRest(t *testing.T) {
	h := Assets()
	for path, want := range map[string]int{
		"/nope":                  404,
		"/sdk/":                  404,
		"/sdk/callgate.test.mjs": 404, // the SDK's tests stay out
		"/static/index.html":     404,
		"/sdk/../static/app.js":  404,
		"/sdk/callgate.js/":      404,
		"/sdk/callgate.js?v=0.1": 200,
	} {
		if res := get(t, h, "GET", path, nil); res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, res.StatusCode, want)
		}
	}
	res := get(t, h, "POST", "/sdk/callgate.js", nil)
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /sdk/callgate.js = %d, want 405", res.StatusCode)
	}
	res = get(t, h, "OPTIONS", "/sdk/callgate.js", map[string]string{"Origin": "https://crm.example.com"})
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("OPTIONS /sdk/callgate.js = %d, ACAO %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestAgentPageHeaders(t *testing.T) {
	res := get(t, Assets(), "GET", "/", nil)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "connect-src 'self'", "script-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if res := get(t, Assets(), "GET", "/sdk/callgate.js", nil); res.Header.Get("Content-Security-Policy") != "" {
		t.Error("the SDK module should carry no page CSP")
	}
}

// The page refers only to assets that are served, and its JavaScript imports only
// modules that are served.
func TestAgentPageReferencesExist(t *testing.T) {
	h := Assets()
	page := mustBody(t, h, "/")
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("found only %d references in the page", len(refs))
	}
	imports := regexp.MustCompile(`(?m)(?:^\s*import\s[^;]*?from\s*|\bimport\s*\(\s*)["']([^"']+)["']`)
	seen := map[string]bool{}
	var check func(from, ref string)
	check = func(from, ref string) {
		if strings.HasPrefix(ref, "#") || strings.Contains(ref, "://") || strings.HasPrefix(ref, "data:") {
			return
		}
		if !strings.HasPrefix(ref, "/") {
			t.Errorf("%s refers to %q: use absolute paths, the page may be served at / or /index.html", from, ref)
			return
		}
		if seen[ref] {
			return
		}
		seen[ref] = true
		res := get(t, h, "GET", ref, nil)
		if res.StatusCode != 200 {
			t.Errorf("%s refers to %s, which is %d", from, ref, res.StatusCode)
			return
		}
		if strings.HasSuffix(ref, ".js") {
			body, _ := io.ReadAll(res.Body)
			for _, m := range imports.FindAllStringSubmatch(string(body), -1) {
				check(ref, m[1])
			}
		}
	}
	for _, m := range refs {
		check("/", m[1])
	}
	for _, want := range []string{"/app.js", "/app.css", "/sdk/callgate.js"} {
		if !seen[want] {
			t.Errorf("the page never loads %s", want)
		}
	}
}

// The element ids browser tests drive the page by.
func TestAgentPageHasTestIDs(t *testing.T) {
	page := mustBody(t, Assets(), "/")
	for _, id := range []string{"tenant", "agent", "password", "login", "status", "seats", "number", "dial",
		"hangup", "mute", "hold", "transfer", "keypad", "call-state", "call-timer", "call-code", "mic-level",
		"history", "feedback-kind", "feedback-note", "feedback-send", "error"} {
		if n := len(regexp.MustCompile(`\sid="`+regexp.QuoteMeta(id)+`"`).FindAllString(page, -1)); n != 1 {
			t.Errorf("id %q appears %d times in the page, want 1", id, n)
		}
	}
	for _, d := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"} {
		if !strings.Contains(page, `data-digit="`+d+`"`) {
			t.Errorf("keypad lacks data-digit=%q", d)
		}
	}
	for _, kind := range []string{"no_ring", "noise", "one_way_audio", "wrong_number", "other"} {
		if !strings.Contains(page, `value="`+kind+`"`) {
			t.Errorf("feedback form lacks kind %q", kind)
		}
	}
}

func mustBody(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	res := get(t, h, "GET", path, nil)
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s = %d", path, res.StatusCode)
	}
	return string(b)
}

// nodeOK returns node's path if node 18 or newer (node:test) is installed.
func nodeOK(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Skipf("node --version: %v", err)
	}
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".", 2)[0])
	if major < 18 {
		t.Skipf("node %s is too old for node:test", strings.TrimSpace(string(out)))
	}
	return node
}

// Every embedded JavaScript file parses as an ES module (plain `node --check file.js`
// does not reliably treat a file outside a "type": "module" package as a module).
func TestJavaScriptParses(t *testing.T) {
	node := nodeOK(t)
	err := fs.WalkDir(assetFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".mjs")) {
			return err
		}
		src, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		cmd := exec.Command(node, "--input-type=module", "--check")
		cmd.Stdin = bytes.NewReader(src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v\n%s", p, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The SDK's protocol tests (sdk/callgate.test.mjs, fake WebSocket and WebRTC) run with
// the Go suite, so `make test` covers them.
func TestSDKNodeTests(t *testing.T) {
	node := nodeOK(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "sdk/callgate.test.mjs")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test sdk/callgate.test.mjs: %v\n%s", err, out)
	}
}
