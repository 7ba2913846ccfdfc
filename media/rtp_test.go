package media

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// A telephone-event start packet from SIPp's dtmf_2833_1.pcap.
const sippEventHex = "80e51f30000033e00e05384e010a0000"

func TestHeaderUnmarshalSIPpPacket(t *testing.T) {
	pkt, _ := hex.DecodeString(sippEventHex)
	var h Header
	off, err := h.Unmarshal(pkt)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{Marker: true, PayloadType: 101, SequenceNumber: 0x1f30, Timestamp: 0x33e0, SSRC: 0x0e05384e}
	if off != 12 || h.Marker != want.Marker || h.PayloadType != want.PayloadType ||
		h.SequenceNumber != want.SequenceNumber || h.Timestamp != want.Timestamp || h.SSRC != want.SSRC {
		t.Fatalf("got off=%d %+v", off, h)
	}
	if got := pkt[off:]; !bytes.Equal(got, []byte{1, 10, 0, 0}) {
		t.Fatalf("payload %x", got)
	}
}

func TestHeaderCSRCExtensionPadding(t *testing.T) {
	h := Header{
		Padding: true, Extension: true, Marker: true, PayloadType: 8,
		SequenceNumber: 65535, Timestamp: 0xdeadbeef, SSRC: 0x01020304,
		CSRCCount: 2, CSRC: [MaxCSRC]uint32{7, 9},
		ExtensionProfile: 0xBEDE, ExtensionPayload: []byte{0x10, 0xAA, 0, 0},
	}
	payload := []byte{1, 2, 3}
	pad := []byte{0, 0, 3}
	b := make([]byte, h.MarshalSize())
	n, err := h.MarshalTo(b)
	if err != nil || n != 12+8+4+4 {
		t.Fatalf("MarshalTo = %d, %v", n, err)
	}
	pkt := append(append(b, payload...), pad...)

	var g Header
	off, err := g.Unmarshal(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if off != n || g.PaddingSize != 3 || g.CSRCCount != 2 || g.CSRC[1] != 9 ||
		g.ExtensionProfile != 0xBEDE || !bytes.Equal(g.ExtensionPayload, h.ExtensionPayload) ||
		!g.Marker || g.PayloadType != 8 || g.SequenceNumber != 65535 || g.Timestamp != 0xdeadbeef {
		t.Fatalf("round trip: off=%d %+v", off, g)
	}
	if got := pkt[off : len(pkt)-int(g.PaddingSize)]; !bytes.Equal(got, payload) {
		t.Fatalf("payload %x", got)
	}
	if _, err := h.MarshalTo(make([]byte, n-1)); !errors.Is(err, ErrBufferTooSmall) {
		t.Fatalf("short buffer: %v", err)
	}
}

func TestHeaderUnmarshalErrors(t *testing.T) {
	valid := rtpPacket(0, false, 1, 2, 3, []byte{0xff})
	withCSRC := append([]byte(nil), valid...)
	withCSRC[0] |= 0x03 // claims 3 CSRCs, has 1 byte
	withExt := append([]byte(nil), valid[:12]...)
	withExt[0] |= 0x10
	withExt = append(withExt, 0xBE, 0xDE, 0x00, 0x05) // 5 words that are not there
	badPad := append([]byte(nil), valid...)
	badPad[0] |= 0x20
	badPad[len(badPad)-1] = 9
	zeroPad := append([]byte(nil), valid...)
	zeroPad[0] |= 0x20
	zeroPad[len(zeroPad)-1] = 0
	v1 := append([]byte(nil), valid...)
	v1[0] = 0x40

	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShortPacket},
		{"11 bytes", valid[:11], ErrShortPacket},
		{"version 1", v1, ErrBadVersion},
		{"csrc beyond end", withCSRC, ErrShortPacket},
		{"extension beyond end", withExt, ErrShortPacket},
		{"extension header cut", withExt[:14], ErrShortPacket},
		{"padding beyond payload", badPad, ErrBadPadding},
		{"padding count zero", zeroPad, ErrBadPadding},
	} {
		var h Header
		if _, err := h.Unmarshal(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	var h Header
	if off, err := h.Unmarshal(valid[:12]); err != nil || off != 12 {
		t.Errorf("header only: %d, %v", off, err)
	}
}

func TestRewriteHelpers(t *testing.T) {
	pkt := rtpPacket(0, true, 1, 2, 3, []byte{0xff, 0xfe})
	SetPayloadType(pkt, 8)
	SetSequenceNumber(pkt, 0xabcd)
	SetTimestamp(pkt, 0x11223344)
	SetSSRC(pkt, 0x55667788)
	var h Header
	if _, err := h.Unmarshal(pkt); err != nil {
		t.Fatal(err)
	}
	if !h.Marker || h.PayloadType != 8 || h.SequenceNumber != 0xabcd || h.Timestamp != 0x11223344 || h.SSRC != 0x55667788 {
		t.Fatalf("%+v", h)
	}
	SetMarker(pkt, false)
	SetPayloadType(pkt, 200) // only 7 bits are kept
	h.Unmarshal(pkt)
	if h.Marker || h.PayloadType != 200&0x7f {
		t.Fatalf("%+v", h)
	}
	if !bytes.Equal(pkt[12:], []byte{0xff, 0xfe}) {
		t.Fatal("payload touched")
	}
}

func FuzzHeaderUnmarshal(f *testing.F) {
	sipp, _ := hex.DecodeString(sippEventHex)
	f.Add(sipp)
	f.Add(rtpPacket(0, false, 1, 160, 0x1234, make([]byte, 160)))
	h := Header{Padding: true, Extension: true, CSRCCount: 1, ExtensionPayload: []byte{1, 2, 3, 4}}
	b := make([]byte, h.MarshalSize())
	h.MarshalTo(b)
	f.Add(append(b, 9, 9, 2))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		off, err := h.Unmarshal(b)
		if err != nil {
			return
		}
		if off < HeaderSize || off+int(h.PaddingSize) > len(b) {
			t.Fatalf("offset %d padding %d len %d", off, h.PaddingSize, len(b))
		}
		out := make([]byte, h.MarshalSize())
		n, err := h.MarshalTo(out)
		if err != nil || n != off {
			t.Fatalf("MarshalTo = %d, %v; offset %d", n, err, off)
		}
		if !bytes.Equal(out, b[:off]) {
			t.Fatalf("round trip\n got %x\nwant %x", out, b[:off])
		}
		var g Header
		if off2, err := g.Unmarshal(append(out, b[off:]...)); err != nil || off2 != off {
			t.Fatalf("re-parse: %d, %v", off2, err)
		}
	})
}

func BenchmarkHeaderUnmarshal(b *testing.B) {
	pkt := rtpPacket(0, false, 1, 160, 0x1234, make([]byte, 160))
	var h Header
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := h.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeaderRewrite(b *testing.B) {
	pkt := rtpPacket(0, false, 1, 160, 0x1234, make([]byte, 160))
	var h Header
	b.ReportAllocs()
	var seq uint16
	for b.Loop() {
		if _, err := h.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
		seq++
		SetPayloadType(pkt, 8)
		SetSequenceNumber(pkt, h.SequenceNumber+seq)
		SetTimestamp(pkt, h.Timestamp+160)
		SetSSRC(pkt, 0xcafe)
	}
}
