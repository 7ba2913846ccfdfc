// Package apiclient calls callgate's business API: it signs requests as the API
// wants them (Sign), and its Client makes and manages virtual-number bindings.
// The server verifies signatures with this package's Canonical and Signature, so
// both sides compute the same string by construction.
package apiclient

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request.
const (
	HeaderApp       = "X-Callgate-App"
	HeaderTimestamp = "X-Callgate-Timestamp" // unix seconds
	HeaderNonce     = "X-Callgate-Nonce"
	HeaderSignature = "X-Callgate-Signature" // lowercase hex HMAC-SHA256
)

// ErrCanonical means a request cannot be put in canonical form: a query that is
// not valid percent-encoding or uses ";" separators, or a part holding a newline.
var ErrCanonical = errors.New("cannot canonicalise request")

// Canonical returns the string a request's signature covers: six lines joined by
// "\n" — the method; the path as sent (percent-encoded); the canonical query (see
// CanonicalQuery); the lowercase hex SHA-256 of the body (of nothing, for a request
// without one); the timestamp; the nonce.
func Canonical(method, path, rawQuery string, body []byte, timestamp, nonce string) (string, error) {
	for _, part := range []string{method, path, timestamp, nonce} {
		if strings.ContainsAny(part, "\r\n") {
			return "", fmt.Errorf("%w: %q holds a line break", ErrCanonical, part)
		}
	}
	q, err := CanonicalQuery(rawQuery)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	return strings.Join([]string{method, path, q, hex.EncodeToString(sum[:]), timestamp, nonce}, "\n"), nil
}

// CanonicalQuery puts a raw query string in canonical form: each "&"-separated
// parameter is split at its first "=", key and value are decoded as
// application/x-www-form-urlencoded ("+" is a space, so send a plus as %2B) and
// re-encoded per RFC 3986 (A-Z a-z 0-9 - . _ ~ as they are, every other byte as %XX
// in upper case); the parameters are sorted by encoded key, then encoded value, and
// joined as "key=value" with "&". Empty parameters ("a=1&&b=2") are dropped; a key
// without "=" has an empty value. No query gives "".
func CanonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if strings.Contains(raw, ";") {
		return "", fmt.Errorf("%w: query holds \";\": separate parameters with \"&\"", ErrCanonical)
	}
	type param struct{ k, v string }
	var ps []param
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", fmt.Errorf("%w: query key %q: %v", ErrCanonical, k, err)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", fmt.Errorf("%w: query value %q: %v", ErrCanonical, v, err)
		}
		ps = append(ps, param{Encode(dk), Encode(dv)})
	}
	slices.SortFunc(ps, func(a, b param) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

// Encode percent-encodes s per RFC 3986: unreserved characters (A-Z a-z 0-9 - . _ ~)
// stay, every other byte becomes %XX with upper-case hex digits.
func Encode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// Signature returns the lowercase hex HMAC-SHA256 of canonical under secret.
func Signature(secret, canonical string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(canonical))
	return hex.EncodeToString(m.Sum(nil))
}

// NewNonce returns a fresh random nonce: 32 hex digits.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Sign signs req for app with secret at now: it sets X-Callgate-App,
// X-Callgate-Timestamp, a fresh X-Callgate-Nonce and X-Callgate-Signature. It reads
// the body to hash it and leaves req with an equal, rewindable body. A request may
// be sent once per signature: sign it again to retry.
func Sign(req *http.Request, app, secret string, now time.Time) error {
	return SignWithNonce(req, app, secret, now, NewNonce())
}

// SignWithNonce is Sign with a nonce chosen by the caller (tests, worked examples).
// A nonce is 8 to 64 characters of A-Z a-z 0-9 - . _ ~ and is never used twice.
func SignWithNonce(req *http.Request, app, secret string, now time.Time, nonce string) error {
	var body []byte
	switch {
	case req.GetBody != nil:
		rc, err := req.GetBody()
		if err != nil {
			return fmt.Errorf("apiclient: sign: body: %w", err)
		}
		body, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("apiclient: sign: body: %w", err)
		}
	case req.Body != nil && req.Body != http.NoBody:
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return fmt.Errorf("apiclient: sign: body: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req.ContentLength = int64(len(body))
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	canonical, err := Canonical(req.Method, req.URL.EscapedPath(), req.URL.RawQuery, body, ts, nonce)
	if err != nil {
		return fmt.Errorf("apiclient: sign: %w", err)
	}
	req.Header.Set(HeaderApp, app)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, Signature(secret, canonical))
	return nil
}
