package sip

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// testClock is an injected clock for the guard.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

var (
	trunkIP    = netip.MustParseAddr("10.0.0.1")
	strangerIP = netip.MustParseAddr("192.0.2.9")
)

func testGuard(lim Limits, clock *testClock) *guard {
	return newGuard(lim, func(a netip.Addr) bool { return a == trunkIP || a == netip.MustParseAddr("127.0.0.1") },
		clock.now, slog.New(slog.DiscardHandler))
}

func udpFrom(a netip.Addr, port uint16) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port))
}

const testOptions = "OPTIONS sip:callgate@127.0.0.1 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-guard-1;rport\r\n" +
	"Max-Forwards: 70\r\nFrom: <sip:carrier@10.0.0.1>;tag=a1\r\nTo: <sip:callgate@127.0.0.1>\r\n" +
	"Call-ID: guard-test-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

func TestGuardBansStrangersNotTrunks(t *testing.T) {
	clock := newTestClock()
	g := testGuard(Limits{RatePerSource: 20, BurstPerSource: 40, TrunkRate: 100, TrunkBurst: 10, BanFor: time.Minute}, clock)
	for i := range 40 {
		if v := g.admit(strangerIP, false); v != pass {
			t.Fatalf("stranger message %d: %v within its burst", i, v)
		}
	}
	if v := g.admit(strangerIP, false); v != dropRate {
		t.Fatalf("message 41 of a burst of 40: %v, want dropRate", v)
	}
	clock.advance(59 * time.Second)
	if v := g.admit(strangerIP, false); v != dropBanned {
		t.Fatalf("during the ban: %v, want dropBanned", v)
	}
	clock.advance(2 * time.Second)
	if v := g.admit(strangerIP, false); v != pass {
		t.Fatalf("after the ban: %v, want pass", v)
	}

	for range 10 {
		g.admit(trunkIP, true)
	}
	for i := range 5 {
		if v := g.admit(trunkIP, true); v != dropRate {
			t.Fatalf("trunk over its burst, message %d: %v, want dropRate (never a ban)", i, v)
		}
	}
	clock.advance(100 * time.Millisecond) // 10 more tokens at 100/s
	if v := g.admit(trunkIP, true); v != pass {
		t.Fatalf("trunk after refill: %v, want pass", v)
	}
	if st := g.stats(); st.Bans != 1 || st.Banned != 0 || st.Sources != 2 {
		t.Fatalf("stats %+v: want 1 ban issued, none active, 2 sources", st)
	}
}

func TestGuardSweepReturnsToEmpty(t *testing.T) {
	clock := newTestClock()
	g := testGuard(Limits{RatePerSource: 20, BurstPerSource: 40, BanFor: time.Minute}, clock)
	// A spoofed flood: 20,000 sources, one message each; and one flooder, banned.
	for i := range 20000 {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		if v := g.admit(a, false); v != pass {
			t.Fatalf("source %d: %v", i, v)
		}
	}
	for range 100 {
		g.admit(strangerIP, false)
	}
	if st := g.stats(); st.Sources != 20001 || st.Banned != 1 {
		t.Fatalf("after the flood: %+v", st)
	}
	g.sweep(clock.now().Add(time.Second))
	if n := g.stats().Sources; n != 20001 {
		t.Fatalf("a sweep before the buckets refilled forgot sources: %d left", n)
	}
	clock.advance(10 * time.Second)
	g.sweep(clock.now())
	if st := g.stats(); st.Sources != 1 || st.Banned != 1 {
		t.Fatalf("after the idle sweep, only the banned source stays: %+v", st)
	}
	clock.advance(time.Minute)
	g.sweep(clock.now())
	if n := g.stats().Sources; n != 0 {
		t.Fatalf("after the ban and a sweep: %d sources, want 0", n)
	}
	for i := range g.shards {
		if p := g.shards[i].peak; p != 0 {
			t.Fatalf("stripe %d keeps the map of its peak (%d entries)", i, p)
		}
	}
}

func TestGuardSourceTableBounded(t *testing.T) {
	clock := newTestClock()
	g := testGuard(Limits{}, clock)
	full := 0
	for i := range maxSources + maxSources/2 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if g.admit(a, false) == dropFull {
			full++
		}
	}
	if n := g.stats().Sources; n > maxSources || full == 0 {
		t.Fatalf("%d sources tracked (max %d), %d refused as full", n, maxSources, full)
	}
	if v := g.admit(trunkIP, true); v != pass {
		t.Fatalf("a trunk is refused when the table is full: %v", v)
	}
}

