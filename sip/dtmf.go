package sip

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

var errNotDTMF = errors.New("INFO body is not DTMF")

// dtmfEvent is one key press carried in a SIP INFO.
type dtmfEvent struct {
	digit    byte // 0-9 * # A-D
	duration time.Duration
}

// parseDTMFInfo reads an INFO body of type application/dtmf-relay ("Signal=5\r\n
// Duration=160") or application/dtmf ("5"). The default duration is 100 ms; durations
// are clamped to 40 ms..5 s.
func parseDTMFInfo(contentType string, body []byte) (dtmfEvent, error) {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	ev := dtmfEvent{duration: 100 * time.Millisecond}
	var signal string
	switch ct {
	case "application/dtmf-relay":
		for _, line := range strings.FieldsFunc(string(body), func(r rune) bool { return r == '\n' || r == '\r' }) {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "signal":
				signal = strings.TrimSpace(v)
			case "duration":
				ms, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil || ms < 0 {
					return ev, fmt.Errorf("bad DTMF duration %q", v)
				}
				ev.duration = time.Duration(min(ms, 5000)) * time.Millisecond
			}
		}
	case "application/dtmf":
		signal = strings.TrimSpace(string(body))
	default:
		return ev, errNotDTMF
	}
	if len(signal) != 1 {
		return ev, fmt.Errorf("bad DTMF signal %q", signal)
	}
	switch d := signal[0]; {
	case d >= '0' && d <= '9', d == '*', d == '#':
		ev.digit = d
	case d >= 'A' && d <= 'D', d >= 'a' && d <= 'd':
		ev.digit = d &^ 0x20
	default:
		return ev, fmt.Errorf("bad DTMF signal %q", signal)
	}
	ev.duration = min(max(ev.duration, 40*time.Millisecond), 5*time.Second)
	return ev, nil
}
