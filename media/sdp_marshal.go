package media

import (
	"net/netip"
	"strconv"
)

// DefaultDTMFEvents is the a=fmtp value Marshal writes for telephone-event:
// the DTMF digits 0-9, *, #, A-D and flash.
const DefaultDTMFEvents = "0-16"

// Marshal writes s as a complete SDP body with CRLF line ends:
//
//	v=0
//	o=USERNAME SESSIONID VERSION IN IP4 ADDR
//	s=-
//	c=IN IP4 ADDR
//	t=0 0
//	m=audio PORT RTP/AVP PT...
//	a=rtpmap:PT NAME/RATE[/CHANNELS]   (one per format with a valid name and rate)
//	a=fmtp:PT ...                      (telephone-event and formats with parameters)
//	a=ptime:PTIME                      (if Ptime > 0)
//	a=DIRECTION
//
// Marshal writes no string it has not validated: a Username that is not an
// SDP token becomes "-"; a format whose payload type is over 127, or a
// duplicate, is left out; an rtpmap is written only for a token Name with a
// positive Rate; an fmtp only if it is printable ASCII (for telephone-event,
// only digits, commas and dashes; otherwise DefaultDTMFEvents). An invalid Addr
// is written as 0.0.0.0 and a Port outside 0-65535 as 0. With no formats the
// m= line lists payload type 0, as RFC 3264 requires at least one even in a
// rejected stream.
func (s SessionDesc) Marshal() []byte {
	addr := s.Addr.Unmap()
	if !addr.IsValid() || addr.Zone() != "" {
		addr = netip.IPv4Unspecified()
	}
	ipver := "IP4"
	if addr.Is6() {
		ipver = "IP6"
	}
	user := s.Username
	if !isToken(user, 64) {
		user = "-"
	}
	port := s.Port
	if port < 0 || port > 65535 {
		port = 0
	}

	b := make([]byte, 0, 256+64*len(s.Formats))
	b = append(b, "v=0\r\no="...)
	b = append(b, user...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, s.SessionID, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, s.Version, 10)
	b = append(b, " IN "...)
	b = append(b, ipver...)
	b = append(b, ' ')
	b = addr.AppendTo(b)
	b = append(b, "\r\ns=-\r\nc=IN "...)
	b = append(b, ipver...)
	b = append(b, ' ')
	b = addr.AppendTo(b)
	b = append(b, "\r\nt=0 0\r\nm=audio "...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, " RTP/AVP"...)

	var seen [128]bool
	formats := make([]Format, 0, len(s.Formats))
	for _, f := range s.Formats {
		if f.PT > 127 || seen[f.PT] {
			continue
		}
		seen[f.PT] = true
		formats = append(formats, f)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(f.PT), 10)
	}
	if len(formats) == 0 {
		b = append(b, " 0"...)
	}
	b = append(b, "\r\n"...)

	for _, f := range formats {
		if isToken(f.Name, 32) && f.Rate > 0 {
			b = append(b, "a=rtpmap:"...)
			b = strconv.AppendUint(b, uint64(f.PT), 10)
			b = append(b, ' ')
			b = append(b, f.Name...)
			b = append(b, '/')
			b = strconv.AppendInt(b, int64(f.Rate), 10)
			if f.Channels > 1 {
				b = append(b, '/')
				b = strconv.AppendInt(b, int64(f.Channels), 10)
			}
			b = append(b, "\r\n"...)
		}
		fmtp := f.Fmtp
		if f.Name == NameTelephoneEvent {
			if !isEventList(fmtp) {
				fmtp = DefaultDTMFEvents
			}
		} else if !isPrintable(fmtp, 512) {
			fmtp = ""
		}
		if fmtp != "" {
			b = append(b, "a=fmtp:"...)
			b = strconv.AppendUint(b, uint64(f.PT), 10)
			b = append(b, ' ')
			b = append(b, fmtp...)
			b = append(b, "\r\n"...)
		}
	}
	if s.Ptime > 0 && s.Ptime <= 1000 {
		b = append(b, "a=ptime:"...)
		b = strconv.AppendInt(b, int64(s.Ptime), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "a="...)
	b = append(b, s.Direction.String()...)
	b = append(b, "\r\n"...)
	return b
}

// isToken reports whether s is a non-empty RFC 4566 token of at most max
// bytes.
func isToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!', c == '#', c == '$', c == '%', c == '&', c == '\'', c == '*',
			c == '+', c == '-', c == '.', c == '^', c == '_', c == '`', c == '{',
			c == '|', c == '}', c == '~':
		default:
			return false
		}
	}
	return true
}

// isPrintable reports whether s is at most max bytes of printable ASCII
// (spaces allowed inside, not at the ends).
func isPrintable(s string, max int) bool {
	if len(s) > max || (s != "" && (s[0] == ' ' || s[len(s)-1] == ' ')) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isEventList reports whether s looks like an RFC 4733 event list such as
// "0-15" or "0-11,16".
func isEventList(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != ',' && c != '-' {
			return false
		}
	}
	return true
}