func TestGuardDatagram(t *testing.T) {
	clock := newTestClock()
	g := testGuard(Limits{MaxMessageBytes: 2048, MaxHeaders: 20}, clock)
	// The trunk's socket: stateless answers go to the source port (rport).
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	out, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	g.setUDP(out)
	from := peer.LocalAddr().(*net.UDPAddr)
	answer := func() string {
		t.Helper()
		_ = peer.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 4096)
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatalf("no stateless answer: %v", err)
		}
		return string(buf[:n])
	}

	ok := []byte(testOptions)
	if got := g.datagram(from, ok); !bytes.Equal(got, ok) || &got[0] != &ok[0] {
		t.Fatal("a valid message was not passed on as it is")
	}
	if got := g.datagram(from, []byte("\r\n\r\n")); got == nil {
		t.Fatal("a keep-alive was dropped")
	}

	big := []byte(strings.Replace(testOptions, "Call-ID:", "X-Pad: "+strings.Repeat("x", 3000)+"\r\nCall-ID:", 1))
	if g.datagram(from, big) != nil {
		t.Fatal("a message over max_message_bytes passed")
	}
	if res := answer(); !strings.HasPrefix(res, "SIP/2.0 513 Message Too Large\r\n") {
		t.Fatalf("oversized request from a trunk: %q", firstLineOf(res))
	}

	many := []byte(strings.Replace(testOptions, "Call-ID:", strings.Repeat("X-H: 1\r\n", 30)+"Call-ID:", 1))
	if g.datagram(from, many) != nil {
		t.Fatal("a message over max_headers passed")
	}
	if res := answer(); !strings.HasPrefix(res, "SIP/2.0 400 Too Many Header Fields\r\n") {
		t.Fatalf("too many headers from a trunk: %q", firstLineOf(res))
	}

	injected := []byte(strings.Replace(testOptions, "Max-Forwards: 70", "Max-Forwards: 70\nX-Evil: 1", 1))
	if g.datagram(from, injected) != nil {
		t.Fatal("a bare LF inside a header passed")
	}
	res := answer()
	if !strings.HasPrefix(res, "SIP/2.0 400 Bad Header Field\r\n") || !strings.Contains(res, "Call-ID: guard-test-1\r\n") ||
		!strings.Contains(res, "CSeq: 1 OPTIONS\r\n") || strings.Contains(res, "X-Evil") {
		t.Fatalf("stateless answer to a bare LF:\n%s", res)
	}

	badLine := []byte(strings.Replace(testOptions, "OPTIONS sip:callgate@127.0.0.1 SIP/2.0", "OPTIONS <sip:callgate@127.0.0.1> SIP/2.0", 1))
	if g.datagram(from, badLine) != nil {
		t.Fatal("an unparseable request line passed")
	}
	if res := answer(); !strings.HasPrefix(res, "SIP/2.0 400 Bad Request-URI\r\n") {
		t.Fatalf("answer to <> around the Request-URI: %q", firstLineOf(res))
	}

	// A suspicion sipgo does not share (Max-Forwards over 255 parses as a number) is
	// no reason to drop a trunk's answer.
	odd := []byte("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x\r\n" +
		"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: odd\r\nCSeq: 1 INVITE\r\n" +
		"Max-Forwards: 300\r\nContent-Length: 0\r\n\r\n")
	if g.datagram(from, odd) == nil {
		t.Fatal("a trunk's answer that sipgo parses was dropped on a suspicion")
	}

	// From a stranger, the same garbage is dropped without a word.
	stranger := udpFrom(strangerIP, 5060)
	if g.datagram(stranger, badLine) != nil || g.datagram(stranger, big) != nil || g.datagram(stranger, odd) != nil {
		t.Fatal("a stranger's garbage passed")
	}
	st := g.stats()
	if st.Rejected != 4 || st.DroppedSize != 2 || st.DroppedHeaders != 1 || st.DroppedMalformed != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// TestGuardAcceptAllocatesNothing: the per-packet path takes no allocation, for a
// passing INVITE from a trunk, a stranger's OPTIONS, and a banned source's packet.
func TestGuardAcceptAllocatesNothing(t *testing.T) {
	clock := newTestClock()
	g := testGuard(Limits{TrunkRate: -1, RatePerSource: -1}, clock)
	invite := []byte(testInvite)
	trunk := udpFrom(trunkIP, 5060)
	if n := testing.AllocsPerRun(1000, func() {
		if g.datagram(trunk, invite) == nil {
			t.Fatal("dropped")
		}
	}); n != 0 {
		t.Fatalf("trunk INVITE: %.1f allocations per packet", n)
	}
	stranger := udpFrom(strangerIP, 5060)
	opts := []byte(testOptions)
	if n := testing.AllocsPerRun(1000, func() { g.datagram(stranger, opts) }); n != 0 {
		t.Fatalf("stranger OPTIONS: %.1f allocations per packet", n)
	}
	g2 := testGuard(Limits{RatePerSource: 1, BurstPerSource: 1, BanFor: time.Hour}, clock)
	g2.datagram(stranger, opts)
	g2.datagram(stranger, opts) // banned
	if n := testing.AllocsPerRun(1000, func() { g2.datagram(stranger, opts) }); n != 0 {
		t.Fatalf("banned source: %.1f allocations per packet", n)
	}
}

