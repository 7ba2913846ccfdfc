package media

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestLegLatchingAndStats(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		clk := newFakeClock()
		ports := newTestPorts(t)
		leg := newTestLeg(t, ports, append(path, WithClock(clk), WithSSRC(0xabcdef01))...)
		if leg.SSRC() != 0xabcdef01 || leg.LocalAddr().Addr() != loopback || leg.LocalAddr().Port()%2 != 0 {
			t.Fatalf("ssrc %x local %v", leg.SSRC(), leg.LocalAddr())
		}
		p1, p2 := newPeer(t), newPeer(t)

		// Nothing known yet: sends are dropped and counted.
		if err := leg.WriteRTP(rtpPacket(0, false, 1, 1, 1, nil)); err != nil {
			t.Fatal(err)
		}
		// SDP says p2, but p1 is where packets really come from (NAT).
		leg.SetRemote(p2.addr())
		if got, latched := leg.Remote(); got != p2.addr() || latched {
			t.Fatalf("Remote = %v, %v", got, latched)
		}
		read := func(want uint16) {
			t.Helper()
			var h Header
			buf := make([]byte, 2048)
			n, off, err := leg.ReadRTP(buf, &h)
			if err != nil || h.SequenceNumber != want || n-off != 160 {
				t.Fatalf("ReadRTP = %d, %d, %v, seq %d; want seq %d", n, off, err, h.SequenceNumber, want)
			}
		}
		// Junk first: short, version 1, RTCP (RFC 5761): dropped, no latch.
		p1.send(leg.LocalAddr(), []byte{0x80, 0, 1})
		p1.send(leg.LocalAddr(), append([]byte{0x40}, make([]byte, 20)...))
		p1.send(leg.LocalAddr(), append([]byte{0x80, 200}, make([]byte, 26)...))
		bad := rtpPacket(0, false, 1, 1, 1, nil)
		bad[0] |= 0x0f // 15 CSRCs that are not there
		p1.send(leg.LocalAddr(), bad)
		p1.send(leg.LocalAddr(), rtpPacket(0, false, 7, 160, 42, make([]byte, 160)))
		read(7)
		if got, latched := leg.Remote(); got != p1.addr() || !latched {
			t.Fatalf("after first packet Remote = %v, %v; want %v latched", got, latched, p1.addr())
		}
		if err := leg.WriteRTP(rtpPacket(0, false, 1, 1, 1, []byte{1, 2, 3})); err != nil {
			t.Fatal(err)
		}
		if got := p1.recv(2 * time.Second); len(got) != 15 {
			t.Fatalf("latched send went elsewhere: %v", got)
		}
		// The source moves (re-INVITE, NAT rebinding): re-latch.
		clk.Advance(3 * time.Second)
		p2.send(leg.LocalAddr(), rtpPacket(0, false, 8, 320, 42, make([]byte, 160)))
		read(8)
		if got, _ := leg.Remote(); got != p2.addr() {
			t.Fatalf("no re-latch: %v", got)
		}
		leg.WriteRTP(rtpPacket(0, false, 2, 1, 1, nil))
		if p2.recv(2*time.Second) == nil {
			t.Fatal("nothing at the new source")
		}

		st := leg.Stats()
		want := LegStats{
			PacketsIn: 2, BytesIn: 2 * 172, PacketsOut: 2, BytesOut: 15 + 12,
			PacketsDropped: 4, NoRemote: 1, Relatches: 1, LastReceived: clk.Now(),
			// Packet 8 came 3 s after packet 7 instead of 20 ms: |D| = 2.98 s, J = |D|/16.
			Jitter: 186250 * time.Microsecond,
		}
		if !st.LastReceived.Equal(want.LastReceived) {
			t.Fatalf("LastReceived %v, want %v", st.LastReceived, want.LastReceived)
		}
		st.LastReceived = want.LastReceived
		if st != want {
			t.Fatalf("Stats\n got %+v\nwant %+v", st, want)
		}

		// SetRemote clears the latch; an unspecified address means nowhere.
		leg.SetRemote(netip.AddrPortFrom(netip.IPv4Unspecified(), 5000))
		if got, latched := leg.Remote(); got.IsValid() || latched {
			t.Fatalf("Remote = %v, %v", got, latched)
		}
	})
}

func TestLegCloseReleasesPort(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		clk := newFakeClock()
		ports, err := NewPorts(41000, 41003, time.Minute, WithPortsClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		leg, err := NewLeg(ports, loopback, path...)
		if err != nil {
			t.Skipf("port busy on this machine: %v", err)
		}
		port := leg.LocalAddr().Port()
		done := make(chan error, 1)
		go func() {
			var h Header
			_, _, err := leg.ReadRTP(make([]byte, 2048), &h)
			done <- err
		}()
		if err := leg.Close(); err != nil {
			t.Fatal(err)
		}
		if err := leg.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadRTP after Close: %v", err)
		}
		if ports.InUse() != 0 {
			t.Fatalf("InUse = %d", ports.InUse())
		}
		// The other port is handed out first; the released one only after the
		// cool-down.
		other, err := NewLeg(ports, loopback, path...)
		if err != nil {
			t.Skipf("port busy on this machine: %v", err)
		}
		defer other.Close()
		if other.LocalAddr().Port() == port {
			t.Fatal("released port reused before the other one")
		}
		if _, err := NewLeg(ports, loopback, path...); !errors.Is(err, ErrNoPorts) {
			t.Fatalf("during cooldown: %v", err)
		}
		clk.Advance(time.Minute)
		again, err := NewLeg(ports, loopback, path...)
		if err != nil {
			t.Fatalf("after cooldown: %v", err)
		}
		defer again.Close()
		if again.LocalAddr().Port() != port {
			t.Fatalf("got port %d, want %d", again.LocalAddr().Port(), port)
		}
	})
}

func TestLegSkipsPortHeldByOthers(t *testing.T) {
	forEachPath(t, func(t *testing.T, path ...LegOption) {
		ports, err := NewPorts(42000, 42009, 0)
		if err != nil {
			t.Fatal(err)
		}
		squatter, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 42000})
		if err != nil {
			t.Skipf("cannot hold port 42000: %v", err)
		}
		defer squatter.Close()
		leg, err := NewLeg(ports, loopback, path...)
		if err != nil {
			t.Fatal(err)
		}
		defer leg.Close()
		if leg.LocalAddr().Port() == 42000 {
			t.Fatal("bound the held port")
		}
		if ports.InUse() != 1 {
			t.Fatalf("InUse = %d: the held port was not given back", ports.InUse())
		}
		if _, err := NewLeg(ports, loopback, append(path, WithBindAttempts(0))...); err == nil {
			t.Fatal("WithBindAttempts(0) accepted")
		}
		if _, err := NewLeg(nil, loopback); err == nil {
			t.Fatal("nil ports accepted")
		}
	})
}
