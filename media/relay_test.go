package media

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// afterCloseTap fails the test if the bridge taps a packet after closed is
// set (Close returned).
type afterCloseTap struct {
	closed atomic.Bool
	late   atomic.Int64
	tapped atomic.Int64
}

func (k *afterCloseTap) TapRTP(Side, Law, uint32, []byte, time.Time) {
	k.tapped.Add(1)
	if k.closed.Load() {
		k.late.Add(1)
	}
}

// blast sends G.711 packets from p to dst until stop is closed.
func blast(p *peer, dst netip.AddrPort, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	pkt := rtpPacket(0, false, 0, 0, 0x5151, make([]byte, 160))
	for seq := uint16(0); ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		SetSequenceNumber(pkt, seq)
		SetTimestamp(pkt, uint32(seq)*160)
		_, _ = p.conn.WriteToUDPAddrPort(pkt, dst)
		if seq%16 == 0 {
			time.Sleep(100 * time.Microsecond) // stay inside socket buffers
		}
	}
}

// Once Bridge.Close returns, no worker relays, taps or counts a packet of
// that bridge, though packets keep arriving at its legs.
func TestRelayNothingAfterBridgeClose(t *testing.T) {
	checkGoroutines(t)
	relay := newTestRelay(t)
	ports := newTestPorts(t)
	for round := range 20 {
		a := newTestLeg(t, ports, WithRelay(relay))
		b := newTestLeg(t, ports, WithRelay(relay))
		pa, pb := newPeer(t), newPeer(t)
		a.SetRemote(pa.addr())
		b.SetRemote(pb.addr())
		tap := &afterCloseTap{}
		cfg := g711Config()
		cfg.Tap = tap
		br := NewBridge(a, b, cfg)
		if err := br.Start(); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go blast(pa, a.LocalAddr(), stop, &wg)
		go blast(pb, b.LocalAddr(), stop, &wg)
		eventually(t, "traffic", func() bool { return tap.tapped.Load() > 20 })
		if round%2 == 1 {
			time.Sleep(time.Duration(round) * 100 * time.Microsecond)
		}
		if err := br.Close(); err != nil {
			t.Fatal(err)
		}
		tap.closed.Store(true)
		st, sa := br.Stats(), a.Stats()
		time.Sleep(20 * time.Millisecond) // packets still arrive
		if got := br.Stats(); got != st {
			t.Fatalf("round %d: relayed after Close: %+v, then %+v", round, st, got)
		}
		if got := a.Stats(); got.PacketsIn != sa.PacketsIn {
			t.Fatalf("round %d: leg read after Close: %d, then %d packets", round, sa.PacketsIn, got.PacketsIn)
		}
		if n := tap.late.Load(); n != 0 {
			t.Fatalf("round %d: %d packets tapped after Close", round, n)
		}
		close(stop)
		wg.Wait()
		a.Close()
		b.Close()
	}
}

