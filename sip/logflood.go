package sip

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"
)

// sipgo logs every message it cannot parse at ERROR with the whole payload, and every
// stray response at INFO: a flood of garbage becomes a flood of log lines. The sipgo
// layers (and the guard) therefore log through a limitedHandler: at most a few records
// a second, then one "suppressed N" record once logging resumes, and attribute values
// cut to a bounded length.

const (
	// logRate and logBurst bound the records the sipgo layers may log per second.
	logRate  = 5
	logBurst = 10
	// logValueMax bounds the bytes of one logged attribute value (a SIP payload).
	logValueMax = 256
)

// logLimiter is a token bucket shared by a handler and the handlers derived from it.
type logLimiter struct {
	now func() time.Time

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

// allow takes a token; it reports whether the record may be logged and how many
// records were suppressed since the last one logged.
func (l *logLimiter) allow() (bool, int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = logBurst
	} else {
		l.tokens = min(logBurst, l.tokens+now.Sub(l.last).Seconds()*logRate)
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	n := l.suppressed
	l.suppressed = 0
	return true, n
}

// limitedHandler rate-limits and truncates the records of another handler.
type limitedHandler struct {
	next slog.Handler
	lim  *logLimiter
}

var _ slog.Handler = (*limitedHandler)(nil)

// newLimitedLogger wraps l so that it logs at most logRate records a second (bursts of
// logBurst) with attribute values cut to logValueMax bytes. now is the clock.
func newLimitedLogger(l *slog.Logger, now func() time.Time) *slog.Logger {
	if now == nil {
		now = time.Now
	}
	return slog.New(&limitedHandler{next: l.Handler(), lim: &logLimiter{now: now}})
}

func (h *limitedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	ok, suppressed := h.lim.allow()
	if !ok {
		return nil
	}
	if suppressed > 0 {
		s := slog.NewRecord(r.Time, slog.LevelWarn, "sip log records suppressed", 0)
		s.AddAttrs(slog.Int("suppressed", suppressed))
		if err := h.next.Handle(ctx, s); err != nil {
			return err
		}
	}
	return h.next.Handle(ctx, truncateRecord(r))
}

func (h *limitedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	cut := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		cut[i] = truncateAttr(a)
	}
	return &limitedHandler{next: h.next.WithAttrs(cut), lim: h.lim}
}

func (h *limitedHandler) WithGroup(name string) slog.Handler {
	return &limitedHandler{next: h.next.WithGroup(name), lim: h.lim}
}

// truncateRecord returns r with its message and attribute values cut to logValueMax.
func truncateRecord(r slog.Record) slog.Record {
	long := len(r.Message) > logValueMax
	r.Attrs(func(a slog.Attr) bool {
		if attrTooLong(a) {
			long = true
			return false
		}
		return true
	})
	if !long {
		return r
	}
	out := slog.NewRecord(r.Time, r.Level, truncate(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(truncateAttr(a))
		return true
	})
	return out
}

func attrTooLong(a slog.Attr) bool {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return len(v.String()) > logValueMax
	case slog.KindAny:
		return true // formatted (and so bounded) by truncateAttr
	case slog.KindGroup:
		for _, g := range v.Group() {
			if attrTooLong(g) {
				return true
			}
		}
	}
	return false
}

func truncateAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if len(v.String()) > logValueMax {
			return slog.String(a.Key, truncate(v.String()))
		}
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case []byte:
			s = string(x)
		default:
			s = fmt.Sprint(x)
		}
		return slog.String(a.Key, truncate(s))
	case slog.KindGroup:
		g := v.Group()
		cut := make([]any, len(g))
		for i, ga := range g {
			cut[i] = truncateAttr(ga)
		}
		return slog.Group(a.Key, cut...)
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// truncate cuts s to logValueMax bytes (on a rune boundary) and says how much was cut.
func truncate(s string) string {
	if len(s) <= logValueMax {
		return s
	}
	cut := logValueMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…[%d more bytes]", s[:cut], len(s)-cut)
}
