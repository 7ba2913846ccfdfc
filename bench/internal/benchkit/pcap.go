package benchkit

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"
)

// UDPPacket is one captured IPv4 UDP datagram.
type UDPPacket struct {
	At       time.Time
	Src, Dst netip.AddrPort
	Payload  []byte // valid until the next call of Next
}

// PcapReader reads IPv4 UDP datagrams from a classic libpcap file (the format
// tcpdump -w writes), skipping everything else. Link types: Ethernet (tcpdump -i lo),
// Linux cooked v1 and v2 (-i any), raw IP and BSD loopback.
type PcapReader struct {
	r        *bufio.Reader
	order    binary.ByteOrder
	nanos    bool
	linkType uint32
	hdr      [16]byte
	buf      []byte
}

// NewPcapReader reads the file header from r.
func NewPcapReader(r io.Reader) (*PcapReader, error) {
	p := &PcapReader{r: bufio.NewReaderSize(r, 1<<20)}
	var gh [24]byte
	if _, err := io.ReadFull(p.r, gh[:]); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	switch {
	case binary.LittleEndian.Uint32(gh[:4]) == 0xa1b2c3d4:
		p.order = binary.LittleEndian
	case binary.BigEndian.Uint32(gh[:4]) == 0xa1b2c3d4:
		p.order = binary.BigEndian
	case binary.LittleEndian.Uint32(gh[:4]) == 0xa1b23c4d:
		p.order, p.nanos = binary.LittleEndian, true
	case binary.BigEndian.Uint32(gh[:4]) == 0xa1b23c4d:
		p.order, p.nanos = binary.BigEndian, true
	default:
		return nil, errors.New("not a pcap file (pcapng is not supported: use tcpdump -w)")
	}
	p.linkType = p.order.Uint32(gh[20:24]) & 0x0fffffff
	switch p.linkType {
	case 0, 1, 12, 101, 113, 276:
	default:
		return nil, fmt.Errorf("pcap link type %d not supported", p.linkType)
	}
	return p, nil
}

// Next returns the next IPv4 UDP datagram, or io.EOF.
func (p *PcapReader) Next() (UDPPacket, error) {
	for {
		if _, err := io.ReadFull(p.r, p.hdr[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return UDPPacket{}, io.EOF // a capture cut short by the kill
			}
			return UDPPacket{}, err
		}
		sec, frac := p.order.Uint32(p.hdr[0:4]), p.order.Uint32(p.hdr[4:8])
		incl := p.order.Uint32(p.hdr[8:12])
		if incl > 1<<18 {
			return UDPPacket{}, fmt.Errorf("pcap record of %d bytes: corrupt file", incl)
		}
		if cap(p.buf) < int(incl) {
			p.buf = make([]byte, incl)
		}
		b := p.buf[:incl]
		if _, err := io.ReadFull(p.r, b); err != nil {
			return UDPPacket{}, io.EOF
		}
		ns := int64(frac) * 1000
		if p.nanos {
			ns = int64(frac)
		}
		at := time.Unix(int64(sec), ns)
		ip, ok := p.ipPayload(b)
		if !ok {
			continue
		}
		if pkt, ok := parseIPv4UDP(ip); ok {
			pkt.At = at
			return pkt, nil
		}
	}
}

// ipPayload strips the link-layer header; ok is false for anything but IPv4.
func (p *PcapReader) ipPayload(b []byte) ([]byte, bool) {
	switch p.linkType {
	case 1: // Ethernet
		if len(b) < 14 {
			return nil, false
		}
		et, off := binary.BigEndian.Uint16(b[12:14]), 14
		if et == 0x8100 && len(b) >= 18 { // one VLAN tag
			et, off = binary.BigEndian.Uint16(b[16:18]), 18
		}
		return b[off:], et == 0x0800
	case 113: // Linux cooked v1
		if len(b) < 16 {
			return nil, false
		}
		return b[16:], binary.BigEndian.Uint16(b[14:16]) == 0x0800
	case 276: // Linux cooked v2
		if len(b) < 20 {
			return nil, false
		}
		return b[20:], binary.BigEndian.Uint16(b[0:2]) == 0x0800
	case 0: // BSD loopback: 4-byte family in host order
		if len(b) < 4 {
			return nil, false
		}
		return b[4:], len(b) > 4 && b[4]>>4 == 4
	default: // raw IP
		return b, len(b) > 0 && b[0]>>4 == 4
	}
}

func parseIPv4UDP(b []byte) (UDPPacket, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return UDPPacket{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if b[9] != 17 || ihl < 20 || len(b) < ihl+8 {
		return UDPPacket{}, false
	}
	if flagsFrag := binary.BigEndian.Uint16(b[6:8]); flagsFrag&0x3fff != 0 {
		return UDPPacket{}, false // fragments: SIP over UDP here stays under the MTU
	}
	if total > 0 && total < len(b) {
		b = b[:total]
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	u := b[ihl:]
	ulen := int(binary.BigEndian.Uint16(u[4:6]))
	payload := u[8:]
	if ulen >= 8 && ulen-8 < len(payload) {
		payload = payload[:ulen-8]
	}
	return UDPPacket{
		Src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(u[0:2])),
		Dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(u[2:4])),
		Payload: payload,
	}, true
}

// ReadPcapFile calls fn for every IPv4 UDP datagram of the file at path.
func ReadPcapFile(path string, fn func(UDPPacket)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := NewPcapReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for {
		pkt, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fn(pkt)
	}
}