const testInvite = "INVITE sip:+8675500000001@127.0.0.1:5060 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-524287-1---3a1f8c2b9e1d0a77;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"Contact: <sip:+8613800000001@10.0.0.1:5060>\r\n" +
	"To: <sip:+8675500000001@127.0.0.1:5060>\r\n" +
	"From: \"Carrier A\" <sip:+8613800000001@10.0.0.1:5060>;tag=9fxced76sl\r\n" +
	"Call-ID: 3848276298220188511@10.0.0.1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Supported: replaces, timer\r\n" +
	"User-Agent: carrier-sbc/4.2\r\n" +
	"Content-Length: 139\r\n\r\n" +
	"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n"

// BenchmarkGuardAccept measures the guard's per-datagram decision: rate check, size,
// header count and syntax check of the head. "trunk" is a carrier's INVITE passing;
// "stranger" an OPTIONS from a source within its rate; "banned" a flooder's INVITE
// dropped; "parallel" trunk INVITEs from 256 source addresses on every CPU.
func BenchmarkGuardAccept(b *testing.B) {
	clock := newTestClock()
	invite, opts := []byte(testInvite), []byte(testOptions)
	b.Run("trunk", func(b *testing.B) {
		g := testGuard(Limits{TrunkRate: -1}, clock)
		from := udpFrom(trunkIP, 5060)
		b.ReportAllocs()
		b.SetBytes(int64(len(invite)))
		for b.Loop() {
			g.datagram(from, invite)
		}
	})
	b.Run("stranger", func(b *testing.B) {
		g := testGuard(Limits{RatePerSource: -1}, clock)
		from := udpFrom(strangerIP, 5060)
		b.ReportAllocs()
		for b.Loop() {
			g.datagram(from, opts)
		}
	})
	b.Run("banned", func(b *testing.B) {
		g := testGuard(Limits{RatePerSource: 1, BurstPerSource: 1, BanFor: time.Hour}, clock)
		from := udpFrom(strangerIP, 5060)
		g.datagram(from, invite)
		g.datagram(from, invite)
		b.ReportAllocs()
		for b.Loop() {
			g.datagram(from, invite)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var n atomic.Uint32
		g := newGuard(Limits{TrunkRate: -1}, func(netip.Addr) bool { return true }, clock.now, slog.New(slog.DiscardHandler))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := n.Add(1)
			froms := make([]*net.UDPAddr, 16)
			for j := range froms {
				froms[j] = udpFrom(netip.AddrFrom4([4]byte{10, 1, byte(i), byte(j)}), 5060)
			}
			k := 0
			for pb.Next() {
				g.datagram(froms[k&15], invite)
				k++
			}
		})
	})
}

