package media

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDTMFDigits(t *testing.T) {
	for ev := range uint8(17) {
		d, ok := DTMFDigit(ev)
		if !ok {
			t.Fatalf("event %d has no digit", ev)
		}
		if back, ok := DTMFEvent(d); !ok || back != ev {
			t.Fatalf("event %d -> %q -> %d", ev, d, back)
		}
	}
	if ev, ok := DTMFEvent('c'); !ok || ev != 14 {
		t.Fatal("lower-case c")
	}
	for _, d := range []byte{'e', 'E', ' ', 0, 'x'} {
		if _, ok := DTMFEvent(d); ok {
			t.Errorf("%q accepted", d)
		}
	}
	if _, ok := DTMFDigit(17); ok {
		t.Error("event 17 has a digit")
	}
}

func TestEventDetector(t *testing.T) {
	var d eventDetector
	feed := func(ssrc, ts uint32, ev uint8, end bool) string {
		digits, n := d.packet(ssrc, ts, eventPayload(ev, end, 10, 400))
		return string(digits[:n])
	}
	steps := []struct {
		ssrc, ts uint32
		ev       uint8
		end      bool
		want     string
	}{
		{1, 100, 5, false, ""},
		{1, 100, 5, true, "5"},
		{1, 100, 5, true, ""},
		{1, 100, 5, true, ""},
		// Same timestamp, new SSRC: a new event.
		{2, 100, 5, true, "5"},
		// Ends lost for '7'; '8' starts and ends in its first packet.
		{2, 200, 7, false, ""},
		{2, 300, 8, true, "78"},
		// Event 20 has no digit: relayed, never reported.
		{2, 400, 20, true, ""},
	}
	for i, s := range steps {
		if got := feed(s.ssrc, s.ts, s.ev, s.end); got != s.want {
			t.Fatalf("step %d: got %q, want %q", i, got, s.want)
		}
	}
	if _, n := d.packet(2, 500, []byte{1, 2, 3}); n != 0 {
		t.Fatal("short payload reported")
	}
}

func TestNewBridgeConfig(t *testing.T) {
	a101, b126 := te(101, "0-15"), te(126, "")
	cfg, err := NewBridgeConfig(pcma(), &a101, Format{PT: 8, Name: "pcma", Rate: 8000}, &b126)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m       PTMap
		in, out uint8
		ok      bool
	}{
		{cfg.AtoB, 8, 8, true}, {cfg.AtoB, 101, 126, true}, {cfg.BtoA, 126, 101, true},
		{cfg.AtoB, 0, 0, false}, {cfg.AtoB, 126, 0, false}, {cfg.BtoA, 13, 0, false},
	} {
		if out, ok := c.m.Lookup(c.in); ok != c.ok || out != c.out {
			t.Errorf("Lookup(%d) = %d, %v", c.in, out, ok)
		}
	}
	if cfg.DTMFA != 101 || cfg.DTMFB != 126 || cfg.ClockRate != 8000 {
		t.Errorf("%+v", cfg)
	}
	// Only one side has telephone-event: detected there, not relayed.
	cfg, err = NewBridgeConfig(pcmu(), &a101, pcmu(), nil)
	if err != nil || cfg.DTMFA != 101 || cfg.DTMFB != 0 {
		t.Fatal(cfg, err)
	}
	if _, ok := cfg.AtoB.Lookup(101); ok {
		t.Error("telephone-event relayed to a leg without it")
	}
	if _, err := NewBridgeConfig(pcmu(), nil, pcma(), nil); !errors.Is(err, ErrCodecMismatch) {
		t.Fatal(err)
	}
	var zero PTMap
	if _, ok := zero.Lookup(0); ok {
		t.Error("zero PTMap maps PT 0")
	}
	m := NewPTMap([2]uint8{0, 200}, [2]uint8{130, 0}, [2]uint8{9, 9})
	if _, ok := m.Lookup(0); ok {
		t.Error("mapped to PT 200")
	}
	if _, ok := m.Lookup(130); ok {
		t.Error("mapped from PT 130")
	}
}

// sippPcapPayloads returns the UDP payloads of a SIPp sample capture
// (Ethernet, IPv4, UDP), or skips the test if SIPp is not installed.
func sippPcapPayloads(t *testing.T, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/usr/share/sip-tester", name))
	if err != nil {
		t.Skipf("SIPp sample captures not installed: %v", err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatalf("%s: not a little-endian Ethernet pcap", name)
	}
	var out [][]byte
	for b = b[24:]; len(b) >= 16; {
		n := int(binary.LittleEndian.Uint32(b[8:]))
		frame := b[16 : 16+n]
		b = b[16+n:]
		if len(frame) < 14+20+8 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
			continue
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != 17 || len(ip) < ihl+8 {
			continue
		}
		udpLen := int(binary.BigEndian.Uint16(ip[ihl+4:]))
		out = append(out, ip[ihl+8:ihl+udpLen])
	}
	return out
}

func TestBridgeSIPpDTMFCapture(t *testing.T) {
	checkGoroutines(t)
	cases := map[string]byte{"dtmf_2833_1.pcap": '1', "dtmf_2833_pound.pcap": '#', "dtmf_2833_star.pcap": '*'}
	r := newRig(t, g711Config())
	total := 0
	for _, name := range []string{"dtmf_2833_1.pcap", "dtmf_2833_pound.pcap", "dtmf_2833_star.pcap"} {
		pkts := sippPcapPayloads(t, name)
		for _, p := range pkts {
			r.pa.send(r.a.LocalAddr(), p)
		}
		for range pkts {
			if h, _ := r.pb.mustRecv(); h.PayloadType != 126 {
				t.Fatalf("%s: %+v", name, h)
			}
		}
		total++
		eventually(t, name, func() bool { return len(r.gotDigits()) == total })
		if got := r.gotDigits()[total-1]; got.digit != cases[name] || got.from != SideA {
			t.Fatalf("%s: reported %+v", name, got)
		}
	}
}
