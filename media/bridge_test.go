package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"
)

const (
	ssrcLegA = 0xA0A0A0A0
	ssrcLegB = 0xB0B0B0B0
)

type sideDigit struct {
	from  Side
	digit byte
}

// rig is two peers, two legs and a bridge between them, all on loopback.
type rig struct {
	t      testing.TB
	clk    *fakeClock
	pa, pb *peer
	a, b   *Leg
	br     *Bridge

	mu     sync.Mutex
	digits []sideDigit
}

// newRig builds the rig; opts go to both legs (forEachPath's WithRelay).
func newRig(t testing.TB, cfg BridgeConfig, opts ...LegOption) *rig {
	t.Helper()
	r := &rig{t: t, clk: newFakeClock(), pa: newPeer(t), pb: newPeer(t)}
	ports := newTestPorts(t)
	r.a = newTestLeg(t, ports, append([]LegOption{WithSSRC(ssrcLegA), WithClock(r.clk)}, opts...)...)
	r.b = newTestLeg(t, ports, append([]LegOption{WithSSRC(ssrcLegB), WithClock(r.clk)}, opts...)...)
	r.a.SetRemote(r.pa.addr())
	r.b.SetRemote(r.pb.addr())
	cfg.Clock = r.clk
	cfg.OnDTMF = func(from Side, d byte) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.digits = append(r.digits, sideDigit{from, d})
	}
	r.br = NewBridge(r.a, r.b, cfg)
	if err := r.br.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.br.Close() })
	return r
}

func (r *rig) gotDigits() []sideDigit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sideDigit(nil), r.digits...)
}

// eventually polls cond for up to 2 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// g711Config maps PCMU on A to PCMA on B (payload types only: the bridge
// does not look inside audio) and telephone-event 101 on A to 126 on B.
func g711Config() BridgeConfig {
	return BridgeConfig{
		AtoB:  NewPTMap([2]uint8{0, 8}, [2]uint8{101, 126}),
		BtoA:  NewPTMap([2]uint8{8, 0}, [2]uint8{126, 101}),
		DTMFA: 101, DTMFB: 126,
	}
}

func TestBridgeRelaysBothWays(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		r := newRig(t, g711Config(), path...)
		const n = 200
		payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 160) }
		go func() {
			for i := range n {
				// A's sequence and timestamp wrap around in the middle.
				r.pa.send(r.a.LocalAddr(), rtpPacket(0, i == 0, uint16(65500+i), uint32(0xFFFFF000+160*i), 0x1111, payload(i)))
				r.pb.send(r.b.LocalAddr(), rtpPacket(8, false, uint16(i), uint32(160*i), 0x2222, payload(i)))
				if i%20 == 0 {
					time.Sleep(time.Millisecond) // stay well inside socket buffers
				}
			}
		}()
		check := func(p *peer, wantPT uint8, wantSSRC uint32) {
			t.Helper()
			var first Header
			for i := range n {
				h, pl := p.mustRecv()
				if i == 0 {
					first = h
				}
				if h.PayloadType != wantPT || h.SSRC != wantSSRC ||
					h.SequenceNumber != first.SequenceNumber+uint16(i) ||
					h.Timestamp != first.Timestamp+uint32(160*i) || !bytes.Equal(pl, payload(i)) {
					t.Fatalf("packet %d: %+v (first %+v)", i, h, first)
				}
				if h.Marker != (i == 0 && wantPT == 8) {
					t.Fatalf("packet %d: marker %v", i, h.Marker)
				}
			}
		}
		check(r.pb, 8, ssrcLegB)
		check(r.pa, 0, ssrcLegA)

		// A leg counts a packet after its send returns: the peer may read it first.
		eventually(t, "packets counted out", func() bool { return r.a.Stats().PacketsOut >= n && r.b.Stats().PacketsOut >= n })
		for _, st := range []LegStats{r.a.Stats(), r.b.Stats()} {
			if st.PacketsIn != n || st.PacketsOut != n || st.BytesIn != n*172 || st.BytesOut != n*172 ||
				st.PacketsDropped != 0 || st.LastReceived.IsZero() {
				t.Errorf("leg stats %+v", st)
			}
		}
		bs := r.br.Stats()
		if bs.AtoB.Relayed != n || bs.BtoA.Relayed != n || bs.AtoB.DroppedPT != 0 || bs.AtoB.Resyncs != 0 {
			t.Errorf("bridge stats %+v", bs)
		}
	})
}

