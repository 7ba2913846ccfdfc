// Package rtpecho is a carrier's media for the bench commands: UDP sockets bound with
// SO_REUSEPORT that send every RTP packet back where it came from, with the time it
// arrived written into its payload, batched with recvmmsg/sendmmsg.
//
// A stamped payload starts with StampLen bytes: the sender's send time t0 (int64,
// big endian, ns on the process's clock) at OffT0, the echo's arrival time t1 at
// OffT1, the call at OffCall and the packet's number within the call at OffSeq.
// Sender and echo run in one process so that both times come from one monotonic
// clock: t1-t0 is the one-way latency of the forward path.
package rtpecho

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Layout of a stamped payload.
const (
	HeaderLen = 12 // RTP header without CSRCs or extension
	OffT0     = 0  // int64: sent, ns on the process's clock
	OffT1     = 8  // int64: arrived at the echo
	OffCall   = 16 // uint32: call index
	OffSeq    = 20 // uint32: packet number within the call
	StampLen  = 24
	// Batch is how many datagrams one recvmmsg/sendmmsg moves at most.
	Batch = 64
)

// Stamp is the measurement a payload carries.
type Stamp struct {
	T0, T1 int64
	Call   uint32
	Seq    uint32
}

// Put writes s into the first StampLen bytes of p, which must be that long.
func (s Stamp) Put(p []byte) {
	_ = p[StampLen-1]
	binary.BigEndian.PutUint64(p[OffT0:], uint64(s.T0))
	binary.BigEndian.PutUint64(p[OffT1:], uint64(s.T1))
	binary.BigEndian.PutUint32(p[OffCall:], s.Call)
	binary.BigEndian.PutUint32(p[OffSeq:], s.Seq)
}

// ReadStamp reads the stamp of an RTP packet; ok is false if b is not one that can
// hold a stamped payload.
func ReadStamp(b []byte) (s Stamp, ok bool) {
	off, ok := PayloadOffset(b)
	if !ok {
		return s, false
	}
	p := b[off:]
	return Stamp{
		T0:   int64(binary.BigEndian.Uint64(p[OffT0:])),
		T1:   int64(binary.BigEndian.Uint64(p[OffT1:])),
		Call: binary.BigEndian.Uint32(p[OffCall:]),
		Seq:  binary.BigEndian.Uint32(p[OffSeq:]),
	}, true
}

// PayloadOffset finds the payload of an RTP packet (an edge may rewrite the header,
// add CSRCs or an extension); ok is false if b is too short to hold a stamped
// payload.
func PayloadOffset(b []byte) (int, bool) {
	if len(b) < HeaderLen || b[0]>>6 != 2 {
		return 0, false
	}
	off := HeaderLen + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return 0, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	return off, len(b) >= off+StampLen
}

// Window holds the bounds of a measured window on the process's clock: a packet
// counts toward it when its send time t0 falls inside. The zero Window is closed.
type Window struct{ start, end atomic.Int64 }

// Open starts the window at start (> 0), open-ended until Close.
func (w *Window) Open(start int64) {
	w.end.Store(1<<63 - 1)
	w.start.Store(start)
}

// Close ends the window at end.
func (w *Window) Close(end int64) { w.end.Store(end) }

// In reports whether t0 falls inside the window.
func (w *Window) In(t0 int64) bool {
	s := w.start.Load()
	return s > 0 && t0 >= s && t0 < w.end.Load()
}

// Server is the echo.
type Server struct {
	now   func() int64
	conns []*net.UDPConn
	win   Window

	mu       sync.Mutex
	received int64
	sent     int64
}

// Start binds n sockets (at least one) on addr with SO_REUSEPORT, 8 MiB buffers each,
// and serves each from its own goroutine until Close. now is the clock written as t1:
// the senders' clock.
func Start(addr netip.AddrPort, n int, now func() int64) (*Server, error) {
	e := &Server{now: now}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	for range max(n, 1) {
		pc, err := lc.ListenPacket(context.Background(), "udp4", addr.String())
		if err != nil {
			e.Close()
			return nil, err
		}
		c := pc.(*net.UDPConn)
		_ = c.SetReadBuffer(8 << 20)
		_ = c.SetWriteBuffer(8 << 20)
		e.conns = append(e.conns, c)
		go e.serve(c)
	}
	return e, nil
}

// Addr is the address the echo listens on (its port, if Start was given port 0).
func (e *Server) Addr() netip.AddrPort {
	return e.conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close closes the sockets; calling it again does nothing harmful.
func (e *Server) Close() {
	for _, c := range e.conns {
		_ = c.Close()
	}
}

func (e *Server) serve(c *net.UDPConn) {
	pc := ipv4.NewPacketConn(c)
	in := make([]ipv4.Message, Batch)
	out := make([]ipv4.Message, Batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			return
		}
		t1 := e.now()
		k, counted := 0, 0
		for _, m := range in[:n] {
			b := m.Buffers[0][:m.N]
			off, ok := PayloadOffset(b)
			if !ok {
				continue
			}
			p := b[off:]
			binary.BigEndian.PutUint64(p[OffT1:], uint64(t1))
			if e.win.In(int64(binary.BigEndian.Uint64(p[OffT0:]))) {
				counted++
			}
			out[k] = ipv4.Message{Buffers: [][]byte{b}, Addr: m.Addr}
			k++
		}
		sent := 0
		for sent < k {
			w, err := pc.WriteBatch(out[sent:k], 0)
			if err != nil {
				break
			}
			sent += w
		}
		if counted > 0 {
			e.mu.Lock()
			e.received += int64(counted)
			// Packets of the window echoed (a short write loses the tail).
			e.sent += int64(min(counted, sent))
			e.mu.Unlock()
		}
	}
}

// ResetWindow zeroes the counts and opens the window at start.
func (e *Server) ResetWindow(start int64) {
	e.mu.Lock()
	e.received, e.sent = 0, 0
	e.mu.Unlock()
	e.win.Open(start)
}

// CloseWindow closes the window at end.
func (e *Server) CloseWindow(end int64) { e.win.Close(end) }

// Counts returns the packets sent in the window that arrived and that were echoed.
func (e *Server) Counts() (received, sent int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.received, e.sent
}
