package web

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"callgate/pool"
	"callgate/web/apiclient"
)

// MaxClockSkew is how far a signed request's timestamp may be from callgate's clock,
// either way.
const MaxClockSkew = 300 * time.Second

// Nonce limits: 8 to 64 of A-Z a-z 0-9 - . _ ~.
const (
	minNonce = 8
	maxNonce = 64
)

// verify checks the signature of r, whose body is body, at now, and records its
// nonce. It returns the app that signed r, or an *authError naming the reason, or
// the nonce store's error.
func (h *Internal) verify(ctx context.Context, r *http.Request, body []byte, now time.Time) (*apiApp, error) {
	var vals [4]string
	for i, name := range []string{apiclient.HeaderApp, apiclient.HeaderTimestamp, apiclient.HeaderNonce, apiclient.HeaderSignature} {
		vals[i] = r.Header.Get(name)
		if vals[i] == "" {
			return nil, &authError{authMissingHeader, "missing header " + name}
		}
	}
	appName, tsText, nonce, sig := vals[0], vals[1], vals[2], vals[3]
	app := h.apps[appName]
	if app == nil {
		return nil, &authError{authUnknownApp, fmt.Sprintf("no app %q is configured", truncate(appName, 64))}
	}
	ts, ok := parseUnix(tsText)
	if !ok {
		return nil, &authError{authBadTimestamp, "X-Callgate-Timestamp must be unix seconds"}
	}
	if skew := now.Sub(ts); skew > MaxClockSkew || skew < -MaxClockSkew {
		return nil, &authError{authBadTimestamp, fmt.Sprintf("timestamp %s is %s away from callgate's clock (%s); allowed: ±%d s",
			tsText, skew.Round(time.Second).Abs(), now.UTC().Format(time.RFC3339), int(MaxClockSkew.Seconds()))}
	}
	if !validNonce(nonce) {
		return nil, &authError{authBadNonce, fmt.Sprintf("X-Callgate-Nonce must be %d to %d of A-Z a-z 0-9 - . _ ~", minNonce, maxNonce)}
	}
	if !isLowerHex(sig, 64) {
		return nil, &authError{authBadSignature, "X-Callgate-Signature must be 64 lowercase hex digits (HMAC-SHA256)"}
	}
	canonical, err := apiclient.Canonical(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, body, tsText, nonce)
	if err != nil {
		return nil, &authError{authBadSignature, err.Error()}
	}
	want := apiclient.Signature(app.secret, canonical)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return nil, &authError{authBadSignature, "the signature does not match the request: sign method, path, canonical query, body hash, timestamp and nonce as docs/api.md says"}
	}
	// Only a request that proves the secret spends its nonce.
	err = h.nonces.UseNonce(ctx, app.name, nonce, ts, now.Add(-MaxClockSkew))
	if errors.Is(err, pool.ErrExists) {
		return nil, &authError{authReplayedNonce, "this nonce was already used: sign every request with a fresh one"}
	}
	if err != nil {
		return nil, fmt.Errorf("record nonce: %w", err)
	}
	return app, nil
}

// parseUnix parses unix seconds written as 1 to 12 decimal digits.
func parseUnix(s string) (time.Time, bool) {
	if len(s) == 0 || len(s) > 12 {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return time.Unix(n, 0), err == nil
}

// validNonce reports whether s is a nonce: 8 to 64 unreserved characters.
func validNonce(s string) bool {
	if len(s) < minNonce || len(s) > maxNonce {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// isLowerHex reports whether s is n lowercase hex digits.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// truncate cuts s to at most n bytes, for echoing untrusted input in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
