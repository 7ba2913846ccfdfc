package media

import (
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