func TestBridgeLatchesToRealSource(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		r := newRig(t, g711Config(), path...)
		// A's SDP named an address nobody listens on; A really sends from pa.
		wrong := newPeer(t)
		r.a.SetRemote(wrong.addr())
		r.pa.send(r.a.LocalAddr(), rtpPacket(0, false, 1, 160, 0x1111, make([]byte, 160)))
		r.pb.mustRecv()
		r.pb.send(r.b.LocalAddr(), rtpPacket(8, false, 1, 160, 0x2222, make([]byte, 160)))
		if h, _ := r.pa.mustRecv(); h.SSRC != ssrcLegA {
			t.Fatalf("%+v", h)
		}
		if got, latched := r.a.Remote(); got != r.pa.addr() || !latched {
			t.Fatalf("Remote = %v, %v", got, latched)
		}
		if wrong.recv(50*time.Millisecond) != nil {
			t.Fatal("sent to the SDP address after latching")
		}
	})
}

func TestBridgeInputSSRCChangeKeepsOutputContinuous(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		r := newRig(t, g711Config(), path...)
		send := func(ssrc uint32, seq uint16, ts uint32) {
			r.clk.Advance(20 * time.Millisecond)
			r.pa.send(r.a.LocalAddr(), rtpPacket(0, false, seq, ts, ssrc, make([]byte, 160)))
		}
		var out []Header
		recv := func() {
			h, _ := r.pb.mustRecv()
			out = append(out, h)
		}
		for i := range 5 {
			send(0x1111, uint16(100+i), uint32(1000+160*i))
			recv()
		}
		// A re-INVITE: new SSRC, new random sequence and timestamp.
		for i := range 5 {
			send(0x7777, uint16(40000+i), uint32(900000000+160*i))
			recv()
		}
		// Same SSRC, but the sequence jumps far (a restarted sender).
		for i := range 3 {
			send(0x7777, uint16(10000+i), uint32(5+160*i))
			recv()
		}
		for i, h := range out {
			if h.SSRC != ssrcLegB || h.SequenceNumber != out[0].SequenceNumber+uint16(i) ||
				h.Timestamp != out[0].Timestamp+uint32(160*i) {
				t.Fatalf("packet %d: %+v (first %+v)", i, h, out[0])
			}
			if wantM := i == 5 || i == 10; h.Marker != wantM {
				t.Fatalf("packet %d: marker %v", i, h.Marker)
			}
		}
		if got := r.br.Stats().AtoB.Resyncs; got != 2 {
			t.Fatalf("Resyncs = %d", got)
		}

		// A pause on the new stream shows up as elapsed time on the output.
		r.clk.Advance(time.Second)
		send(0x9999, 1, 1)
		recv()
		if d := out[len(out)-1].Timestamp - out[len(out)-2].Timestamp; d != 8160 {
			t.Fatalf("timestamp advanced %d over 1.02 s, want 8160", d)
		}
	})
}

func TestBridgeDropsUnmappedAndHeld(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		r := newRig(t, g711Config(), path...)
		seq := uint16(0)
		send := func(pt uint8) {
			seq++
			r.pa.send(r.a.LocalAddr(), rtpPacket(pt, false, seq, uint32(seq)*160, 0x1111, make([]byte, 160)))
		}
		send(0)
		h1, _ := r.pb.mustRecv()
		send(13) // comfort noise: not mapped
		send(0)
		h2, _ := r.pb.mustRecv()
		if h2.SequenceNumber != h1.SequenceNumber+1 || h2.Timestamp != h1.Timestamp+320 {
			t.Fatalf("after a dropped packet: %+v then %+v", h1, h2)
		}
		r.br.Hold(SideB, true)
		send(0)
		send(0)
		eventually(t, "held packets", func() bool { return r.br.Stats().AtoB.DroppedHeld == 2 })
		if r.pb.recv(30*time.Millisecond) != nil {
			t.Fatal("sent toward a held side")
		}
		r.br.Hold(SideB, false)
		send(0)
		h3, _ := r.pb.mustRecv()
		if h3.SequenceNumber != h2.SequenceNumber+1 || h3.Timestamp != h2.Timestamp+3*160 {
			t.Fatalf("after hold: %+v then %+v", h2, h3)
		}
		if st := r.br.Stats().AtoB; st.DroppedPT != 1 || st.Relayed != 3 {
			t.Fatalf("%+v", st)
		}
	})
}