// Closing bridges, legs and the relay while packets flow, in every order,
// is clean under the race detector and leaves no goroutine behind.
func TestRelayCloseDuringTraffic(t *testing.T) {
	checkGoroutines(t)
	relay := newTestRelay(t)
	ports := newTestPorts(t)
	const calls = 24
	type call struct {
		a, b *Leg
		br   *Bridge
	}
	cs := make([]call, calls)
	stop := make(chan struct{})
	var senders sync.WaitGroup
	for i := range cs {
		c := &cs[i]
		c.a = newTestLeg(t, ports, WithRelay(relay))
		c.b = newTestLeg(t, ports, WithRelay(relay))
		pa, pb := newPeer(t), newPeer(t)
		c.a.SetRemote(pa.addr())
		c.b.SetRemote(pb.addr())
		c.br = NewBridge(c.a, c.b, g711Config())
		if err := c.br.Start(); err != nil {
			t.Fatal(err)
		}
		senders.Add(2)
		go blast(pa, c.a.LocalAddr(), stop, &senders)
		go blast(pb, c.b.LocalAddr(), stop, &senders)
	}
	eventually(t, "traffic", func() bool {
		for _, c := range cs {
			if c.br.Stats().AtoB.Relayed == 0 {
				return false
			}
		}
		return true
	})
	var wg sync.WaitGroup
	for i := range cs {
		c := cs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 4 {
			case 0: // the usual: bridge, then legs
				err = errors.Join(c.br.Close(), c.a.Close(), c.b.Close())
			case 1: // legs first, under the running bridge
				err = errors.Join(c.a.Close(), c.b.Close(), c.br.Close())
			case 2: // all at once
				var inner sync.WaitGroup
				var e [3]error
				inner.Add(3)
				go func() { defer inner.Done(); e[0] = c.br.Close() }()
				go func() { defer inner.Done(); e[1] = c.a.Close() }()
				go func() { defer inner.Done(); e[2] = c.b.Close() }()
				inner.Wait()
				err = errors.Join(e[:]...)
			case 3: // after the relay closed (below)
				return
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	if err := relay.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, c := range cs {
		if i%4 == 3 {
			if err := errors.Join(c.br.Close(), c.a.Close(), c.b.Close()); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	senders.Wait()
}

// Close is safe twice on a relay, a relay leg and a bridge of relay legs.
func TestRelayCloseTwice(t *testing.T) {
	checkGoroutines(t)
	relay := newTestRelay(t)
	ports := newTestPorts(t)
	a := newTestLeg(t, ports, WithRelay(relay))
	b := newTestLeg(t, ports, WithRelay(relay))
	br := NewBridge(a, b, g711Config())
	if err := br.Start(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := br.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := relay.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.WriteRTP(rtpPacket(0, false, 1, 1, 1, nil)); err != nil {
		t.Fatal(err) // no remote: counted, not an error
	}
	b.SetRemote(newPeer(t).addr())
	if err := a.WriteRTP(rtpPacket(0, false, 1, 1, 1, nil)); err != nil {
		t.Fatal(err) // a has no remote either
	}
	a.SetRemote(newPeer(t).addr())
	if err := a.WriteRTP(rtpPacket(0, false, 1, 1, 1, nil)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteRTP on a closed leg: %v", err)
	}
	var zero Relay // relays nothing; closing it is harmless
	if err := zero.Close(); err != nil {
		t.Fatal(err)
	}
}

// A relay leg leaves one bridge and serves the next; a bridge whose relay is
// closed relays on goroutines instead.
func TestRelayLegReusedAndClosedRelay(t *testing.T) {
	checkGoroutines(t)
	relay := newTestRelay(t)
	ports := newTestPorts(t)
	a := newTestLeg(t, ports, WithRelay(relay), WithSSRC(ssrcLegA))
	b := newTestLeg(t, ports, WithRelay(relay), WithSSRC(ssrcLegB))
	c := newTestLeg(t, ports, WithRelay(relay), WithSSRC(0xC0C0C0C0))
	pa, pb, pc := newPeer(t), newPeer(t), newPeer(t)
	a.SetRemote(pa.addr())
	b.SetRemote(pb.addr())
	c.SetRemote(pc.addr())
	through := func(from *peer, in *Leg, to *peer, wantSSRC uint32, seq uint16) {
		t.Helper()
		from.send(in.LocalAddr(), rtpPacket(0, false, seq, uint32(seq)*160, 0x1111, make([]byte, 160)))
		if h, _ := to.mustRecv(); h.SSRC != wantSSRC {
			t.Fatalf("%+v", h)
		}
	}
	cfg := BridgeConfig{AtoB: NewPTMap([2]uint8{0, 0}), BtoA: NewPTMap([2]uint8{0, 0})}
	br1 := NewBridge(a, b, cfg)
	if err := br1.Start(); err != nil {
		t.Fatal(err)
	}
	through(pa, a, pb, ssrcLegB, 1)
	through(pb, b, pa, ssrcLegA, 1)
	br1.Close()

	br2 := NewBridge(a, c, cfg) // a again, with c
	if err := br2.Start(); err != nil {
		t.Fatal(err)
	}
	through(pa, a, pc, 0xC0C0C0C0, 2)
	through(pc, c, pa, ssrcLegA, 2)
	if b.Stats().PacketsIn != 1 {
		t.Fatalf("b read while out of any bridge: %+v", b.Stats())
	}
	br2.Close()

	relay.Close()
	br3 := NewBridge(a, b, cfg) // the relay is gone: goroutines
	if err := br3.Start(); err != nil {
		t.Fatal(err)
	}
	if br3.flows[SideA].attached || br3.flows[SideB].attached {
		t.Fatal("attached to a closed relay")
	}
	through(pa, a, pb, ssrcLegB, 3)
	through(pb, b, pa, ssrcLegA, 3)
	start := time.Now()
	br3.Close()
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Close took %v", el)
	}
}

// A relay leg follows its peer's source address, both when it first latches
// and when the source moves, and sends there.
func TestRelayRelatches(t *testing.T) {
	checkGoroutines(t)
	r := newRig(t, g711Config(), WithRelay(newTestRelay(t)))
	p2 := newPeer(t)
	r.pb.send(r.b.LocalAddr(), rtpPacket(8, false, 1, 160, 0x2222, make([]byte, 160)))
	r.pa.mustRecv() // A has its SDP address, pa
	r.pa.send(r.a.LocalAddr(), rtpPacket(0, false, 1, 160, 0x1111, make([]byte, 160)))
	r.pb.mustRecv()
	// A's peer moves to p2 (NAT rebinding): B's audio follows it.
	p2.send(r.a.LocalAddr(), rtpPacket(0, false, 2, 320, 0x1111, make([]byte, 160)))
	r.pb.mustRecv()
	r.pb.send(r.b.LocalAddr(), rtpPacket(8, false, 2, 320, 0x2222, make([]byte, 160)))
	if h, _ := p2.mustRecv(); h.SSRC != ssrcLegA {
		t.Fatalf("%+v", h)
	}
	if got, latched := r.a.Remote(); got != p2.addr() || !latched {
		t.Fatalf("Remote = %v, %v", got, latched)
	}
	eventually(t, "A's packets counted out", func() bool { return r.a.Stats().PacketsOut >= 2 })
	if st := r.a.Stats(); st.Relatches != 1 || st.PacketsIn != 2 || st.PacketsOut != 2 {
		t.Fatalf("%+v", st)
	}
	if r.pa.recv(30*time.Millisecond) != nil {
		t.Fatal("sent to the old source")
	}
}

// A relay leg drops what is not RTP, like the goroutine path.
func TestRelayDropsJunk(t *testing.T) {
	checkGoroutines(t)
	r := newRig(t, g711Config(), WithRelay(newTestRelay(t)))
	r.pa.send(r.a.LocalAddr(), []byte{0x80, 0, 1})
	r.pa.send(r.a.LocalAddr(), append([]byte{0x80, 200}, make([]byte, 26)...))
	r.pa.send(r.a.LocalAddr(), make([]byte, relayBufferSize+10)) // truncated
	r.pa.send(r.a.LocalAddr(), rtpPacket(0, false, 1, 160, 0x1111, make([]byte, 160)))
	r.pb.mustRecv()
	if st := r.a.Stats(); st.PacketsDropped != 3 || st.PacketsIn != 1 {
		t.Fatalf("%+v", st)
	}
}

// IPv6 relay legs: bound to ::1 with IPv6 peers, and to :: (dual stack)
// with IPv4 peers, which they see and answer as IPv4.
func TestRelayIPv6(t *testing.T) {
	checkGoroutines(t)
	probe, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	probe.Close()
	relay := newTestRelay(t)
	for _, tc := range []struct {
		name   string
		bind   netip.Addr
		peerIP net.IP
		net    string
	}{
		{"v6", netip.IPv6Loopback(), net.IPv6loopback, "udp6"},
		{"dual stack", netip.IPv6Unspecified(), net.IPv4(127, 0, 0, 1), "udp4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports := newTestPorts(t)
			newLeg := func() *Leg {
				l, err := NewLeg(ports, tc.bind, WithRelay(relay), WithBindAttempts(50))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
				return l
			}
			newP := func() *peer {
				c, err := net.ListenUDP(tc.net, &net.UDPAddr{IP: tc.peerIP})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return &peer{t: t, conn: c}
			}
			a, b := newLeg(), newLeg()
			if a.LocalAddr().Addr() != tc.bind {
				t.Fatalf("LocalAddr %v", a.LocalAddr())
			}
			pa, pb := newP(), newP()
			b.SetRemote(pb.addr())
			br := NewBridge(a, b, g711Config())
			if err := br.Start(); err != nil {
				t.Fatal(err)
			}
			defer br.Close()
			dst := func(l *Leg) netip.AddrPort {
				return netip.AddrPortFrom(pa.addr().Addr().Unmap(), l.LocalAddr().Port())
			}
			pa.send(dst(a), rtpPacket(0, false, 1, 160, 0x1111, make([]byte, 160)))
			if h, _ := pb.mustRecv(); h.SSRC != b.SSRC() {
				t.Fatalf("%+v", h)
			}
			pb.send(dst(b), rtpPacket(8, false, 1, 160, 0x2222, make([]byte, 160)))
			if h, _ := pa.mustRecv(); h.SSRC != a.SSRC() {
				t.Fatalf("%+v", h)
			}
			if got, _ := a.Remote(); got != pa.addr() {
				t.Fatalf("latched to %v, want %v", got, pa.addr())
			}
		})
	}
}

// Relaying a packet allocates nothing, on either path: AllocsPerRun counts
// the whole process, the workers and the bridge goroutines included.
func TestRelayAllocsPerPacket(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		r := newRig(t, g711Config(), path...)
		pkt := rtpPacket(0, false, 0, 0, 0x1111, make([]byte, 160))
		buf := make([]byte, 2048)
		dst := r.a.LocalAddr()
		r.pa.send(dst, pkt)
		r.pb.mustRecv()
		_ = r.pb.conn.SetReadDeadline(time.Now().Add(time.Minute))
		seq := uint16(0)
		allocs := testing.AllocsPerRun(500, func() {
			seq++
			SetSequenceNumber(pkt, seq)
			SetTimestamp(pkt, uint32(seq)*160)
			if _, err := r.pa.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
				t.Fatal(err)
			}
			if _, _, err := r.pb.conn.ReadFromUDPAddrPort(buf); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Fatalf("%v allocations per relayed packet", allocs)
		}
	})
}

// A relay leg measures loss and jitter of what its worker receives.
func TestRelayCountsLoss(t *testing.T) {
	checkGoroutines(t)
	r := newRig(t, g711Config(), WithRelay(newTestRelay(t)))
	sent := 0
	for i := range 50 {
		r.clk.Advance(20 * time.Millisecond)
		if i%10 == 3 { // 5 of 50 never sent
			continue
		}
		r.pa.send(r.a.LocalAddr(), rtpPacket(0, false, uint16(i), uint32(i*160), 0xBEEF, make([]byte, 160)))
		r.pb.mustRecv()
		sent++
	}
	if st := r.a.Stats(); st.PacketsIn != uint64(sent) || st.PacketsLost != 5 || st.Jitter != 0 ||
		!st.LastReceived.Equal(r.clk.Now()) {
		t.Fatalf("%+v, want %d in, 5 lost, no jitter", st, sent)
	}
}
