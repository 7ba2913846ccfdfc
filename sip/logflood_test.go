package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimitedLoggerSuppressesAndTruncates(t *testing.T) {
	clock := newTestClock()
	var out bytes.Buffer
	base := slog.New(slog.NewTextHandler(&out, nil))
	log := newLimitedLogger(base, clock.now).With("layer", "sipgo")
	payload := "INVITE sip:x SIP/2.0\r\n" + strings.Repeat("X-Junk: yyyyyyyyyy\r\n", 500)

	// A flood: 1000 parse failures at once, as sipgo logs them.
	for range 1000 {
		log.Error("failed to parse", "data", payload, "error", errors.New("bad"))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != logBurst {
		t.Fatalf("%d lines logged for 1000 records at once, want the burst of %d", len(lines), logBurst)
	}
	for _, l := range lines {
		if len(l) > 2*logValueMax {
			t.Fatalf("a record of %d bytes: the payload was not cut", len(l))
		}
		if !strings.Contains(l, "more bytes]") || !strings.Contains(l, "layer=sipgo") {
			t.Fatalf("record %q", l)
		}
	}

	out.Reset()
	clock.advance(time.Second)
	log.Error("failed to parse", "data", "short")
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "suppressed=990") || !strings.Contains(lines[1], "data=short") {
		t.Fatalf("after a second: %q, want one 'suppressed 990' record, then the record", lines)
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	s := strings.Repeat("ж", logValueMax) // two bytes each
	got := truncate(s)
	if !strings.HasPrefix(got, strings.Repeat("ж", logValueMax/2)) || !strings.HasSuffix(got, "more bytes]") {
		t.Fatalf("truncate: %q", got)
	}
	if short := "ok"; truncate(short) != short {
		t.Fatal("a short value was changed")
	}
}