func TestBridgeRelaysAndReportsDTMF(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		r := newRig(t, g711Config(), path...)
		seq := uint16(500)
		sendEv := func(ts uint32, event uint8, marker, end bool, dur uint16) {
			seq++
			r.pa.send(r.a.LocalAddr(), rtpPacket(101, marker, seq, ts, 0x1111, eventPayload(event, end, 10, dur)))
		}
		// '1': start, two updates, three ends.
		sendEv(8000, 1, true, false, 0)
		sendEv(8000, 1, false, false, 400)
		sendEv(8000, 1, false, false, 800)
		for range 3 {
			sendEv(8000, 1, false, true, 960)
		}
		// '#': only the end packets survive.
		for range 3 {
			sendEv(16000, 11, false, true, 800)
		}
		// '9': every end packet lost; reported when 'D' starts.
		sendEv(24000, 9, true, false, 0)
		sendEv(24000, 9, false, false, 400)
		sendEv(32000, 15, true, false, 0)
		sendEv(32000, 15, false, true, 800)
		sendEv(32000, 15, false, true, 800)

		var first Header
		for i := range 14 {
			h, pl := r.pb.mustRecv()
			if i == 0 {
				first = h
			}
			if h.PayloadType != 126 || h.SSRC != ssrcLegB || h.SequenceNumber != first.SequenceNumber+uint16(i) || len(pl) != 4 {
				t.Fatalf("event packet %d: %+v", i, h)
			}
			if i < 6 && h.Timestamp != first.Timestamp {
				t.Fatalf("event packet %d: timestamp %d, want the event start %d", i, h.Timestamp, first.Timestamp)
			}
			if i == 0 && (!h.Marker || pl[0] != 1 || pl[1] != 10) {
				t.Fatalf("start packet %+v %x", h, pl)
			}
		}
		want := []sideDigit{{SideA, '1'}, {SideA, '#'}, {SideA, '9'}, {SideA, 'D'}}
		eventually(t, "digits", func() bool { return len(r.gotDigits()) >= len(want) })
		if got := r.gotDigits(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
			t.Fatalf("OnDTMF calls %+v, want %+v", got, want)
		}
		if st := r.br.Stats().AtoB; st.DTMFIn != 4 || st.Relayed != 14 {
			t.Fatalf("%+v", st)
		}
	})
}

