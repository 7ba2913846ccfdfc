package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"callgate/web/apiclient"
)

// The headers of an event POST besides the signature's (apiclient.Header*). They are
// hints for routing and logging; the body, which the signature covers, says the same.
const (
	HeaderEventID   = "X-Callgate-Event-Id"
	HeaderEventType = "X-Callgate-Event"
	HeaderAttempt   = "X-Callgate-Attempt" // 1 for the first attempt
)

// maxResponseRead bounds how much of a receiver's answer is read (and discarded, so
// the connection can be reused).
const maxResponseRead = 64 << 10

// deliver tries j until a receiver accepts it, an answer is final, the attempts run
// out, or ctx ends (Close cut deliveries off).
func (d *Dispatcher) deliver(ctx context.Context, t *target, j job) {
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			d.gaveUp(t, j, attempt-1, 0, ctx.Err())
			return
		}
		status, after, err := d.post(ctx, t, j, attempt)
		if err == nil && status >= 200 && status < 300 {
			t.delivered.Add(1)
			d.log.Debug("event delivered", "tenant", t.Tenant, "type", j.typ, "id", j.id, "attempt", attempt)
			return
		}
		if !retryable(status, err) || attempt >= t.MaxAttempts || ctx.Err() != nil {
			d.gaveUp(t, j, attempt, status, err)
			return
		}
		t.retries.Add(1)
		wait := backoff(t.Backoff, t.MaxBackoff, attempt, after)
		d.log.Debug("event delivery failed, retrying", "tenant", t.Tenant, "type", j.typ, "id", j.id,
			"attempt", attempt, "status", status, "err", err, "wait", wait)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
	}
}

// gaveUp counts j as failed after attempts, the last answered status (0: none) or
// failing with err, and says so at most once a minute per tenant (at Debug otherwise).
func (d *Dispatcher) gaveUp(t *target, j job, attempts, status int, err error) {
	n := t.failed.Add(1)
	level := slog.LevelDebug
	if logNow(&t.lastFailLog) {
		level = slog.LevelWarn
	}
	d.log.Log(context.Background(), level, "event callbacks: event not delivered", "tenant", t.Tenant, "type", j.typ, "id", j.id,
		"attempts", attempts, "status", status, "err", err, "failed_total", n)
}

// post makes one attempt: it signs and sends j and returns the answer's status and
// its Retry-After (0 if none), or the error that left no answer.
func (d *Dispatcher) post(ctx context.Context, t *target, j job, attempt int) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(j.body))
	if err != nil {
		return 0, 0, fmt.Errorf("hooks: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "callgate")
	req.Header.Set(HeaderEventID, j.id)
	req.Header.Set(HeaderEventType, j.typ)
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	// Signed afresh for every attempt: a nonce is good for one request.
	if err := apiclient.Sign(req, t.App, t.Secret, d.now()); err != nil {
		return 0, 0, fmt.Errorf("hooks: %w", err)
	}
	res, err := d.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponseRead))
	return res.StatusCode, retryAfter(res.Header.Get("Retry-After")), nil
}

// retryable reports whether an attempt that got status (0: none) or err may succeed
// later: network errors and timeouts, 429 and 5xx. Other answers are final: the
// receiver refused this event (a 4xx) or sent something that is not an answer to it
// (1xx, 3xx: redirects are not followed, since the signature covers the path).
func retryable(status int, err error) bool {
	if err != nil {
		return !errors.Is(err, apiclient.ErrCanonical)
	}
	return status == http.StatusTooManyRequests || status >= 500
}

// backoff is the wait after attempt number attempt failed: base doubled per attempt
// up to max, then half of it fixed and half random (jitter, so retries of many events
// do not arrive together). A longer Retry-After from the receiver wins, up to max.
func backoff(base, max time.Duration, attempt int, retryAfter time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	wait := d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	if retryAfter > wait {
		wait = min(retryAfter, max)
	}
	return wait
}

// retryAfter reads a Retry-After header given in seconds; 0 if absent or a date.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, 86400)) * time.Second
}
