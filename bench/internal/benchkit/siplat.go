package benchkit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strings"
	"time"
)

// SIPMessage is what latency matching needs from a SIP message.
type SIPMessage struct {
	Method     string // request method; "" for a response
	Status     int    // response status; 0 for a request
	RURIUser   string // user part of the Request-URI
	CallID     string
	CSeqMethod string
	FromUser   string
	ToUser     string
}

// ParseSIP reads the start line and the few headers of a SIP message; ok is false
// if b does not look like one.
func ParseSIP(b []byte) (m SIPMessage, ok bool) {
	line, rest, _ := bytes.Cut(b, []byte("\r\n"))
	if bytes.HasPrefix(line, []byte("SIP/2.0 ")) {
		if len(line) < 11 {
			return m, false
		}
		for _, c := range line[8:11] {
			if c < '0' || c > '9' {
				return m, false
			}
			m.Status = m.Status*10 + int(c-'0')
		}
	} else {
		f := bytes.Fields(line)
		if len(f) != 3 || !bytes.Equal(f[2], []byte("SIP/2.0")) {
			return m, false
		}
		m.Method = string(f[0])
		m.RURIUser = uriUser(string(f[1]))
	}
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(h) == 0 {
			break // end of headers
		}
		name, val, found := bytes.Cut(h, []byte(":"))
		if !found {
			continue
		}
		v := strings.TrimSpace(string(val))
		switch strings.ToLower(strings.TrimSpace(string(name))) {
		case "call-id", "i":
			m.CallID = v
		case "cseq":
			if f := strings.Fields(v); len(f) == 2 {
				m.CSeqMethod = f[1]
			}
		case "from", "f":
			m.FromUser = uriUser(v)
		case "to", "t":
			m.ToUser = uriUser(v)
		}
	}
	return m, m.CallID != ""
}

// uriUser returns the user part of the first sip: URI in s ("" if none).
func uriUser(s string) string {
	i := strings.Index(s, "sip:")
	if i < 0 {
		if i = strings.Index(s, "sips:"); i < 0 {
			return ""
		}
		i++
	}
	s = s[i+4:]
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return ""
	}
	u := s[:at]
	if j := strings.IndexAny(u, ";:"); j >= 0 {
		u = u[:j]
	}
	return u
}

// Pairs maps (caller A, dialled V) to the B-leg's number, from a SIPp -inf file
// of "A;V;B" lines (the first line, SEQUENTIAL or RANDOM, is skipped).
type Pairs map[[2]string]string

// ReadPairs reads an -inf file written by bench/cmd/seed.
func ReadPairs(path string) (Pairs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := Pairs{}
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		c := strings.Split(sc.Text(), ";")
		if len(c) >= 3 {
			p[[2]string{c[0], c[1]}] = c[2]
		}
	}
	return p, sc.Err()
}

// SetupLatency matches the two legs of calls through a SIP edge in a capture and
// measures what the edge adds: from A's INVITE reaching it to B's INVITE leaving it,
// and from B's 200 reaching it to A's 200 leaving it.
//
// The A side is traffic between the carrier-A address and anyone; the B side between
// anyone and the carrier-B address. An A-leg INVITE is keyed by the B number its
// (From user, Request-URI user) pair routes to; a B-leg INVITE by its Request-URI
// user. That works for a B2BUA (new Call-ID on B) and a proxy (same Call-ID) alike.
// Retransmissions are ignored: only the first INVITE and the first 200 of each leg
// count.
type SetupLatency struct {
	A, B  netip.Addr
	Pairs Pairs

	pending   map[string][]*legTimes // key → A-legs waiting for their B-leg, oldest first
	byACallID map[string]*legTimes
	byBCallID map[string]*legTimes
	all       []*legTimes
	// Unmatched counts A-leg INVITEs whose pair is not in Pairs, and B-leg INVITEs
	// with no A-leg waiting (the capture started between the two).
	UnknownPair, Orphans int
}

type legTimes struct {
	aInvite, bInvite, b200, a200 time.Time
}