func TestBridgeSendDTMF(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		r := newRig(t, BridgeConfig{
			AtoB:  NewPTMap([2]uint8{0, 0}),
			BtoA:  NewPTMap([2]uint8{0, 0}),
			DTMFB: 126, // A negotiated no telephone-event
		}, path...)
		for i := range 3 {
			r.pa.send(r.a.LocalAddr(), rtpPacket(0, false, uint16(10+i), uint32(160*i), 0x1111, make([]byte, 160)))
		}
		var audio []Header
		for range 3 {
			h, _ := r.pb.mustRecv()
			audio = append(audio, h)
		}
		last := audio[2]

		if err := r.br.SendDTMF(SideA, '1', 0); !errors.Is(err, ErrNoDTMF) {
			t.Fatalf("toward A: %v", err)
		}
		if err := r.br.SendDTMF(SideB, 'x', 0); !errors.Is(err, ErrBadDigit) {
			t.Fatalf("bad digit: %v", err)
		}
		if err := r.br.SendDTMF(SideB, '5', 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		type ev struct {
			marker, end bool
			dur         uint16
		}
		want := []ev{{true, false, 0}, {false, false, 400}, {false, true, 800}, {false, true, 800}, {false, true, 800}}
		for i, w := range want {
			if i == 1 || i == 2 {
				r.clk.Advance(DTMFInterval)
			}
			h, pl := r.pb.mustRecv()
			seqOK := h.SequenceNumber == last.SequenceNumber+uint16(i+1)
			if h.PayloadType != 126 || h.SSRC != ssrcLegB || !seqOK || h.Marker != w.marker || len(pl) != 4 ||
				pl[0] != 5 || (pl[1]&0x80 != 0) != w.end || pl[1]&0x3f != dtmfVolume ||
				binary.BigEndian.Uint16(pl[2:]) != w.dur {
				t.Fatalf("event packet %d: %+v %x; want %+v after seq %d", i, h, pl, w, last.SequenceNumber)
			}
			// The event starts where the audio sent so far ends.
			if h.Timestamp != last.Timestamp+160 {
				t.Fatalf("event packet %d: timestamp %d, want %d", i, h.Timestamp, last.Timestamp+160)
			}
		}
		eventually(t, "DTMFSent", func() bool { return r.br.Stats().AtoB.DTMFSent == 1 })

		// Relayed audio continues the sequence after the injected packets.
		r.pa.send(r.a.LocalAddr(), rtpPacket(0, false, 13, 160*3, 0x1111, make([]byte, 160)))
		h, _ := r.pb.mustRecv()
		if h.SequenceNumber != last.SequenceNumber+6 || h.Timestamp != last.Timestamp+160 || h.SSRC != ssrcLegB {
			t.Fatalf("audio after DTMF: %+v", h)
		}
	})
}

func TestBridgeLifecycle(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		ports := newTestPorts(t)
		a, b, c := newTestLeg(t, ports, path...), newTestLeg(t, ports, path...), newTestLeg(t, ports, path...)
		pa, pc := newPeer(t), newPeer(t)
		a.SetRemote(pa.addr())
		c.SetRemote(pc.addr())
		cfg := BridgeConfig{AtoB: NewPTMap([2]uint8{0, 0}), BtoA: NewPTMap([2]uint8{0, 0}), DTMFA: 101}

		if err := NewBridge(a, a, cfg).Start(); !errors.Is(err, ErrLegBusy) {
			t.Fatalf("same leg twice: %v", err)
		}
		unstarted := NewBridge(a, b, cfg)
		if err := unstarted.Close(); err != nil {
			t.Fatal(err)
		}
		if err := unstarted.Start(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Start after Close: %v", err)
		}
		if err := unstarted.SendDTMF(SideA, '1', 0); !errors.Is(err, ErrClosed) {
			t.Fatalf("SendDTMF after Close: %v", err)
		}

		br := NewBridge(a, b, cfg)
		if err := br.Start(); err != nil {
			t.Fatal(err)
		}
		if err := br.Start(); !errors.Is(err, ErrStarted) {
			t.Fatalf("second Start: %v", err)
		}
		if err := NewBridge(c, b, cfg).Start(); !errors.Is(err, ErrLegBusy) {
			t.Fatalf("leg in two bridges: %v", err)
		}
		// A digit still being sent when the bridge closes is abandoned.
		if err := br.SendDTMF(SideA, '1', time.Second); err != nil {
			t.Fatal(err)
		}
		pa.mustRecv()
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := br.Close(); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if err := br.Close(); err != nil {
			t.Fatal(err)
		}

		// The caller still owns the legs: they work in a new bridge.
		br2 := NewBridge(c, b, cfg)
		if err := br2.Start(); err != nil {
			t.Fatalf("legs not freed by Close: %v", err)
		}
		defer br2.Close()
		pb := newPeer(t)
		pb.send(b.LocalAddr(), rtpPacket(0, false, 1, 1, 1, make([]byte, 160)))
		if h, _ := pc.mustRecv(); h.SSRC != c.SSRC() {
			t.Fatalf("%+v", h)
		}
		// Closing a leg under a running bridge ends that direction quietly.
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := br2.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
