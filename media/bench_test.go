package media

import (
	"testing"
	"time"
)

// BenchmarkForward measures the bridge's per-packet work without the
// sockets: parse the header, track the input stream, map the payload type and
// rewrite SSRC, sequence number and timestamp in place.
func BenchmarkForward(b *testing.B) {
	ports := newTestPorts(b)
	a, c := newTestLeg(b, ports), newTestLeg(b, ports)
	br := NewBridge(a, c, g711Config())
	defer br.Close()
	f := &br.flows[SideA]
	pkt := rtpPacket(0, false, 0, 0, 0x1111, make([]byte, 160))
	now := SystemClock().Now() // the relay takes it from the leg's read
	var h Header
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	seq, ts := uint16(0), uint32(0)
	for b.Loop() {
		seq++
		ts += 160
		now = now.Add(20 * time.Millisecond)
		SetSequenceNumber(pkt, seq)
		SetTimestamp(pkt, ts)
		SetSSRC(pkt, 0x1111)
		SetPayloadType(pkt, 0)
		off, err := h.Unmarshal(pkt)
		if err != nil {
			b.Fatal(err)
		}
		f.mu.Lock()
		send, _, _ := f.forward(pkt, &h, off, now)
		f.mu.Unlock()
		if !send {
			b.Fatal("dropped")
		}
	}
}

// BenchmarkBridgeLoopback sends G.711 packets from a peer through leg A, the
// bridge and leg B to another peer, one packet in flight at a time. allocs/op
// counts every goroutine of the process, so 0 proves the relay path
// allocates nothing per packet.
func BenchmarkBridgeLoopback(b *testing.B) {
	r := newRig(b, g711Config())
	r.br.Close() // the rig's bridge uses a fake clock; use the real one
	cfg := g711Config()
	br := NewBridge(r.a, r.b, cfg)
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	pkt := rtpPacket(0, false, 0, 0, 0x1111, make([]byte, 160))
	buf := make([]byte, 2048)
	dst := r.a.LocalAddr()
	// Warm up: latch and settle.
	r.pa.send(dst, pkt)
	r.pb.mustRecv()
	seq, ts := uint16(0), uint32(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		seq++
		ts += 160
		SetSequenceNumber(pkt, seq)
		SetTimestamp(pkt, ts)
		if _, err := r.pa.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.pb.conn.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}
