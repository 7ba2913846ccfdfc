package sip

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	ctRelay = "application/dtmf-relay"
	ctDTMF  = "application/dtmf"
)

func TestParseDTMFInfo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ct       string
		body     string
		digit    byte
		duration time.Duration
	}{
		{"relay CRLF", ctRelay, "Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond},
		{"relay LF", ctRelay, "Signal=5\nDuration=160\n", '5', 160 * time.Millisecond},
		{"relay no trailing newline", ctRelay, "Signal=9\r\nDuration=250", '9', 250 * time.Millisecond},
		{"relay duration first", ctRelay, "Duration=300\r\nSignal=0\r\n", '0', 300 * time.Millisecond},
		{"space after equals", ctRelay, "Signal= 5\r\nDuration= 160\r\n", '5', 160 * time.Millisecond},
		{"space around key", ctRelay, " Signal =5\r\n Duration = 160 \r\n", '5', 160 * time.Millisecond},
		{"lowercase keys", ctRelay, "signal=3\r\nduration=200\r\n", '3', 200 * time.Millisecond},
		{"uppercase keys", ctRelay, "SIGNAL=3\r\nDURATION=200\r\n", '3', 200 * time.Millisecond},
		{"missing duration is 100ms", ctRelay, "Signal=1\r\n", '1', 100 * time.Millisecond},
		{"short duration clamped to 40ms", ctRelay, "Signal=1\r\nDuration=10\r\n", '1', 40 * time.Millisecond},
		{"zero duration clamped to 40ms", ctRelay, "Signal=1\r\nDuration=0\r\n", '1', 40 * time.Millisecond},
		{"40ms kept", ctRelay, "Signal=1\r\nDuration=40\r\n", '1', 40 * time.Millisecond},
		{"5s kept", ctRelay, "Signal=1\r\nDuration=5000\r\n", '1', 5 * time.Second},
		{"long duration clamped to 5s", ctRelay, "Signal=1\r\nDuration=100000\r\n", '1', 5 * time.Second},
		{"star", ctRelay, "Signal=*\r\nDuration=160\r\n", '*', 160 * time.Millisecond},
		{"hash", ctRelay, "Signal=#\r\nDuration=160\r\n", '#', 160 * time.Millisecond},
		{"A", ctRelay, "Signal=A\r\n", 'A', 100 * time.Millisecond},
		{"lowercase a is A", ctRelay, "Signal=a\r\n", 'A', 100 * time.Millisecond},
		{"lowercase d is D", ctRelay, "Signal=d\r\n", 'D', 100 * time.Millisecond},
		{"unknown keys ignored", ctRelay, "Foo=bar\r\nSignal=4\r\nnoise\r\n", '4', 100 * time.Millisecond},
		{"blank lines ignored", ctRelay, "\r\n\r\nSignal=4\r\n\r\n", '4', 100 * time.Millisecond},
		{"plain dtmf", ctDTMF, "7", '7', 100 * time.Millisecond},
		{"plain dtmf with newline", ctDTMF, "7\r\n", '7', 100 * time.Millisecond},
		{"plain dtmf hash", ctDTMF, "#", '#', 100 * time.Millisecond},
		{"plain dtmf lowercase b", ctDTMF, "b", 'B', 100 * time.Millisecond},
		{"content type parameters", "application/dtmf-relay; charset=utf-8", "Signal=8\r\n", '8', 100 * time.Millisecond},
		{"content type parameters no space", "application/dtmf;charset=utf-8", "8", '8', 100 * time.Millisecond},
		{"uppercase content type", "Application/DTMF-Relay", "Signal=2\r\nDuration=120\r\n", '2', 120 * time.Millisecond},
		{"content type padded", "  application/dtmf-relay  ", "Signal=2\r\n", '2', 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := parseDTMFInfo(tc.ct, []byte(tc.body))
			if err != nil {
				t.Fatalf("parseDTMFInfo(%q, %q): %v", tc.ct, tc.body, err)
			}
			if ev.digit != tc.digit || ev.duration != tc.duration {
				t.Errorf("parseDTMFInfo(%q, %q) = %q %v, want %q %v", tc.ct, tc.body, ev.digit, ev.duration, tc.digit, tc.duration)
			}
		})
	}
}

func TestParseDTMFInfoErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ct      string
		body    string
		notDTMF bool // the error must be errNotDTMF (answered 415, not 400)
	}{
		{"unknown content type", "application/sdp", "Signal=5\r\n", true},
		{"text plain", "text/plain", "5", true},
		{"empty content type", "", "Signal=5\r\n", true},
		{"prefix of content type", "application/dtmf-relayx", "Signal=5\r\n", true},
		{"empty signal", ctRelay, "Signal=\r\nDuration=160\r\n", false},
		{"no signal line", ctRelay, "Duration=160\r\n", false},
		{"empty relay body", ctRelay, "", false},
		{"empty dtmf body", ctDTMF, "", false},
		{"two-char signal", ctRelay, "Signal=12\r\n", false},
		{"two-char plain", ctDTMF, "12", false},
		{"signal E", ctRelay, "Signal=E\r\n", false},
		{"signal e", ctRelay, "Signal=e\r\n", false},
		{"signal letter", ctDTMF, "x", false},
		{"signal control byte", ctDTMF, "\x01", false},
		{"signal non-ASCII", ctDTMF, "é", false},
		{"signal high byte", ctDTMF, "\xc1", false},
		{"negative duration", ctRelay, "Signal=5\r\nDuration=-160\r\n", false},
		{"non-numeric duration", ctRelay, "Signal=5\r\nDuration=abc\r\n", false},
		{"duration with unit", ctRelay, "Signal=5\r\nDuration=160ms\r\n", false},
		{"empty duration", ctRelay, "Signal=5\r\nDuration=\r\n", false},
		{"fractional duration", ctRelay, "Signal=5\r\nDuration=1.5\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := parseDTMFInfo(tc.ct, []byte(tc.body))
			if err == nil {
				t.Fatalf("parseDTMFInfo(%q, %q) = %q %v, want error", tc.ct, tc.body, ev.digit, ev.duration)
			}
			if got := errors.Is(err, errNotDTMF); got != tc.notDTMF {
				t.Errorf("parseDTMFInfo(%q, %q) error %q: errors.Is(err, errNotDTMF) = %v, want %v", tc.ct, tc.body, err, got, tc.notDTMF)
			}
		})
	}
}

// BUG: (found by this test, fixed in 2697a55; kept as a regression test) dtmf.go:44
// computed time.Duration(ms) * time.Millisecond before clamping, so a Duration above
// math.MaxInt64/1e6 ms overflowed int64: Duration=10000000000000 wrapped negative and
// was clamped to 40 ms instead of 5 s; others wrapped to an arbitrary value in range.
func TestParseDTMFInfoHugeDurationClampsToMax(t *testing.T) {
	for _, ms := range []string{
		"9223372036854",       // largest that does not overflow
		"9223372036855",       // first that overflows
		"10000000000000",      // wraps negative: got 40ms
		"18446744073709",      // wraps to just below zero: got 40ms
		"18446744073809",      // wraps to ~100 ms: got a value inside the range
		"9223372036854775807", // math.MaxInt64
	} {
		body := "Signal=5\r\nDuration=" + ms + "\r\n"
		ev, err := parseDTMFInfo(ctRelay, []byte(body))
		if err != nil {
			t.Errorf("parseDTMFInfo(%q): %v", body, err)
			continue
		}
		if ev.duration != 5*time.Second {
			t.Errorf("Duration=%s: got %v, want 5s (clamped)", ms, ev.duration)
		}
	}
}

func FuzzParseDTMFInfo(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{ctRelay, "Signal=5\r\nDuration=160\r\n"},
		{ctRelay, "Signal=5\nDuration=160\n"},
		{ctRelay, "signal= *\r\nduration=10\r\n"},
		{ctRelay, "Signal=#\r\nDuration=100000\r\n"},
		{ctRelay, "Signal=a\r\n"},
		{ctRelay, "Signal=12\r\n"},
		{ctRelay, "Signal=5\r\nDuration=-1\r\n"},
		{ctRelay, "Signal=5\r\nDuration=10000000000000\r\n"},
		{ctRelay, "=\r\n=\n\r"},
		{"application/dtmf-relay; charset=utf-8", "Signal=D"},
		{"APPLICATION/DTMF", "7"},
		{ctDTMF, " 0 \r\n"},
		{"application/sdp", "v=0\r\n"},
		{"", ""},
		{";", "5"},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		ev, err := parseDTMFInfo(contentType, body)
		if err != nil {
			return
		}
		if !strings.ContainsRune("0123456789*#ABCD", rune(ev.digit)) || ev.digit == 0 {
			t.Errorf("parseDTMFInfo(%q, %q): digit %q is not 0-9*#A-D", contentType, body, ev.digit)
		}
		if ev.duration < 40*time.Millisecond || ev.duration > 5*time.Second {
			t.Errorf("parseDTMFInfo(%q, %q): duration %v outside [40ms, 5s]", contentType, body, ev.duration)
		}
	})
}
