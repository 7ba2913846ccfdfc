package media

import (
	"math"
	"testing"
)

func TestG711KnownValues(t *testing.T) {
	for _, tc := range []struct {
		law  Law
		b    byte
		want int16
	}{
		{MuLaw, 0xFF, 0}, {MuLaw, 0x7F, 0}, {MuLaw, 0x80, 32124}, {MuLaw, 0x00, -32124},
		{MuLaw, 0xFE, 8}, {MuLaw, 0x7E, -8}, {MuLaw, 0xF0, 120}, {MuLaw, 0xEF, 132},
		{ALaw, 0xD5, 8}, {ALaw, 0x55, -8}, {ALaw, 0xAA, 32256}, {ALaw, 0x2A, -32256},
		{ALaw, 0xD4, 24}, {ALaw, 0xC5, 264},
	} {
		if got := tc.law.Decode(tc.b); got != tc.want {
			t.Errorf("law %d decode(%#x) = %d, want %d", tc.law, tc.b, got, tc.want)
		}
	}
	for _, tc := range []struct {
		law  Law
		s    int16
		want byte
	}{
		{MuLaw, 0, 0xFF}, {MuLaw, 32767, 0x80}, {MuLaw, -32768, 0x00}, {MuLaw, 8, 0xFE}, {MuLaw, -8, 0x7E},
		{ALaw, 0, 0xD5}, {ALaw, 8, 0xD5}, {ALaw, -8, 0x55}, {ALaw, 32767, 0xAA}, {ALaw, -32768, 0x2A},
	} {
		if got := tc.law.Encode(tc.s); got != tc.want {
			t.Errorf("law %d encode(%d) = %#x, want %#x", tc.law, tc.s, got, tc.want)
		}
	}
	if MuLaw.Silence() != MuLawEncode(0) || ALaw.Silence() != ALawEncode(0) {
		t.Error("Silence is not the encoding of 0")
	}
}

func TestG711RoundTrip(t *testing.T) {
	for _, law := range []Law{MuLaw, ALaw} {
		// Every code decodes to a value that encodes back to it (μ-law has
		// two zeros, 0x7F and 0xFF; 0 encodes as 0xFF).
		for i := range 256 {
			b := byte(i)
			if law == MuLaw && b == 0x7F {
				continue
			}
			if got := law.Encode(law.Decode(b)); got != b {
				t.Errorf("law %d: encode(decode(%#x)) = %#x", law, b, got)
			}
		}
		// Encoding is monotonic in the sample and its error is within the
		// quantisation step of the segment.
		prev := law.Decode(law.Encode(-32768))
		for s := -32768; s <= 32767; s++ {
			d := law.Decode(law.Encode(int16(s)))
			if d < prev {
				t.Fatalf("law %d: not monotonic at %d", law, s)
			}
			prev = d
			if e := math.Abs(float64(d) - float64(s)); e > math.Max(16, math.Abs(float64(s))/16) {
				t.Fatalf("law %d: sample %d decodes to %d", law, s, d)
			}
		}
	}
}

func TestTone(t *testing.T) {
	for _, law := range []Law{MuLaw, ALaw} {
		// One second of 1 kHz in 50 packets of 160 samples, phase-continuous.
		buf := make([]byte, 160)
		var crossings, peak int
		prev := int16(0)
		for pkt := range 50 {
			Tone(buf, law, 1000, 8000, pkt*160)
			for _, b := range buf {
				s := law.Decode(b)
				if (prev < 0) != (s < 0) {
					crossings++
				}
				prev = s
				peak = max(peak, int(s))
			}
		}
		if crossings < 1990 || crossings > 2010 {
			t.Errorf("law %d: %d sign changes in 1 s of 1 kHz", law, crossings)
		}
		if peak < 7500 || peak > 8500 {
			t.Errorf("law %d: peak %d", law, peak)
		}
	}
	if l, ok := LawOf(pcma()); !ok || l != ALaw {
		t.Error("LawOf(PCMA)")
	}
	if _, ok := LawOf(te(101, "")); ok {
		t.Error("LawOf(telephone-event)")
	}
}

func BenchmarkMuLawEncode(b *testing.B) {
	var sink byte
	for i := 0; b.Loop(); i++ {
		sink ^= MuLawEncode(int16(i))
	}
	_ = sink
}
