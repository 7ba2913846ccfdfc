package media

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Leg is one RTP endpoint toward a SIP peer: a UDP socket on a port taken
// from Ports, the peer's address, and counters.
//
// A leg does symmetric RTP (RFC 4961 style latching): it sends to the
// address set with SetRemote until the first valid RTP packet arrives, and
// from then on to the source address of the most recent valid RTP packet. If
// packets start arriving from a new address (a re-INVITE, a NAT rebinding)
// the leg follows them at once and logs the change (at most once a second).
//
// A leg reads and counts only valid RTP: datagrams shorter than 12 bytes,
// of a version other than 2, with an inconsistent header, or with an RTCP
// packet type (RFC 5761 demultiplexing: second byte 192-223) are dropped and
// counted, and never move the latch.
//
// One goroutine at a time may call ReadRTP (a Bridge is that goroutine while
// it runs); WriteRTP, SetRemote, Stats and Close are safe for concurrent use.
//
// A leg created WithRelay has a raw socket instead of a *net.UDPConn, and a
// Bridge has the Relay's workers read it rather than a goroutine (relay.go).
type Leg struct {
	conn  *net.UDPConn // the goroutine path's socket; nil with raw
	raw   *rawSocket   // a relay leg's socket (WithRelay); nil without
	ports *Ports
	port  int
	local netip.AddrPort
	ssrc  uint32
	log   *slog.Logger
	clock Clock

	remote  atomic.Pointer[peerAddr] // send address; nil until known
	latched atomic.Bool              // remote came from a received packet
	bridged atomic.Bool

	closeOnce sync.Once
	closeErr  error

	packetsIn, bytesIn   atomic.Uint64
	packetsOut, bytesOut atomic.Uint64
	dropped, sendErrors  atomic.Uint64
	noRemote, relatches  atomic.Uint64
	lastReceived         atomic.Int64 // unix nanoseconds, 0 = never
	lastLatchLog         atomic.Int64 // unix nanoseconds
	rx                   rxQuality    // loss and jitter of received RTP (stats.go)
}

// LegStats is a snapshot of a leg's counters: a *Leg's or a *BrowserLeg's.
type LegStats struct {
	PacketsIn, BytesIn   uint64 // valid RTP received
	PacketsOut, BytesOut uint64 // RTP sent
	// PacketsDropped counts received datagrams that were not valid RTP.
	PacketsDropped uint64
	// NoRemote counts packets not sent because no remote address was known.
	NoRemote uint64
	// SendErrors counts failed sends.
	SendErrors uint64
	// Relatches counts moves of the send address to a new source after the
	// first latch.
	Relatches uint64
	// Discarded counts valid RTP read and thrown away because no bridge held
	// the leg (a browser leg between calls); they are in PacketsIn too.
	Discarded uint64
	// NotSent counts packets given to WriteRTP that the leg cannot carry and
	// dropped: telephone-event toward a browser leg.
	NotSent uint64
	// LastReceived is when the last valid RTP packet arrived; zero if none
	// has. Compare it with the clock to detect a dead peer (RTP timeout).
	LastReceived time.Time
	// PacketsLost is the received RTP packets that never arrived, from the gaps in
	// their sequence numbers (RFC 3550 A.1), over every source the leg heard.
	// Measured by SIP legs (*Leg); zero for a browser leg.
	PacketsLost uint64
	// Jitter is the interarrival jitter of the received RTP (RFC 3550 A.8) of the
	// current source. Measured by SIP legs (*Leg); zero for a browser leg.
	Jitter time.Duration
}

// LegOption configures NewLeg.
type LegOption func(*legConfig) error

type legConfig struct {
	log       *slog.Logger
	clock     Clock
	ssrc      uint32
	haveSSRC  bool
	rcvBuf    int
	sndBuf    int
	bindTries int
	relay     *Relay
}

