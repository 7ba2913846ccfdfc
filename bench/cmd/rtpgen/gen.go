package main

import (
	"callgate/bench/internal/benchkit"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// Packet layout: a 12-byte RTP header, then a 160-byte G.711 payload (20 ms) whose
// first 24 bytes carry the measurement, the rest μ-law silence.
const (
	rtpHeader  = 12
	payloadLen = 160
	packetLen  = rtpHeader + payloadLen
	offT0      = 0  // int64: sent by A, ns on this process's clock
	offT1      = 8  // int64: arrived at the echo
	offCall    = 16 // uint32: call index
	offSeq     = 20 // uint32: packet number within the call
	stampLen   = 24
	batch      = 64
	maxCalls   = 1 << 16
)

// clock is ns on the monotonic clock since the process started.
var base = time.Now()

func now() int64 { return int64(time.Since(base)) }

// payloadOffset finds the payload of an RTP packet (the edge may rewrite the
// header); ok is false if b is too short to hold a stamped payload.
func payloadOffset(b []byte) (int, bool) {
	if len(b) < rtpHeader || b[0]>>6 != 2 {
		return 0, false
	}
	off := rtpHeader + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return 0, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	return off, len(b) >= off+stampLen
}

// window holds the bounds of the measured window: packets count toward it when
// their send time t0 falls inside.
type window struct{ start, end atomic.Int64 }

func (w *window) open(at time.Time) {
	w.end.Store(1<<63 - 1)
	w.start.Store(int64(at.Sub(base)))
}

func (w *window) close(at time.Time) { w.end.Store(int64(at.Sub(base))) }

func (w *window) in(t0 int64) bool {
	s := w.start.Load()
	return s > 0 && t0 >= s && t0 < w.end.Load()
}

// call is one stream of carrier A.
type call struct {
	idx  int
	sock int
	dst  *net.UDPAddr
	seq  uint16
	ts   uint32
	ssrc uint32
	n    uint32

	// jitter (RFC 3550 style, on t2 - t0), updated by the one receiver of sock.
	lastTransit int64
	jitter      float64
	seen        bool
}

// generator sends every call's packets and receives them back.
type generator struct {
	pt    uint8
	socks []*sock
	slots []atomic.Pointer[call]
	next  atomic.Int64 // next call index
	live  atomic.Int64
	win   window
	done  chan struct{}
	once  sync.Once
}

type sock struct {
	conn *net.UDPConn
	pc   *ipv4.PacketConn
	port int

	mu      sync.Mutex
	buckets [20][]*call // by the millisecond of the 20 ms frame each call sends in

	statMu   sync.Mutex
	sent     int64
	received int64
	fwd, ret *benchkit.LatencyHist
}

func newGenerator(ip string, n int, pt int) (*generator, error) {
	g := &generator{pt: uint8(pt), slots: make([]atomic.Pointer[call], maxCalls), done: make(chan struct{})}
	for range n {
		c, err := net.ListenUDP("udp4", localAddr(ip))
		if err != nil {
			g.close()
			return nil, err
		}
		_ = c.SetReadBuffer(8 << 20)
		_ = c.SetWriteBuffer(8 << 20)
		g.socks = append(g.socks, &sock{conn: c, pc: ipv4.NewPacketConn(c), port: c.LocalAddr().(*net.UDPAddr).Port,
			fwd: benchkit.NewLatencyHist(), ret: benchkit.NewLatencyHist()})
	}
	return g, nil
}

func (g *generator) close() {
	g.stop()
	for _, s := range g.socks {
		s.conn.Close()
	}
}

func (g *generator) stop() { g.once.Do(func() { close(g.done) }) }

func (g *generator) calls() int { return int(g.live.Load()) }

// reserve takes a call index and returns it with the local RTP port it will use.
func (g *generator) reserve() (int, int) {
	i := int(g.next.Add(1) - 1)
	return i, g.socks[i%len(g.socks)].port
}

// activate starts call i streaming to dst.
func (g *generator) activate(i int, dst netip.AddrPort) {
	c := &call{idx: i, sock: i % len(g.socks), dst: net.UDPAddrFromAddrPort(dst), ssrc: 0x5eed0000 + uint32(i),
		seq: uint16(i * 97), ts: uint32(i) * 7919}
	g.slots[i].Store(c)
	s := g.socks[c.sock]
	b := (i * 7) % 20
	s.mu.Lock()
	s.buckets[b] = append(s.buckets[b], c)
	s.mu.Unlock()
	g.live.Add(1)
}

// addCall reserves and activates a call to dst (direct mode).
func (g *generator) addCall(dst netip.AddrPort) {
	i, _ := g.reserve()
	g.activate(i, dst)
}

// run starts one sender for every socket and a receiver per socket.
func (g *generator) run(ctx context.Context) {
	for _, s := range g.socks {
		go g.receive(s)
	}
	go g.send(ctx)
}

// send wakes every millisecond and sends, socket by socket in batches, the packets
// of the calls whose millisecond of the 20 ms frame came due. One goroutine does it
// all: fewer wake-ups, bigger batches.
func (g *generator) send(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, packetLen)
		for j := rtpHeader + stampLen; j < packetLen; j++ {
			bufs[i][j] = 0xff
		}
	}
	ms := make([]ipv4.Message, batch)
	lastMS := time.Since(base).Milliseconds()
	var due []*call
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.done:
			return
		case <-t.C:
		}
		nowMS := time.Since(base).Milliseconds()
		// Catch up on the milliseconds missed (a descheduled sender), up to 10 frames:
		// a late packet is sent late, not skipped; a longer stall loses packets.
		from := max(lastMS+1, nowMS-200)
		lastMS = nowMS
		for _, s := range g.socks {
			due = due[:0]
			s.mu.Lock()
			for m := from; m <= nowMS; m++ {
				due = append(due, s.buckets[m%20]...)
			}
			s.mu.Unlock()
			for len(due) > 0 {
				n := min(len(due), batch)
				t0 := now()
				for i, c := range due[:n] {
					b := bufs[i]
					b[0], b[1] = 0x80, g.pt
					binary.BigEndian.PutUint16(b[2:], c.seq)
					binary.BigEndian.PutUint32(b[4:], c.ts)
					binary.BigEndian.PutUint32(b[8:], c.ssrc)
					p := b[rtpHeader:]
					binary.BigEndian.PutUint64(p[offT0:], uint64(t0))
					binary.BigEndian.PutUint64(p[offT1:], 0)
					binary.BigEndian.PutUint32(p[offCall:], uint32(c.idx))
					binary.BigEndian.PutUint32(p[offSeq:], c.n)
					c.seq++
					c.ts += 160
					c.n++
					ms[i] = ipv4.Message{Buffers: [][]byte{b}, Addr: c.dst}
				}
				sent := 0
				for sent < n {
					k, err := s.pc.WriteBatch(ms[sent:n], 0)
					if err != nil {
						break // a closed socket at the end, or ENOBUFS: the packets are lost
					}
					sent += k
				}
				if g.win.in(t0) {
					s.statMu.Lock()
					s.sent += int64(sent)
					s.statMu.Unlock()
				}
				due = due[n:]
			}
		}
	}
}

