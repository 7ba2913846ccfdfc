package media

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestRxQualityLoss(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type pkt struct {
		ssrc uint32
		seq  uint16
	}
	for _, tc := range []struct {
		name string
		pkts []pkt
		lost uint64
	}{
		{"none", []pkt{{1, 10}, {1, 11}, {1, 12}}, 0},
		{"gap", []pkt{{1, 10}, {1, 11}, {1, 14}, {1, 15}}, 2},
		{"reordered", []pkt{{1, 10}, {1, 12}, {1, 11}, {1, 13}}, 0},
		{"late stays lost until it comes", []pkt{{1, 10}, {1, 12}}, 1},
		{"duplicate is no negative loss", []pkt{{1, 10}, {1, 10}, {1, 11}, {1, 13}}, 0},
		{"wrap", []pkt{{1, 65534}, {1, 65535}, {1, 1}, {1, 2}}, 1},
		{"new source keeps the old loss", []pkt{{1, 10}, {1, 13}, {2, 500}, {2, 501}, {2, 503}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q rxQuality
			for i, p := range tc.pkts {
				h := Header{SSRC: p.ssrc, SequenceNumber: p.seq, Timestamp: uint32(i * 160)}
				q.update(&h, t0.Add(time.Duration(i)*20*time.Millisecond))
			}
			if lost, _ := q.snapshot(); lost != tc.lost {
				t.Fatalf("lost %d, want %d", lost, tc.lost)
			}
		})
	}
}

func TestRxQualityJitter(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	// Packets 20 ms apart in RTP time arriving exactly 20 ms apart: no jitter.
	var even rxQuality
	for i := range 100 {
		even.update(&Header{SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i * 160)}, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
	if _, j := even.snapshot(); j != 0 {
		t.Fatalf("jitter %v of evenly spaced packets, want 0", j)
	}
	// Every other packet 10 ms late: |D| is 10 ms each time, so J converges on
	// 10 ms (RFC 3550 A.8).
	var late rxQuality
	for i := range 400 {
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		if i%2 == 1 {
			at = at.Add(10 * time.Millisecond)
		}
		late.update(&Header{SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i * 160)}, at)
	}
	if _, j := late.snapshot(); j < 9*time.Millisecond || j > 10*time.Millisecond {
		t.Fatalf("jitter %v, want about 10ms", j)
	}
	// Telephone-event packets (another payload type, repeated timestamps) do not
	// count toward the audio's jitter.
	var dtmf rxQuality
	for i := range 100 {
		h := Header{SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), PayloadType: 0}
		if i%10 == 5 {
			h.PayloadType, h.Timestamp = 101, 0
		}
		dtmf.update(&h, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
	if _, j := dtmf.snapshot(); j != 0 {
		t.Fatalf("jitter %v with telephone-event among even audio, want 0", j)
	}
}

// A leg counts the packets missing from what it received over its socket.
func TestLegCountsLoss(t *testing.T) {
	ports, err := NewPorts(45000, 45099, 0)
	if err != nil {
		t.Fatal(err)
	}
	leg, err := NewLeg(ports, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer leg.Close()
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	dst := net.UDPAddrFromAddrPort(leg.LocalAddr())
	pkt := make([]byte, HeaderSize+160)
	pkt[0] = 0x80
	binary.BigEndian.PutUint32(pkt[8:], 0xBEEF)
	sent := 0
	for i := range 50 {
		if i%10 == 3 { // 5 of 50 never sent
			continue
		}
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		if _, err := peer.WriteToUDP(pkt, dst); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	buf := make([]byte, 2048)
	var h Header
	for range sent { // the last packet sent is seq 49: every gap is behind it
		if _, _, err := leg.ReadRTP(buf, &h); err != nil {
			t.Fatal(err)
		}
	}
	if st := leg.Stats(); st.PacketsIn != uint64(sent) || st.PacketsLost != 5 {
		t.Fatalf("received %d lost %d, want %d and 5", st.PacketsIn, st.PacketsLost, sent)
	}
}
