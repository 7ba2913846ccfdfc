package main

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// echoServer is carrier B's media: every packet goes back to where it came from,
// stamped with the time it arrived.
type echoServer struct {
	conns []*net.UDPConn
	win   window

	mu       sync.Mutex
	received int64
	sent     int64
}

func startEcho(addr netip.AddrPort, n int) (*echoServer, error) {
	e := &echoServer{}
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
			e.close()
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

func (e *echoServer) close() {
	for _, c := range e.conns {
		c.Close()
	}
}

func (e *echoServer) serve(c *net.UDPConn) {
	pc := ipv4.NewPacketConn(c)
	in := make([]ipv4.Message, batch)
	out := make([]ipv4.Message, batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			return
		}
		t1 := now()
		k, counted := 0, 0
		for _, m := range in[:n] {
			b := m.Buffers[0][:m.N]
			off, ok := payloadOffset(b)
			if !ok {
				continue
			}
			p := b[off:]
			binary.BigEndian.PutUint64(p[offT1:], uint64(t1))
			if e.win.in(int64(binary.BigEndian.Uint64(p[offT0:]))) {
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

func (e *echoServer) resetWindow(at time.Time) {
	e.mu.Lock()
	e.received, e.sent = 0, 0
	e.mu.Unlock()
	e.win.open(at)
}

func (e *echoServer) closeWindow(at time.Time) { e.win.close(at) }

func (e *echoServer) fill(r *stepResult) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.EchoReceived, r.EchoSent = e.received, e.sent
}