// WithLogger sets the logger a leg reports latching on. The default discards.
func WithLogger(l *slog.Logger) LegOption {
	return func(c *legConfig) error {
		if l == nil {
			return errors.New("media: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithClock sets the clock a leg stamps received packets with.
func WithClock(k Clock) LegOption {
	return func(c *legConfig) error {
		if k == nil {
			return errors.New("media: nil clock")
		}
		c.clock = k
		return nil
	}
}

// WithSSRC sets the leg's own SSRC, the one a Bridge writes on packets sent
// through this leg. The default is random.
func WithSSRC(ssrc uint32) LegOption {
	return func(c *legConfig) error {
		c.ssrc, c.haveSSRC = ssrc, true
		return nil
	}
}

// WithSocketBuffers sets the socket's receive and send buffer sizes in
// bytes; zero keeps the system default.
func WithSocketBuffers(receive, send int) LegOption {
	return func(c *legConfig) error {
		if receive < 0 || send < 0 {
			return errors.New("media: negative socket buffer size")
		}
		c.rcvBuf, c.sndBuf = receive, send
		return nil
	}
}

// WithBindAttempts sets how many ports NewLeg tries when the ones it acquires
// are held by another program. The default is 8.
func WithBindAttempts(n int) LegOption {
	return func(c *legConfig) error {
		if n < 1 {
			return errors.New("media: bind attempts must be at least 1")
		}
		c.bindTries = n
		return nil
	}
}

// NewLeg acquires a port from ports and opens a UDP socket on bindIP:port.
// If another program holds the port, the port goes back to ports (to cool
// down) and NewLeg tries the next one, up to WithBindAttempts times. It
// returns ErrNoPorts when ports is exhausted.
//
// If bindIP is unspecified (0.0.0.0 or ::), LocalAddr reports it as such:
// the address to advertise in SDP is the caller's to choose.
func NewLeg(ports *Ports, bindIP netip.Addr, opts ...LegOption) (*Leg, error) {
	if ports == nil || !bindIP.IsValid() {
		return nil, errors.New("media: NewLeg needs ports and a bind address")
	}
	cfg := legConfig{
		log:       slog.New(slog.DiscardHandler),
		clock:     SystemClock(),
		bindTries: 8,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if !cfg.haveSSRC {
		cfg.ssrc = rand.Uint32()
	}
	network := "udp"
	if bindIP.Unmap().Is4() {
		network, bindIP = "udp4", bindIP.Unmap()
	}
	var lastErr error
	for range cfg.bindTries {
		port, err := ports.Acquire()
		if err != nil {
			if lastErr != nil {
				return nil, fmt.Errorf("%w (after: %w)", err, lastErr)
			}
			return nil, err
		}
		l := &Leg{ports: ports, port: port, ssrc: cfg.ssrc, log: cfg.log, clock: cfg.clock}
		if cfg.relay != nil {
			l.raw, l.local, err = openRawSocket(cfg.relay, bindIP, port, cfg.rcvBuf, cfg.sndBuf)
		} else {
			l.conn, l.local, err = openConn(network, bindIP, port, cfg.rcvBuf, cfg.sndBuf)
		}
		if err != nil {
			ports.Release(port)
			if !errors.Is(err, syscall.EADDRINUSE) {
				return nil, err
			}
			lastErr = err
			continue
		}
		return l, nil
	}
	return nil, fmt.Errorf("media: %d rtp ports held by other programs: %w", cfg.bindTries, lastErr)
}

// openConn opens the goroutine path's socket. A port held by another
// program is an error wrapping syscall.EADDRINUSE.
func openConn(network string, ip netip.Addr, port, rcv, snd int) (*net.UDPConn, netip.AddrPort, error) {
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, netip.AddrPort{}, err
		}
		return nil, netip.AddrPort{}, fmt.Errorf("media: open rtp socket: %w", err)
	}
	if err := setBuffers(conn, rcv, snd); err != nil {
		conn.Close()
		return nil, netip.AddrPort{}, err
	}
	return conn, conn.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

func setBuffers(c *net.UDPConn, rcv, snd int) error {
	if rcv > 0 {
		if err := c.SetReadBuffer(rcv); err != nil {
			return fmt.Errorf("media: set receive buffer: %w", err)
		}
	}
	if snd > 0 {
		if err := c.SetWriteBuffer(snd); err != nil {
			return fmt.Errorf("media: set send buffer: %w", err)
		}
	}
	return nil
}

// LocalAddr returns the address the leg's socket is bound to.
func (l *Leg) LocalAddr() netip.AddrPort { return l.local }

// SSRC returns the leg's own synchronisation source: packets a Bridge sends
// through this leg carry it.
func (l *Leg) SSRC() uint32 { return l.ssrc }

// SetRemote sets the address to send to, normally the c= address and m=
// port of the peer's SDP, and clears the latch: the leg sends to addr until
// the next valid RTP packet arrives, then latches to that packet's source. An
// invalid or unspecified address (c=0.0.0.0, port 0) makes the leg send
// nowhere until a packet arrives.
func (l *Leg) SetRemote(addr netip.AddrPort) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	l.latched.Store(false)
	if !addr.IsValid() || addr.Addr().IsUnspecified() || addr.Port() == 0 {
		l.remote.Store(nil)
		return
	}
	l.remote.Store(l.newPeerAddr(addr))
}

// Remote returns the address the leg sends to now, and whether it was
// latched from a received packet (rather than set by SetRemote). It is the
// zero AddrPort if no address is known.
func (l *Leg) Remote() (addr netip.AddrPort, latched bool) {
	if p := l.remote.Load(); p != nil {
		addr = p.addr
	}
	return addr, l.latched.Load()
}

// Stats returns a snapshot of the leg's counters. It is safe to call while
// packets flow.
func (l *Leg) Stats() LegStats {
	s := LegStats{
		PacketsIn:      l.packetsIn.Load(),
		BytesIn:        l.bytesIn.Load(),
		PacketsOut:     l.packetsOut.Load(),
		BytesOut:       l.bytesOut.Load(),
		PacketsDropped: l.dropped.Load(),
		NoRemote:       l.noRemote.Load(),
		SendErrors:     l.sendErrors.Load(),
		Relatches:      l.relatches.Load(),
	}
	if ns := l.lastReceived.Load(); ns != 0 {
		s.LastReceived = time.Unix(0, ns)
	}
	s.PacketsLost, s.Jitter = l.rx.snapshot()
	return s
}

// ReadRTP reads the next valid RTP packet into b, parses its header into h
// and returns the packet length and payload offset (see Header.Unmarshal).
// Datagrams that are not valid RTP are counted and skipped. A datagram that
// fills b entirely may have been truncated and is dropped too, so b should
// have room for the largest packet expected plus one byte (a Bridge uses
// 2048). It returns the socket's error when the leg is closed (net.ErrClosed)
// or a read deadline passes. A leg created WithRelay polls its socket
// (without a deadline) and must not be read while in a running bridge.
func (l *Leg) ReadRTP(b []byte, h *Header) (n, payloadOffset int, err error) {
	n, payloadOffset, _, err = l.readRTP(b, h)
	return n, payloadOffset, err
}

// readRTP is ReadRTP that also returns the arrival time, so that the relay
// reads the clock once per packet.
func (l *Leg) readRTP(b []byte, h *Header) (n, payloadOffset int, at time.Time, err error) {
	for {
		var src netip.AddrPort
		if l.raw != nil {
			n, src, err = l.raw.read(b)
		} else {
			n, src, err = l.conn.ReadFromUDPAddrPort(b)
		}
		if err != nil {
			return 0, 0, time.Time{}, err
		}
		if off, at, ok := l.accept(b, n, src, h); ok {
			return n, off, at, nil
		}
	}
}

// accept is what a leg does with each datagram it receives, on either path
// (readRTP, or a Relay worker): it drops and counts one that is not valid
// RTP, else parses its header into h, counts it, measures loss and jitter and
// latches to src. b is the whole receive buffer and n the datagram's length:
// one that fills b may have been truncated and is dropped. It reports the
// payload offset and arrival time, and whether the packet is to be relayed.
// One goroutine at a time calls it; it allocates nothing.
func (l *Leg) accept(b []byte, n int, src netip.AddrPort, h *Header) (payloadOffset int, at time.Time, ok bool) {
	if n < HeaderSize || n == len(b) || b[0]>>6 != RTPVersion || isRTCP(b[1]) {
		l.dropped.Add(1)
		return 0, time.Time{}, false
	}
	off, err := h.Unmarshal(b[:n])
	if err != nil {
		l.dropped.Add(1)
		return 0, time.Time{}, false
	}
	now := l.clock.Now()
	l.packetsIn.Add(1)
	l.bytesIn.Add(uint64(n))
	l.lastReceived.Store(now.UnixNano())
	l.rx.update(h, now)
	l.latch(src, now)
	return off, now, true
}

// isRTCP reports whether the second byte of a datagram is an RTCP packet
// type (RFC 5761 section 4: 192-223), i.e. RTCP multiplexed on the RTP port.
func isRTCP(b1 byte) bool { return b1 >= 192 && b1 <= 223 }

// latch points the send address at src if it is not there already.
func (l *Leg) latch(src netip.AddrPort, now time.Time) {
	if src.Addr().Is4In6() {
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	}
	cur := l.remote.Load()
	if cur != nil && cur.addr == src {
		if !l.latched.Load() {
			l.latched.Store(true)
		}
		return
	}
	wasLatched := l.latched.Swap(true)
	l.remote.Store(l.newPeerAddr(src)) // allocated only when the address changes
	var from netip.AddrPort
	if cur != nil {
		from = cur.addr
	}
	if !wasLatched {
		l.log.Debug("rtp latched", "local", l.local, "signalled", from, "source", src)
		return
	}
	l.relatches.Add(1)
	last := l.lastLatchLog.Load()
	if now.UnixNano()-last >= int64(time.Second) && l.lastLatchLog.CompareAndSwap(last, now.UnixNano()) {
		l.log.Info("rtp source changed, re-latched", "local", l.local, "from", from, "to", src,
			"relatches", l.relatches.Load())
	}
}

// WriteRTP sends one packet to the current remote address. With no address
// known yet it drops the packet, counts it in NoRemote and returns nil. A leg
// created WithRelay never blocks: a full socket send buffer is an error
// (syscall.EAGAIN), counted in SendErrors like any failed send.
func (l *Leg) WriteRTP(pkt []byte) error {
	dst := l.remote.Load()
	if dst == nil {
		l.noRemote.Add(1)
		return nil
	}
	var n int
	var err error
	if l.raw != nil {
		n, err = l.raw.send(pkt, &dst.sa)
	} else {
		n, err = l.conn.WriteToUDPAddrPort(pkt, dst.addr)
	}
	if err != nil {
		l.sendErrors.Add(1)
		return err
	}
	l.packetsOut.Add(1)
	l.bytesOut.Add(uint64(n))
	return nil
}

// Close closes the socket and returns the port to Ports, where it cools
// down before reuse. A relay leg still registered with its Relay (a running
// bridge's input) is removed from it first; that direction of the bridge
// stops. Calling Close again returns the first call's result.
func (l *Leg) Close() error {
	l.closeOnce.Do(func() {
		if l.raw != nil {
			l.closeErr = l.raw.close()
		} else {
			l.closeErr = l.conn.Close()
		}
		l.ports.Release(l.port)
	})
	return l.closeErr
}

// interruptRead makes a blocked ReadRTP return with a deadline error; a
// Bridge uses it to stop its reader without closing the leg.
func (l *Leg) interruptRead() {
	if l.raw != nil {
		l.raw.setInterrupted(true)
		return
	}
	_ = l.conn.SetReadDeadline(time.Unix(1, 0))
}

// resumeRead clears the deadline set by interruptRead.
func (l *Leg) resumeRead() {
	if l.raw != nil {
		l.raw.setInterrupted(false)
		return
	}
	_ = l.conn.SetReadDeadline(time.Time{})
}

// attach hands the reading of f's input, this leg, to the leg's Relay. It
// reports false if the leg has no relay or the relay cannot take it (closed):
// the bridge then reads the leg on a goroutine.
func (l *Leg) attach(f *flow) bool { return l.raw != nil && l.raw.attach(l, f) == nil }

// detach takes f back from the relay; when it returns no relay worker
// touches f. It does nothing if f is not attached (any more).
func (l *Leg) detach(f *flow) {
	if l.raw != nil {
		l.raw.detach(f)
	}
}

// claim marks the leg as held by a bridge; false if one holds it already.
func (l *Leg) claim() bool { return l.bridged.CompareAndSwap(false, true) }

// release marks the leg as free for another bridge.
func (l *Leg) release() { l.bridged.Store(false) }
