package sip_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tortureIP is where the RFC 4475 messages come from: a source address of trunk
// carrier-b, so that each message is judged on its syntax, not refused as a stranger's.
const tortureIP = "127.0.0.44"

// tortureCases is every message of sip/testdata/torture with the final answers the
// Edge gives over UDP and over TCP (nil: none; several: one per request in the
// message, in any order). rfc is what RFC 4475 asks; sipgo is what sipgo v1.7.2 does
// without callgate's guard and validation, where that is wrong.
var tortureCases = []struct {
	file     string
	udp, tcp []int
	rfc      string
	sipgo    string
}{
	// §3.1.1 valid messages: none may get 400 or 5xx. INVITEs to a user that is not
	// a number get 484; OPTIONS from a trunk 200; REGISTER and MESSAGE 405.
	{file: "valid/wsinv", udp: []int{481}, tcp: []int{481}, rfc: "process; the To tag names no dialog: 481",
		sipgo: "keeps the spaces of ' tag = x' in the parameter names, loses the From tag: 400"},
	{file: "valid/intmeth", udp: []int{501}, tcp: []int{501}, rfc: "unknown method: 405 or 501"},
	{file: "valid/esc01", udp: []int{484}, tcp: []int{484}, rfc: "process"},
	{file: "valid/escnull", udp: []int{405}, tcp: []int{405}, rfc: "process"},
	{file: "valid/esc02", udp: []int{501}, tcp: []int{501}, rfc: "unknown method: 501"},
	{file: "valid/lwsdisp", udp: []int{200}, tcp: []int{200}, rfc: "process"},
	{file: "valid/longreq", tcp: []int{484}, rfc: "process",
		sipgo: "UDP: the 484 (it copies the long From, To and Via) is over 1300 bytes, and sipgo sends no UDP message that large (ErrUDPMTUCongestion), not even a response"},
	{file: "valid/dblreq", udp: []int{405}, tcp: []int{405, 400}, rfc: "UDP: the REGISTER only, the bytes past its Content-Length discarded; TCP: both requests",
		sipgo: "TCP: the INVITE has no Contact; sipgo's dialog layer refuses it only after 100 Trying"},
	{file: "valid/semiuri", udp: []int{200}, tcp: []int{200}, rfc: "process"},
	{file: "valid/transports", udp: []int{200}, tcp: []int{200}, rfc: "process"},
	{file: "valid/mpart01", udp: []int{405}, tcp: []int{405}, rfc: "process"},
	{file: "valid/unreason", rfc: "a response: matches no transaction, dropped"},
	{file: "valid/noreason", rfc: "a response: matches no transaction, dropped"},

	// §3.1.2 invalid messages.
	{file: "invalid/badinv01", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parse error: no answer, payload logged at ERROR"},
	{file: "invalid/clerr", udp: []int{400}, rfc: "UDP: 400; TCP: wait for the rest of the body",
		sipgo: "UDP: parse error, no answer"},
	{file: "invalid/ncl", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parse error: no answer"},
	{file: "invalid/scalar02", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parse error: no answer"},
	{file: "invalid/scalarlg", rfc: "a response: dropped"},
	{file: "invalid/quotbal", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parse error: no answer"},
	{file: "invalid/ltgtruri", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parse error: no answer"},
	{file: "invalid/lwsruri", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parse error: no answer"},
	{file: "invalid/lwsstart", udp: []int{400}, tcp: []int{400}, rfc: "400 (or accept, liberally)", sipgo: "parse error: no answer"},
	{file: "invalid/trws", udp: []int{400}, tcp: []int{400}, rfc: "400 (or accept, liberally)", sipgo: "parse error: no answer"},
	{file: "invalid/escruri", udp: []int{400}, tcp: []int{400}, rfc: "400 (or ignore the escaped headers)",
		sipgo: "parses it, headers kept in the Request-URI: without validation it went on as a call"},
	{file: "invalid/baddate", udp: []int{484}, tcp: []int{484}, rfc: "accept (liberally) or 400"},
	{file: "invalid/regbadct", udp: []int{405}, tcp: []int{405}, rfc: "accept (liberally) or 400"},
	{file: "invalid/badaspec", udp: []int{400}, tcp: []int{400}, rfc: "400 (or accept, liberally)", sipgo: "parse error: no answer"},
	{file: "invalid/baddn", udp: []int{400}, rfc: "400; TCP: the copy lacks its final CRLF, so the head never ends: wait",
		sipgo: "parse error: no answer"},
	{file: "invalid/badvers", udp: []int{505}, tcp: []int{505}, rfc: "505", sipgo: "parses it; a naive handler answers 200"},
	{file: "invalid/mismatch01", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parses it; a naive handler answers 200"},
	{file: "invalid/mismatch02", udp: []int{400}, tcp: []int{400}, rfc: "501 or 400", sipgo: "parses it: 405"},
	{file: "invalid/bigcode", rfc: "a response: dropped"},

	// §3.2 transaction layer
	{file: "invalid/badbranch", udp: []int{200}, tcp: []int{200}, rfc: "process (RFC 2543 matching)"},

	// §3.3 application layer
	{file: "invalid/insuf", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parses it; a handler sees no From, To, Call-ID (callgate's dialog layer used to answer 400 only after 100 Trying)"},
	{file: "invalid/unkscm", udp: []int{416}, tcp: []int{416}, rfc: "416", sipgo: "parses it; a naive handler answers 200"},
	{file: "invalid/novelsc", udp: []int{416}, tcp: []int{416}, rfc: "416 (callgate routes sip, sips, tel only)", sipgo: "parse error: no answer"},
	{file: "invalid/unksm2", udp: []int{416}, tcp: []int{416}, rfc: "reject: 416 for the isbn: To", sipgo: "parses it: 405"},
	{file: "invalid/bext01", udp: []int{420}, tcp: []int{420}, rfc: "420 with Unsupported", sipgo: "parses it; a naive handler answers 200"},
	{file: "invalid/invut", udp: []int{415}, tcp: []int{415}, rfc: "415 with Accept", sipgo: "parses it: without validation it went on as a call"},
	{file: "invalid/regaut01", udp: []int{405}, tcp: []int{405}, rfc: "reject (callgate takes no REGISTER)"},
	{file: "invalid/multi01", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parses it, keeping both; From(), To(), CSeq() return the last"},
	{file: "invalid/mcl01", udp: []int{400}, tcp: []int{400}, rfc: "400", sipgo: "parses it with the second length (5): a naive handler answers 200"},
	{file: "invalid/bcast", rfc: "a response: dropped"},
	{file: "invalid/zeromf", udp: []int{483}, tcp: []int{483}, rfc: "483 (a proxy; an endpoint may answer)", sipgo: "a naive handler answers 200"},
	{file: "invalid/cparam01", udp: []int{405}, tcp: []int{405}, rfc: "process (callgate takes no REGISTER)"},
	{file: "invalid/cparam02", udp: []int{405}, tcp: []int{405}, rfc: "process (callgate takes no REGISTER)"},
	{file: "invalid/regescrt", udp: []int{405}, tcp: []int{405}, rfc: "reject (callgate takes no REGISTER)"},
	{file: "invalid/sdp01", udp: []int{406}, tcp: []int{406}, rfc: "406 (or 400)", sipgo: "parses it: without validation it went on as a call"},

	// §3.4 backward compatibility: an RFC 2543 INVITE (no From tag, no branch, no
	// Max-Forwards, no Content-Length). callgate does not keep RFC 2543 compatibility:
	// a call needs a From tag (and a stream needs Content-Length).
	{file: "invalid/inv2543", udp: []int{400}, tcp: []int{400}, rfc: "accept if RFC 2543 compatible, else reject"},

	// Not from the RFC: LF line ends, no SIP version, no Via to answer to.
	{file: "invalid/test", rfc: "-: no answer possible", sipgo: "parse error: payload logged at ERROR"},
}

func TestRFC4475Torture(t *testing.T) {
	files, err := filepath.Glob("testdata/torture/*/*.dat")
	if err != nil || len(files) != len(tortureCases) {
		t.Fatalf("%d torture files, %d cases (%v): every file needs a row", len(files), len(tortureCases), err)
	}
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			// Several messages share a transaction key (top Via branch and sent-by, CSeq
			// method: the RFC's examples reuse z9hG4bKkdjuw), and an Edge takes a
			// second one for a retransmission of the first. Each such message goes to
			// a fresh Edge; so does each transport.
			var r *rig
			var peer *torturePeer
			seen := map[string]bool{}
			var rejected, dropped uint64
			for i, tc := range tortureCases {
				data, err := os.ReadFile(filepath.Join("testdata/torture", tc.file+".dat"))
				if err != nil {
					t.Fatal(err)
				}
				if key := txKey(data); r == nil || seen[key] {
					if r != nil {
						st := r.edge.GuardStats()
						rejected, dropped = rejected+st.Rejected, dropped+st.Dropped
					}
					r = newRig(t, func(c *rigConfig) {
						c.set.TCPAddr = "127.0.0.1:0"
						c.trunkB.InboundCIDRs = append(c.trunkB.InboundCIDRs, tortureIP+"/32")
					})
					if peer == nil {
						peer = newTorturePeer(t, network)
					}
					peer.edge = r.edge.Addr(network)
					clear(seen)
					seen[key] = true
				} else {
					seen[key] = true
				}
				want := tc.udp
				if network == "tcp" {
					want = tc.tcp
				}
				got := peer.exchange(data, len(want), 50*time.Millisecond)
				finals := make([]int, len(got))
				for j, res := range got {
					finals[j] = res.code
				}
				slices.Sort(finals)
				wantSorted := slices.Sorted(slices.Values(want))
				if !slices.Equal(finals, wantSorted) {
					t.Errorf("%s over %s: answered %v, want %v (RFC 4475: %s)", tc.file, network, finals, want, tc.rfc)
				}
				for _, res := range got {
					checkTortureAnswer(t, tc.file, network, res)
				}
				// No crash, no hang: a plain OPTIONS still gets its 200.
				if code := peer.options(i); code != 200 {
					t.Fatalf("after %s over %s, OPTIONS got %d, want 200", tc.file, network, code)
				}
			}
			st := r.edge.GuardStats()
			t.Logf("%s: the guard answered %d requests itself and dropped %d messages", network, rejected+st.Rejected, dropped+st.Dropped)
		})
	}
}

// checkTortureAnswer checks what an answer must carry besides its status.
func checkTortureAnswer(t *testing.T, file, network string, res tortureAnswer) {
	t.Helper()
	if !strings.HasPrefix(res.raw, "SIP/2.0 ") {
		t.Errorf("%s over %s: answer does not start with SIP/2.0: %q", file, network, firstLine(res.raw))
	}
	switch res.code {
	case 420:
		if !strings.Contains(res.raw, "\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n") {
			t.Errorf("%s over %s: 420 without the Unsupported tags:\n%s", file, network, res.raw)
		}
	case 415, 406:
		if !strings.Contains(res.raw, "\r\nAccept: application/sdp\r\n") {
			t.Errorf("%s over %s: %d without Accept: application/sdp:\n%s", file, network, res.code, res.raw)
		}
	case 405:
		if !strings.Contains(res.raw, "\r\nAllow: ") {
			t.Errorf("%s over %s: 405 without Allow:\n%s", file, network, res.raw)
		}
	}
}

type tortureAnswer struct {
	code int
	raw  string
}

// torturePeer is the carrier sending torture messages: raw bytes from tortureIP. Over
// UDP it listens on ports 5060 and 5050, where the messages' Via headers send answers.
type torturePeer struct {
	t       *testing.T
	network string
	edge    netip.AddrPort

	udp     *net.UDPConn
	answers chan []byte
}

func newTorturePeer(t *testing.T, network string) *torturePeer {
	p := &torturePeer{t: t, network: network, answers: make(chan []byte, 256)}
	if network != "udp" {
		return p
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // last: after the sockets are closed
	for _, port := range []int{5060, 5050} {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(tortureIP), Port: port})
		if err != nil {
			t.Fatalf("the torture peer needs %s:%d (the messages' Via ports): %v", tortureIP, port, err)
		}
		if port == 5060 {
			p.udp = c
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				select {
				case p.answers <- append([]byte(nil), buf[:n]...):
				default: // nobody is listening for that many
				}
			}
		}()
		t.Cleanup(func() { c.Close() })
	}
	return p
}

// exchange sends msg and returns the final answers that belong to it: up to want of
// them, waiting up to 3 s for them (200 ms when none is expected), then extra for one
// answer too many.
func (p *torturePeer) exchange(msg []byte, want int, extra time.Duration) []tortureAnswer {
	p.t.Helper()
	ids := rawHeaders(msg, "call-id", "i")
	wait := 3 * time.Second
	if want == 0 {
		wait = 200 * time.Millisecond
	}
	if p.network == "udp" {
		if _, err := p.udp.WriteToUDPAddrPort(msg, p.edge); err != nil {
			p.t.Fatal(err)
		}
		return p.collect(ids, want, wait, extra)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tortureIP)}, Timeout: time.Second}
	c, err := d.Dial("tcp", p.edge.String())
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		p.t.Fatal(err)
	}
	go func() {
		// Answers on the stream: no bodies, so each ends with a blank line.
		var acc []byte
		buf := make([]byte, 65536)
		_ = c.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := c.Read(buf)
			acc = append(acc, buf[:n]...)
			for {
				i := bytes.Index(acc, []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				select {
				case p.answers <- append([]byte(nil), acc[:i+4]...):
				default:
				}
				acc = acc[i+4:]
			}
			if err != nil {
				return
			}
		}
	}()
	return p.collect(ids, want, wait, extra)
}

// collect gathers final answers whose Call-ID is one of ids (no Call-ID if ids is
// empty), skipping provisional ones and retransmissions for earlier messages.
func (p *torturePeer) collect(ids []string, want int, wait, extra time.Duration) []tortureAnswer {
	var got []tortureAnswer
	deadline := time.After(wait)
	for {
		if want > 0 && len(got) == want {
			if extra == 0 {
				return got
			}
			deadline = time.After(extra) // for one answer too many
			want = -1
		}
		select {
		case <-deadline:
			return got
		case raw := <-p.answers:
			code := statusOf(raw)
			if code < 200 {
				continue
			}
			cid := rawHeaders(raw, "call-id", "i")
			if len(ids) == 0 && len(cid) != 0 || len(ids) > 0 && (len(cid) == 0 || !slices.Contains(ids, cid[0])) {
				continue
			}
			got = append(got, tortureAnswer{code: code, raw: string(raw)})
		}
	}
}

// options sends a plain OPTIONS from the torture peer and returns its final status.
func (p *torturePeer) options(n int) int {
	p.t.Helper()
	local := tortureIP + ":5060"
	transport := "UDP"
	if p.network == "tcp" {
		local, transport = tortureIP, "TCP"
	}
	callID := fmt.Sprintf("torture-check-%s-%d", p.network, n)
	msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-check-%d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:carrier@%s>;tag=check%d\r\nTo: <sip:%s>\r\nCall-ID: %s\r\n"+
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", p.edge, transport, local, n, tortureIP, n, p.edge, callID)
	got := p.exchange([]byte(msg), 1, 0)
	if len(got) != 1 {
		return 0
	}
	return got[0].code
}

// txKey is what a server transaction is matched by: the top Via and the CSeq method.
func txKey(msg []byte) string {
	var via, method string
	if v := rawHeaders(msg, "via", "v"); len(v) > 0 {
		via, _, _ = strings.Cut(v[0], ",")
	}
	if c := rawHeaders(msg, "cseq", ""); len(c) > 0 {
		f := strings.Fields(c[0])
		method = f[len(f)-1]
	}
	return via + "|" + method
}

func statusOf(raw []byte) int {
	line := firstLine(string(raw))
	if !strings.HasPrefix(line, "SIP/2.0 ") || len(line) < 11 {
		return 0
	}
	code, _ := strconv.Atoi(line[8:11])
	return code
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// rawHeaders returns the values of the header fields named long or compact in a raw
// message, trimmed.
func rawHeaders(msg []byte, long, compact string) []string {
	var out []string
	for _, line := range strings.Split(string(msg), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			continue
		}
		name = strings.TrimSpace(name)
		if strings.EqualFold(name, long) || strings.EqualFold(name, compact) {
			out = append(out, strings.TrimSpace(value))
		}
	}
	return out
}
