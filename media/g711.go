package media

import "math"

// Law is a G.711 companding law.
type Law uint8

// The two G.711 laws.
const (
	MuLaw Law = iota // PCMU, payload type 0
	ALaw             // PCMA, payload type 8
)

// Silence returns the byte that encodes a zero sample: 0xFF in μ-law, 0xD5
// in A-law.
func (l Law) Silence() byte {
	if l == ALaw {
		return 0xD5
	}
	return 0xFF
}

// Encode returns the G.711 byte for a 16-bit linear sample.
func (l Law) Encode(s int16) byte {
	if l == ALaw {
		return ALawEncode(s)
	}
	return MuLawEncode(s)
}

// Decode returns the 16-bit linear sample for a G.711 byte.
func (l Law) Decode(b byte) int16 {
	if l == ALaw {
		return ALawDecode(b)
	}
	return MuLawDecode(b)
}

// LawOf returns the G.711 law of an SDP format named PCMU or PCMA.
func LawOf(f Format) (Law, bool) {
	switch f.Name {
	case NamePCMU:
		return MuLaw, true
	case NamePCMA:
		return ALaw, true
	}
	return 0, false
}

// The encoders and decoders follow ITU-T G.711 as implemented in the
// public-domain Sun Microsystems g711.c: segment search on the magnitude,
// 4 quantisation bits, sign in the top bit, and even bits inverted for A-law.

const (
	muBias = 0x84
	muClip = 8159 // 14-bit magnitude limit, after the shift by 2
)

// MuLawEncode returns the μ-law byte for a 16-bit linear sample.
func MuLawEncode(s int16) byte {
	v := int(s) >> 2
	mask := byte(0xFF)
	if v < 0 {
		v, mask = -v, 0x7F
	}
	v = min(v, muClip) + muBias>>2
	seg := segment(v, 0x3F)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return (byte(seg)<<4 | byte(v>>(seg+1))&0x0F) ^ mask
}

// MuLawDecode returns the 16-bit linear sample for a μ-law byte.
func MuLawDecode(u byte) int16 {
	u = ^u
	t := (int(u&0x0F)<<3 + muBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(muBias - t)
	}
	return int16(t - muBias)
}

// ALawEncode returns the A-law byte for a 16-bit linear sample.
func ALawEncode(s int16) byte {
	v := int(s) >> 3
	mask := byte(0xD5)
	if v < 0 {
		v, mask = -v-1, 0x55
	}
	seg := segment(v, 0x1F)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := byte(seg) << 4
	if seg < 2 {
		a |= byte(v>>1) & 0x0F
	} else {
		a |= byte(v>>seg) & 0x0F
	}
	return a ^ mask
}

// ALawDecode returns the 16-bit linear sample for an A-law byte.
func ALawDecode(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// segment returns the first of 8 segments whose end (first, first*2+1, ...)
// is at least v, or 8 if none is.
func segment(v, first int) int {
	end := first
	for seg := range 8 {
		if v <= end {
			return seg
		}
		end = end<<1 | 1
	}
	return 8
}

// Tone fills dst with a sine tone of hz Hertz and peak amplitude amp (a
// linear 16-bit value, e.g. 8000 for about -12 dBFS), sampled at 8000 Hz and
// encoded with law. start is the index of dst[0] in the whole signal; pass
// the running sample count to continue a tone across packets without a phase
// jump.
func Tone(dst []byte, law Law, hz float64, amp int16, start int) {
	w := 2 * math.Pi * hz / G711Rate
	for i := range dst {
		dst[i] = law.Encode(int16(float64(amp) * math.Sin(w*float64(start+i))))
	}
}
