package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// The agent page (static/) and the JS SDK (sdk/), embedded: no build step, nothing
// to install next to the binary.
//
//go:embed static sdk admin
var assetFS embed.FS

// asset is one embedded file ready to serve.
type asset struct {
	name  string // file name, for ServeContent
	body  []byte
	ctype string
	etag  string
	sdk   bool // under /sdk/: CORS open, so pages on other origins can import it
}

// assetTypes are the Content-Types of the files we ship; mime's table is the fallback.
var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json; charset=utf-8",
	".ts":   "text/plain; charset=utf-8", // callgate.d.ts: readable in the browser
	".md":   "text/markdown; charset=utf-8",
	".svg":  "image/svg+xml",
	".ico":  "image/x-icon",
	".png":  "image/png",
}

// pageCSP keeps the agent page to its own origin (scripts, styles, the websocket) and
// out of other sites' frames: it holds a microphone and a seat.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

type assets struct {
	byPath map[string]*asset
}

// Assets serves the agent page and the JS SDK:
//
//	/                   static/index.html (also /index.html)
//	/app.js, /app.css   the rest of static/
//	/sdk/callgate.js    sdk/: the SDK, its types, package.json and README
//
// GET and HEAD only; every response has Cache-Control: no-cache and an ETag, so a
// browser revalidates (304) instead of running a stale SDK after an upgrade. /sdk/*
// carries Access-Control-Allow-Origin: *, so business pages on other origins can
// import the module; the page itself does not. Anything else is 404. Each call
// builds its own handler (hashing the embedded files once): call it once at start.
func Assets() http.Handler { return loadAssets() }

func loadAssets() *assets {
	a := &assets{byPath: map[string]*asset{}}
	add := func(dir, prefix string, sdk bool) {
		err := fs.WalkDir(assetFS, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel := strings.TrimPrefix(p, dir+"/")
			if isTestFile(rel) {
				return nil
			}
			body, err := assetFS.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(body)
			ext := path.Ext(rel)
			ctype := assetTypes[ext]
			if ctype == "" {
				ctype = mime.TypeByExtension(ext)
			}
			if ctype == "" {
				ctype = "application/octet-stream"
			}
			a.byPath[prefix+rel] = &asset{
				name:  path.Base(rel),
				body:  body,
				ctype: ctype,
				etag:  `"` + hex.EncodeToString(sum[:12]) + `"`,
				sdk:   sdk,
			}
			return nil
		})
		if err != nil {
			panic("web: embedded assets: " + err.Error()) // only a broken build gets here
		}
	}
	add("static", "/", false)
	add("sdk", "/sdk/", true)
	if idx, ok := a.byPath["/index.html"]; ok {
		a.byPath["/"] = idx
	}
	return a
}

// isTestFile reports files that live next to the SDK but are not served: its tests.
func isTestFile(rel string) bool {
	base := path.Base(rel)
	return strings.Contains(base, ".test.") || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")
}

func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := a.byPath[r.URL.Path]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if f.sdk {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		if f.sdk {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			h.Set("Access-Control-Max-Age", "86400")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(f.ctype, "text/html") {
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("Referrer-Policy", "no-referrer")
	}
	// ServeContent answers If-None-Match with 304, HEAD without a body, and ranges.
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}
