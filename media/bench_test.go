package media

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
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
// bridge and leg B to another peer, one packet in flight at a time, with the
// legs relayed by bridge goroutines and by an epoll Relay. allocs/op counts
// every goroutine of the process, so 0 proves the relay path allocates
// nothing per packet.
func BenchmarkBridgeLoopback(b *testing.B) {
	b.Run("goroutine", func(b *testing.B) { benchmarkBridgeLoopback(b) })
	b.Run("epoll", func(b *testing.B) { benchmarkBridgeLoopback(b, WithRelay(newTestRelay(b))) })
}

func benchmarkBridgeLoopback(b *testing.B, path ...LegOption) {
	r := newRig(b, g711Config(), path...)
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
	_ = r.pb.conn.SetReadDeadline(time.Now().Add(time.Minute)) // mustRecv's 2 s are too short
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

// BenchmarkManyCalls relays packets through 500 bridges at once the way
// calls send them: every op is one 20 ms packetization interval in which each
// call's leg A gets one G.711 packet from a sender socket, spread evenly over
// the interval (a slice of the calls every millisecond). Each bridge relays to
// its leg B, and every leg B sends to one sink socket. It reports the
// process's CPU time (getrusage: user + system, all threads) per packet the
// sink received, in cpu-ns/pkt, the share of packets lost, and the 50th and
// 99th percentile of the time from send to the sink's read (p50-µs, p99-µs).
// "direct" sends the same packets straight to the sink, no bridge: the
// sender's and sink's share of the others' figures.
func BenchmarkManyCalls(b *testing.B) {
	const calls = 500
	b.Run("direct", func(b *testing.B) { benchmarkManyCalls(b, calls, false) })
	b.Run("goroutine", func(b *testing.B) { benchmarkManyCalls(b, calls, true) })
	b.Run("epoll", func(b *testing.B) { benchmarkManyCalls(b, calls, true, WithRelay(newTestRelay(b))) })
}

func benchmarkManyCalls(b *testing.B, calls int, bridged bool, path ...LegOption) {
	ports, err := NewPorts(50000, 53999, 0) // 2,000 legs, above other tests' ranges
	if err != nil {
		b.Fatal(err)
	}
	src, sink := newPeer(b), newPeer(b)
	_ = sink.conn.SetReadBuffer(8 << 20)
	dsts := make([]netip.AddrPort, calls)
	for i := range dsts {
		dsts[i] = sink.addr()
		if !bridged {
			continue
		}
		a := newTestLeg(b, ports, path...)
		l := newTestLeg(b, ports, path...)
		l.SetRemote(sink.addr())
		br := NewBridge(a, l, g711Config())
		if err := br.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { br.Close() })
		dsts[i] = a.LocalAddr()
	}

	var got atomic.Int64 // packets at the sink
	var lat latencyHistogram
	var measuring atomic.Bool
	base := time.Now()
	sinkDone := make(chan struct{})
	go func() {
		defer close(sinkDone)
		buf := make([]byte, 2048)
		for {
			n, _, err := sink.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if measuring.Load() && n >= HeaderSize+8 {
				sent := time.Duration(binary.BigEndian.Uint64(buf[HeaderSize:]))
				lat.add(time.Since(base) - sent)
			}
			got.Add(1)
		}
	}()
	const slices = 20 // 1 ms each
	per := (len(dsts) + slices - 1) / slices
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	pkt := rtpPacket(0, false, 0, 0, 0x1111, make([]byte, 160))
	seq, sent := uint16(0), int64(0)
	frame := func() {
		seq++
		SetSequenceNumber(pkt, seq)
		SetTimestamp(pkt, uint32(seq)*160)
		for i := 0; i < len(dsts); i += per {
			<-tick.C
			for _, d := range dsts[i:min(i+per, len(dsts))] {
				binary.BigEndian.PutUint64(pkt[HeaderSize:], uint64(time.Since(base)))
				if _, err := src.conn.WriteToUDPAddrPort(pkt, d); err != nil {
					b.Fatal(err)
				}
				sent++
			}
		}
	}
	settle := func() {
		for deadline := time.Now().Add(200 * time.Millisecond); got.Load() < sent && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	for range 3 { // warm up: latch, fill caches
		frame()
	}
	settle()

	b.ReportAllocs()
	measuring.Store(true)
	start, sent0, cpu0 := got.Load(), sent, processCPU(b)
	for b.Loop() {
		frame()
	}
	settle()
	cpu, packets := processCPU(b)-cpu0, got.Load()-start
	measuring.Store(false)
	sink.conn.Close()
	<-sinkDone
	b.ReportMetric(0, "ns/op")
	if packets > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(packets), "cpu-ns/pkt")
		b.ReportMetric(1-float64(packets)/float64(sent-sent0), "lost")
		b.ReportMetric(float64(lat.quantile(0.50))/1e3, "p50-µs")
		b.ReportMetric(float64(lat.quantile(0.99))/1e3, "p99-µs")
	}
}