// Add feeds one captured datagram.
func (s *SetupLatency) Add(p UDPPacket) {
	if s.pending == nil {
		s.pending = map[string][]*legTimes{}
		s.byACallID = map[string]*legTimes{}
		s.byBCallID = map[string]*legTimes{}
	}
	m, ok := ParseSIP(p.Payload)
	if !ok {
		return
	}
	src, dst := p.Src.Addr(), p.Dst.Addr()
	switch {
	case m.Method == "INVITE" && src == s.A:
		if _, seen := s.byACallID[m.CallID]; seen {
			return
		}
		key, ok := s.Pairs[[2]string{m.FromUser, m.RURIUser}]
		if !ok {
			s.UnknownPair++
			return
		}
		t := &legTimes{aInvite: p.At}
		s.byACallID[m.CallID] = t
		s.pending[key] = append(s.pending[key], t)
		s.all = append(s.all, t)
	case m.Method == "INVITE" && dst == s.B:
		if _, seen := s.byBCallID[m.CallID]; seen {
			return
		}
		q := s.pending[m.RURIUser]
		if len(q) == 0 {
			s.Orphans++
			return
		}
		t := q[0]
		if len(q) == 1 {
			delete(s.pending, m.RURIUser)
		} else {
			s.pending[m.RURIUser] = q[1:]
		}
		t.bInvite = p.At
		s.byBCallID[m.CallID] = t
	case m.Status == 200 && m.CSeqMethod == "INVITE" && src == s.B:
		if t := s.byBCallID[m.CallID]; t != nil && t.b200.IsZero() {
			t.b200 = p.At
		}
	case m.Status == 200 && m.CSeqMethod == "INVITE" && dst == s.A:
		if t := s.byACallID[m.CallID]; t != nil && t.a200.IsZero() && !t.b200.IsZero() {
			t.a200 = p.At
		}
	}
}

// WriteCSV writes one line per A-leg INVITE seen: its capture time (unix seconds)
// and the two latencies in microseconds (empty when that leg was not seen).
func (s *SetupLatency) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "a_invite_unix,invite_us,answer_us")
	for _, t := range s.all {
		inv, ans := "", ""
		if !t.bInvite.IsZero() {
			inv = fmt.Sprintf("%.0f", Micros(t.bInvite.Sub(t.aInvite)))
		}
		if !t.a200.IsZero() && !t.b200.IsZero() {
			ans = fmt.Sprintf("%.0f", Micros(t.a200.Sub(t.b200)))
		}
		fmt.Fprintf(bw, "%.6f,%s,%s\n", float64(t.aInvite.UnixNano())/1e9, inv, ans)
	}
	return bw.Flush()
}

// LatencySummary is a distribution in microseconds.
type LatencySummary struct {
	N                  int
	P50, P90, P99, Max float64
}

func (l LatencySummary) String() string {
	if l.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("n=%d p50=%.0fµs p90=%.0fµs p99=%.0fµs max=%.0fµs", l.N, l.P50, l.P90, l.P99, l.Max)
}

func summarize(xs []float64) LatencySummary {
	if len(xs) == 0 {
		return LatencySummary{P50: math.NaN(), P90: math.NaN(), P99: math.NaN(), Max: math.NaN()}
	}
	return LatencySummary{N: len(xs), P50: Percentile(xs, 50), P90: Percentile(xs, 90),
		P99: Percentile(xs, 99), Max: Percentile(xs, 100)}
}

// Results returns the INVITE→INVITE and 200→200 distributions.
func (s *SetupLatency) Results() (invite, answer LatencySummary) {
	var inv, ans []float64
	for _, t := range s.all {
		if !t.bInvite.IsZero() {
			inv = append(inv, Micros(t.bInvite.Sub(t.aInvite)))
		}
		if !t.a200.IsZero() && !t.b200.IsZero() {
			ans = append(ans, Micros(t.a200.Sub(t.b200)))
		}
	}
	return summarize(inv), summarize(ans)
}
