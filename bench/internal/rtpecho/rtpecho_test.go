package rtpecho

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  []byte // RTP header as an edge may write it
	}{
		{"plain", []byte{0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}},
		{"two CSRCs", append([]byte{0x82, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}, make([]byte, 8)...)},
		{"extension", append([]byte{0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 1}, make([]byte, 4)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := Stamp{T0: 1234567890123, T1: 1234567990123, Call: 4242, Seq: 77}
			b := append(append([]byte(nil), tc.hdr...), make([]byte, 160)...)
			want.Put(b[len(tc.hdr):])
			got, ok := ReadStamp(b)
			if !ok || got != want {
				t.Fatalf("ReadStamp = %+v, %v; want %+v", got, ok, want)
			}
		})
	}
	for _, bad := range [][]byte{nil, make([]byte, 20), append([]byte{0x40}, make([]byte, 60)...), {0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}} {
		if _, ok := ReadStamp(bad); ok {
			t.Errorf("ReadStamp(% x) ok", bad)
		}
	}
}

func TestWindow(t *testing.T) {
	var w Window
	if w.In(5) {
		t.Fatal("a zero window holds nothing")
	}
	w.Open(10)
	if w.In(9) || !w.In(10) || !w.In(1<<40) {
		t.Fatal("open window")
	}
	w.Close(20)
	if !w.In(19) || w.In(20) {
		t.Fatal("closed window")
	}
}

func TestEchoStampsAndCounts(t *testing.T) {
	var clock int64 = 1000
	e, err := Start(netip.MustParseAddrPort("127.0.0.1:0"), 1, func() int64 { return clock })
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer e.Close() // twice is fine
	e.ResetWindow(500)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(e.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := make([]byte, HeaderLen+160)
	pkt[0] = 0x80
	Stamp{T0: 600, Call: 3, Seq: 9}.Put(pkt[HeaderLen:])
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("not rtp")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := ReadStamp(buf[:n])
	if want := (Stamp{T0: 600, T1: 1000, Call: 3, Seq: 9}); !ok || got != want {
		t.Fatalf("echoed %+v, want %+v", got, want)
	}
	if r, s := e.Counts(); r != 1 || s != 1 {
		t.Fatalf("Counts = %d, %d; want 1, 1", r, s)
	}
}