// latencyHistogram counts durations in 10 µs buckets up to 20 ms; it is
// written by one goroutine and read after it stopped.
type latencyHistogram struct {
	buckets [2001]uint64 // the last one: 20 ms and more
	n       uint64
}

func (h *latencyHistogram) add(d time.Duration) {
	i := min(max(int(d/(10*time.Microsecond)), 0), len(h.buckets)-1)
	h.buckets[i]++
	h.n++
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *latencyHistogram) quantile(q float64) time.Duration {
	want, seen := uint64(q*float64(h.n)), uint64(0)
	for i, c := range h.buckets {
		seen += c
		if seen > want {
			return time.Duration(i+1) * 10 * time.Microsecond
		}
	}
	return time.Duration(len(h.buckets)) * 10 * time.Microsecond
}

// processCPU returns the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBrowserToCarrier sends G.711 packets from a pion "browser"
// (SRTP) through a BrowserLeg, a bridge and a carrier Leg to a UDP socket,
// one packet in flight at a time. allocs/op counts the whole process: the
// test browser's pion sending side as well as ours.
func BenchmarkBrowserToCarrier(b *testing.B) {
	w := newTestWebRTC(b, WebRTCConfig{})
	br := newTestBrowser(b, browserOptions{})
	bl, _ := br.connect(w)
	c := newCarrier(b, newTestPorts(b))
	k := startCall(b, bl, c)
	defer k.br.Close()
	payload := make([]byte, 160)
	Tone(payload, MuLaw, 1000, 8000, 0)
	h := &rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160}
	buf := make([]byte, 2048)
	// Warm up: the first packet starts pion's reader (OnTrack).
	br.track.write(b, h, payload)
	c.peer.mustRecv()
	_ = c.peer.conn.SetReadDeadline(time.Now().Add(time.Minute))
	b.ReportAllocs()
	b.SetBytes(int64(HeaderSize + len(payload)))
	for b.Loop() {
		h.SequenceNumber++
		h.Timestamp += 160
		br.track.write(b, h, payload)
		if _, _, err := c.peer.conn.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCarrierToBrowser sends G.711 packets from a carrier's UDP
// socket through a carrier Leg, a bridge and a BrowserLeg (SRTP) to a pion
// "browser", one packet in flight at a time. allocs/op counts the whole
// process, the test browser's pion receiving side included.
func BenchmarkCarrierToBrowser(b *testing.B) {
	w := newTestWebRTC(b, WebRTCConfig{})
	br := newTestBrowser(b, browserOptions{manual: true})
	bl, _ := br.connect(w)
	c := newCarrier(b, newTestPorts(b))
	k := startCall(b, bl, c)
	defer k.br.Close()
	pkt := rtpPacket(0, false, 0, 0, 0x1111, make([]byte, 160))
	dst := c.leg.LocalAddr()
	c.peer.send(dst, pkt)
	var track *webrtc.TrackRemote
	select {
	case track = <-br.tracks:
	case <-time.After(3 * time.Second):
		b.Fatal("browser got no track")
	}
	buf := make([]byte, 1500)
	if _, _, err := track.Read(buf); err != nil {
		b.Fatal(err)
	}
	_ = track.SetReadDeadline(time.Now().Add(time.Minute))
	seq, ts := uint16(0), uint32(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		seq++
		ts += 160
		SetSequenceNumber(pkt, seq)
		SetTimestamp(pkt, ts)
		if _, err := c.peer.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
			b.Fatal(err)
		}
		if _, _, err := track.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBrowserLegWrite measures BrowserLeg.WriteRTP alone: renumbering
// and handing the packet to pion, which encrypts (SRTP) and sends it.
func BenchmarkBrowserLegWrite(b *testing.B) {
	w := newTestWebRTC(b, WebRTCConfig{})
	br := newTestBrowser(b, browserOptions{manual: true})
	bl, _ := br.connect(w)
	pkt := rtpPacket(0, false, 0, 0, 0x1111, make([]byte, 160))
	if err := bl.WriteRTP(pkt); err != nil {
		b.Fatal(err)
	}
	var track *webrtc.TrackRemote
	select {
	case track = <-br.tracks:
	case <-time.After(3 * time.Second):
		b.Fatal("browser got no track")
	}
	go func() { // the browser reads, without allocating
		buf := make([]byte, 1500)
		for {
			if _, _, err := track.Read(buf); err != nil {
				return
			}
		}
	}()
	seq, ts := uint16(0), uint32(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		seq++
		ts += 160
		SetSequenceNumber(pkt, seq)
		SetTimestamp(pkt, ts)
		if err := bl.WriteRTP(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