func TestGuardConnLimitsStrangers(t *testing.T) {
	clock := newTestClock()
	g := newGuard(Limits{MaxTCPPerSource: 2, TCPIdleTimeout: 300 * time.Millisecond}, func(netip.Addr) bool { return false },
		clock.now, slog.New(slog.DiscardHandler))
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := g.listener(raw)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 := dial(), dial()
	defer c1.Close()
	defer c2.Close()
	s1, s2 := <-accepted, <-accepted
	c3 := dial() // over the limit: closed at accept
	defer c3.Close()
	_ = c3.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c3.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("third connection from one stranger: read %v, want EOF (closed)", err)
	}
	if st := g.stats(); st.TCP != 2 || st.ClosedTCP != 1 {
		t.Fatalf("stats %+v: want 2 open, 1 refused", st)
	}

	// c1 stays silent: the idle timeout closes it quietly (io.EOF to sipgo).
	start := time.Now()
	if _, err := s1.Read(make([]byte, 64)); err != io.EOF {
		t.Fatalf("idle stranger: %v, want io.EOF", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("closed after %v, want the idle timeout (300ms)", d)
	}
	s1.Close()
	s1.Close() // twice is fine
	if n := g.stats().TCP; n != 1 {
		t.Fatalf("%d connections counted after one closed, want 1", n)
	}

	// c2 sends a message in two pieces, then a keep-alive: sipgo gets the message whole
	// once its head is complete, and the keep-alive on its own.
	msg := strings.Replace(testOptions, "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
	go func() {
		_, _ = c2.Write([]byte(msg[:40]))
		time.Sleep(50 * time.Millisecond)
		_, _ = c2.Write([]byte(msg[40:] + "\r\n\r\n"))
	}()
	buf := make([]byte, 4096)
	n, err := io.ReadAtLeast(s2, buf, len(msg))
	if err != nil || string(buf[:n]) != msg {
		t.Fatalf("framed message: %q %v", buf[:n], err)
	}
	n, err = s2.Read(buf)
	if err != nil || string(buf[:n]) != "\r\n\r\n" {
		t.Fatalf("keep-alive: %q %v", buf[:n], err)
	}
	s2.Close()
	g.sweep(clock.now().Add(time.Minute))
	if st := g.stats(); st.Sources != 0 || st.TCP != 0 {
		t.Fatalf("after closing and a sweep: %+v", st)
	}
}

func TestGuardConnRefusesAndSkips(t *testing.T) {
	clock := newTestClock()
	g := newGuard(Limits{}, func(netip.Addr) bool { return true }, clock.now, slog.New(slog.DiscardHandler))
	g.drainGrace = 200 * time.Millisecond
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := g.listener(raw)
	defer ln.Close()
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := strings.Replace(testOptions, "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
	bad := strings.Replace(good, "OPTIONS sip:callgate@127.0.0.1 SIP/2.0", "OPTIONS  sip:callgate@127.0.0.1 SIP/2.0", 1)
	bad = strings.Replace(bad, "guard-test-1", "guard-test-bad", 1)
	// A trunk sends a good message, one sipgo cannot parse (with a Content-Length, so
	// its extent is known), and a good one again: the bad one is answered 400 by the
	// guard and skipped; sipgo gets the two good ones and the connection lives.
	if _, err := c.Write([]byte(good + bad + good)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	got := ""
	for len(got) < 2*len(good) {
		n, err := s.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (after %q)", err, got)
		}
		got += string(buf[:n])
	}
	if got != good+good {
		t.Fatalf("sipgo got %q", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	n, err := c.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 400 Bad Request Line\r\n") ||
		!strings.Contains(string(buf[:n]), "Call-ID: guard-test-bad\r\n") {
		t.Fatalf("the trunk got %q %v, want a 400 for the bad message", buf[:n], err)
	}
	// Without Content-Length a stream cannot be framed: 400, then the connection
	// drains and closes.
	noLen := strings.Replace(good, "Content-Length: 0\r\n", "", 1)
	if _, err := c.Write([]byte(noLen)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Read(buf)
		done <- err
	}()
	n, _ = c.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 400 Content-Length Required\r\n") {
		t.Fatalf("no Content-Length: %q", buf[:n])
	}
	select {
	case err := <-done:
		if err != io.EOF {
			t.Fatalf("after the drain: %v, want io.EOF", err)
		}
	case <-time.After(g.drainGrace + 2*time.Second):
		t.Fatal("the connection did not close after the drain")
	}
	if st := g.stats(); st.Rejected != 2 || st.DroppedMalformed != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestGuardTrustsPeersCalled: an address callgate sent a request to counts as a
// trunk's (a trunk whose host is a DNS name answers from an address no inbound CIDR
// names); one it only answered does not.
func TestGuardTrustsPeersCalled(t *testing.T) {
	clock := newTestClock()
	g := testGuard(Limits{RatePerSource: 1, BurstPerSource: 1, TrunkRate: -1, BanFor: time.Minute}, clock)
	raw, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	conn := g.packetConn(raw)
	carrier := udpFrom(netip.MustParseAddr("127.0.0.61"), 5060)
	flooder := udpFrom(netip.MustParseAddr("127.0.0.62"), 5060)
	if _, err := conn.WriteTo([]byte(testInvite), carrier); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteTo([]byte("SIP/2.0 403 Forbidden\r\n\r\n"), flooder); err != nil {
		t.Fatal(err)
	}
	res := []byte("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	for i := range 100 {
		if g.datagram(carrier, res) == nil {
			t.Fatalf("answer %d from an address callgate called was dropped", i)
		}
	}
	g.datagram(flooder, res)
	g.datagram(flooder, res)
	if st := g.stats(); st.Bans != 1 || st.Banned != 1 {
		t.Fatalf("stats %+v: want the flooder (answered, never called) banned, the carrier not", st)
	}
	clock.advance(peerTTL + time.Second)
	g.sweep(clock.now())
	if g.isPeer(carrier.AddrPort().Addr().Unmap()) {
		t.Fatal("a peer is remembered past peerTTL")
	}
}

// BenchmarkSipgoParse is the reference for BenchmarkGuardAccept: sipgo's parse of the
// same INVITE, which the guard's check precedes.
func BenchmarkSipgoParse(b *testing.B) {
	p := sip.NewParser()
	invite := []byte(testInvite)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseSIP(invite); err != nil {
			b.Fatal(err)
		}
	}
}
