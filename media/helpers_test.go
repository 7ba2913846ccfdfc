package media

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// checkGoroutines fails the test if, a moment after it ends, more goroutines
// run than when it started. Call it first: t.Cleanup runs it last.
func checkGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			now := runtime.NumGoroutine()
			if now <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, now, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// fakeClock is a Clock that moves only when Advance is called.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
	added   chan struct{} // receives a value per NewTicker
}

var _ Clock = (*fakeClock)(nil)

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), added: make(chan struct{}, 64)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: c, d: d, next: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	select {
	case c.added <- struct{}{}:
	default:
	}
	return t
}

// Advance moves the clock and fires the tickers that came due (at most one
// tick each per call, like a slow reader of time.Ticker).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.tickers {
		if t.stopped || t.next.After(c.now) {
			continue
		}
		for !t.next.After(c.now) {
			t.next = t.next.Add(t.d)
		}
		select {
		case t.ch <- c.now:
		default:
		}
	}
}

type fakeTicker struct {
	c       *fakeClock
	d       time.Duration
	next    time.Time
	ch      chan time.Time
	stopped bool
}

func (t *fakeTicker) C() <-chan time.Time { return t.ch }

func (t *fakeTicker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.stopped = true
}

// peer is a plain UDP socket standing in for a SIP peer's RTP stack.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(to netip.AddrPort, pkt []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(pkt, to); err != nil {
		p.t.Fatal(err)
	}
}

// recv returns the next datagram, or nil after timeout.
func (p *peer) recv(timeout time.Duration) []byte {
	p.t.Helper()
	buf := make([]byte, 2048)
	_ = p.conn.SetReadDeadline(time.Now().Add(timeout))
	n, _, err := p.conn.ReadFromUDPAddrPort(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err != nil {
		p.t.Fatal(err)
	}
	return buf[:n]
}

// mustRecv returns the next datagram parsed, failing the test after 2 s.
func (p *peer) mustRecv() (Header, []byte) {
	p.t.Helper()
	pkt := p.recv(2 * time.Second)
	if pkt == nil {
		p.t.Fatal("no packet received")
	}
	var h Header
	off, err := h.Unmarshal(pkt)
	if err != nil {
		p.t.Fatalf("received bad rtp: %v", err)
	}
	return h, pkt[off : len(pkt)-int(h.PaddingSize)]
}

// rtpPacket builds an RTP packet.
func rtpPacket(pt uint8, marker bool, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	h := Header{Marker: marker, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}
	b := make([]byte, h.MarshalSize()+len(payload))
	n, _ := h.MarshalTo(b)
	copy(b[n:], payload)
	return b
}

// eventPayload builds an RFC 4733 payload.
func eventPayload(event uint8, end bool, volume uint8, duration uint16) []byte {
	p := []byte{event, volume & 0x3f, 0, 0}
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], duration)
	return p
}

func newTestPorts(t testing.TB, opts ...PortsOption) *Ports {
	t.Helper()
	// A range high in the ephemeral space; NewLeg skips ports in use.
	p, err := NewPorts(40000, 40999, 0, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestLeg(t testing.TB, ports *Ports, opts ...LegOption) *Leg {
	t.Helper()
	l, err := NewLeg(ports, loopback, append([]LegOption{WithBindAttempts(50)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// newTestRelay returns a relay with two workers, closed when the test ends;
// it skips the test where the relay does not exist.
func newTestRelay(t testing.TB) *Relay {
	t.Helper()
	r, err := NewRelay(2)
	if errors.Is(err, ErrRelayUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// forEachPath runs test once with legs relayed by bridge goroutines and once
// with legs on an epoll Relay; path is the option that selects it, to pass
// to every NewLeg of the test.
func forEachPath(t *testing.T, test func(t *testing.T, path ...LegOption)) {
	t.Helper()
	t.Run("goroutine", func(t *testing.T) {
		checkGoroutines(t)
		test(t)
	})
	t.Run("epoll", func(t *testing.T) {
		checkGoroutines(t)
		test(t, WithRelay(newTestRelay(t)))
	})
}
