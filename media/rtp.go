package media

import "encoding/binary"

// RTP header sizes and limits (RFC 3550 section 5.1).
const (
	// HeaderSize is the size of the RTP fixed header without CSRCs.
	HeaderSize = 12
	// MaxCSRC is the largest number of CSRC identifiers a header can carry.
	MaxCSRC = 15
	// RTPVersion is the only RTP version this package accepts.
	RTPVersion = 2
)

// Header is a parsed RTP fixed header. Unmarshal fills it from a packet
// without allocating; ExtensionPayload then aliases the packet buffer, so a
// Header must not outlive the buffer it was parsed from unless the caller
// copies that slice.
type Header struct {
	Padding          bool
	Extension        bool
	Marker           bool
	PayloadType      uint8
	SequenceNumber   uint16
	Timestamp        uint32
	SSRC             uint32
	CSRCCount        uint8
	CSRC             [MaxCSRC]uint32
	ExtensionProfile uint16
	// ExtensionPayload is the header extension body (a multiple of 4 bytes),
	// aliasing the parsed buffer.
	ExtensionPayload []byte
	// PaddingSize is the number of padding bytes at the end of the packet,
	// including the count byte itself; 0 unless Padding is set.
	PaddingSize uint8
}

// Unmarshal parses the RTP header at the start of b and returns the offset of
// the payload. The payload is b[payloadOffset:len(b)-h.PaddingSize]. It checks
// the version, the CSRC list, the extension length and the padding count
// against len(b), and never reads past it.
func (h *Header) Unmarshal(b []byte) (payloadOffset int, err error) {
	if len(b) < HeaderSize {
		return 0, ErrShortPacket
	}
	if b[0]>>6 != RTPVersion {
		return 0, ErrBadVersion
	}
	h.Padding = b[0]&0x20 != 0
	h.Extension = b[0]&0x10 != 0
	h.CSRCCount = b[0] & 0x0f
	h.Marker = b[1]&0x80 != 0
	h.PayloadType = b[1] & 0x7f
	h.SequenceNumber = binary.BigEndian.Uint16(b[2:])
	h.Timestamp = binary.BigEndian.Uint32(b[4:])
	h.SSRC = binary.BigEndian.Uint32(b[8:])

	off := HeaderSize + 4*int(h.CSRCCount)
	if len(b) < off {
		return 0, ErrShortPacket
	}
	for i := range int(h.CSRCCount) {
		h.CSRC[i] = binary.BigEndian.Uint32(b[HeaderSize+4*i:])
	}
	h.ExtensionProfile = 0
	h.ExtensionPayload = nil
	if h.Extension {
		if len(b) < off+4 {
			return 0, ErrShortPacket
		}
		h.ExtensionProfile = binary.BigEndian.Uint16(b[off:])
		n := 4 * int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4
		if len(b) < off+n {
			return 0, ErrShortPacket
		}
		h.ExtensionPayload = b[off : off+n : off+n]
		off += n
	}
	h.PaddingSize = 0
	if h.Padding {
		p := int(b[len(b)-1])
		if p == 0 || off+p > len(b) {
			return 0, ErrBadPadding
		}
		h.PaddingSize = uint8(p)
	}
	return off, nil
}

// MarshalSize returns the number of bytes MarshalTo writes.
func (h *Header) MarshalSize() int {
	n := HeaderSize + 4*int(h.CSRCCount&0x0f)
	if h.Extension {
		n += 4 + len(h.ExtensionPayload)&^3
	}
	return n
}

// MarshalTo writes the header (fixed part, CSRCs and extension) to the start
// of b and returns the number of bytes written. It does not write a payload
// or padding: the caller appends them, and keeps h.Padding consistent. Only
// the low 4 bits of CSRCCount and whole 32-bit words of ExtensionPayload are
// written.
func (h *Header) MarshalTo(b []byte) (int, error) {
	n := h.MarshalSize()
	if len(b) < n {
		return 0, ErrBufferTooSmall
	}
	cc := h.CSRCCount & 0x0f
	b[0] = RTPVersion<<6 | cc
	if h.Padding {
		b[0] |= 0x20
	}
	if h.Extension {
		b[0] |= 0x10
	}
	b[1] = h.PayloadType & 0x7f
	if h.Marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], h.SequenceNumber)
	binary.BigEndian.PutUint32(b[4:], h.Timestamp)
	binary.BigEndian.PutUint32(b[8:], h.SSRC)
	off := HeaderSize
	for i := range int(cc) {
		binary.BigEndian.PutUint32(b[off:], h.CSRC[i])
		off += 4
	}
	if h.Extension {
		words := len(h.ExtensionPayload) / 4
		binary.BigEndian.PutUint16(b[off:], h.ExtensionProfile)
		binary.BigEndian.PutUint16(b[off+2:], uint16(words))
		off += 4
		off += copy(b[off:], h.ExtensionPayload[:4*words])
	}
	return off, nil
}

// The helpers below rewrite fields of an RTP packet in place. They expect a
// packet of at least HeaderSize bytes (one that Header.Unmarshal accepted) and
// panic on a shorter slice, like any out-of-range index.

// SetPayloadType sets the payload type of pkt, keeping its marker bit.
func SetPayloadType(pkt []byte, pt uint8) { pkt[1] = pkt[1]&0x80 | pt&0x7f }

// SetMarker sets or clears the marker bit of pkt.
func SetMarker(pkt []byte, on bool) {
	if on {
		pkt[1] |= 0x80
	} else {
		pkt[1] &^= 0x80
	}
}

// SetSequenceNumber sets the sequence number of pkt.
func SetSequenceNumber(pkt []byte, seq uint16) { binary.BigEndian.PutUint16(pkt[2:], seq) }

// SetTimestamp sets the timestamp of pkt.
func SetTimestamp(pkt []byte, ts uint32) { binary.BigEndian.PutUint32(pkt[4:], ts) }

// SetSSRC sets the synchronisation source of pkt.
func SetSSRC(pkt []byte, ssrc uint32) { binary.BigEndian.PutUint32(pkt[8:], ssrc) }