// receive reads packets coming back and measures them.
func (g *generator) receive(s *sock) {
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	for {
		n, err := s.pc.ReadBatch(ms, 0)
		if err != nil {
			return
		}
		t2 := now()
		s.statMu.Lock()
		for _, m := range ms[:n] {
			b := m.Buffers[0][:m.N]
			off, ok := payloadOffset(b)
			if !ok {
				continue
			}
			p := b[off:]
			t0 := int64(binary.BigEndian.Uint64(p[offT0:]))
			t1 := int64(binary.BigEndian.Uint64(p[offT1:]))
			idx := int(binary.BigEndian.Uint32(p[offCall:]))
			if idx >= maxCalls {
				continue
			}
			if c := g.slots[idx].Load(); c != nil {
				transit := t2 - t0
				if c.seen {
					d := transit - c.lastTransit
					if d < 0 {
						d = -d
					}
					c.jitter += (float64(d) - c.jitter) / 16
				}
				c.lastTransit, c.seen = transit, true
			}
			if !g.win.in(t0) || t1 == 0 {
				continue
			}
			s.received++
			s.fwd.Add(float64(t1-t0) / 1e3)
			s.ret.Add(float64(t2-t1) / 1e3)
		}
		s.statMu.Unlock()
	}
}

func (g *generator) resetWindow(at time.Time) {
	for _, s := range g.socks {
		s.statMu.Lock()
		s.sent, s.received = 0, 0
		s.fwd.Reset()
		s.ret.Reset()
		s.statMu.Unlock()
	}
	g.win.open(at)
}

func (g *generator) closeWindow(at time.Time) { g.win.close(at) }

// fill adds A's figures of the window to r.
func (g *generator) fill(r *stepResult) {
	fwd, ret := benchkit.NewLatencyHist(), benchkit.NewLatencyHist()
	for _, s := range g.socks {
		s.statMu.Lock()
		r.Sent += s.sent
		r.Received += s.received
		fwd.Merge(s.fwd)
		ret.Merge(s.ret)
		s.statMu.Unlock()
	}
	r.Forward, r.Return = fwd.Summary(), ret.Summary()
	var sum, mx float64
	var n int
	for i := range g.next.Load() {
		c := g.slots[i].Load()
		if c == nil {
			continue
		}
		s := g.socks[c.sock]
		s.statMu.Lock() // the receiver updates jitter under it
		j := c.jitter / 1e3
		s.statMu.Unlock()
		sum += j
		mx = max(mx, j)
		n++
	}
	if n > 0 {
		r.JitterMeanUS, r.JitterMaxUS = sum/float64(n), mx
	}
}
