package media

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// Limits ParseSDP enforces on untrusted input.
const (
	// MaxSDPSize is the largest SDP body ParseSDP accepts.
	MaxSDPSize = 64 << 10
	// MaxFormats is the largest number of payload types ParseSDP accepts on
	// the audio m= line.
	MaxFormats = 64
)

// Direction is the SDP media direction attribute (RFC 3264 section 5.1),
// seen from the endpoint that wrote the description.
type Direction uint8

// Media directions. The zero value is SendRecv, the SDP default.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// String returns the attribute name: "sendrecv", "sendonly", "recvonly" or
// "inactive".
func (d Direction) String() string {
	switch d {
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	default:
		return "sendrecv"
	}
}

// Answer returns the direction an answerer that is willing to send and
// receive puts in its answer to an offer with direction d: sendonly is
// answered with recvonly and the reverse; sendrecv and inactive are kept.
func (d Direction) Answer() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	default:
		return d
	}
}

func parseDirection(s string) (Direction, bool) {
	switch s {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return SendRecv, false
}

// Format is one RTP payload format of an audio stream.
type Format struct {
	PT       uint8  // RTP payload type, 0-127
	Name     string // encoding name; "PCMU", "PCMA", "telephone-event", ...
	Rate     int    // clock rate in Hz
	Channels int    // 1 unless the rtpmap says otherwise
	Fmtp     string // format parameters (the a=fmtp value after the PT), or ""
}

// Encoding names as ParseSDP returns them.
const (
	NamePCMU           = "PCMU"
	NamePCMA           = "PCMA"
	NameTelephoneEvent = "telephone-event"
)

// staticFormat returns the RFC 3551 static payload types that SIP peers
// commonly list without an a=rtpmap.
func staticFormat(pt uint8) (name string, rate int) {
	switch pt {
	case 0:
		return NamePCMU, 8000
	case 3:
		return "GSM", 8000
	case 4:
		return "G723", 8000
	case 8:
		return NamePCMA, 8000
	case 9:
		return "G722", 8000
	case 13:
		return "CN", 8000
	case 18:
		return "G729", 8000
	}
	return "", 0
}

// canonicalName spells well-known encoding names one way, whatever case the
// peer used; other names are kept as written.
func canonicalName(n string) string {
	for _, c := range [...]string{NamePCMU, NamePCMA, NameTelephoneEvent, "G722", "G729", "GSM", "G723", "CN"} {
		if strings.EqualFold(n, c) {
			return c
		}
	}
	return n
}

// SessionDesc is the audio part of an SDP session description, the subset
// of RFC 4566 a G.711 B2BUA needs.
type SessionDesc struct {
	// Origin (o=) fields.
	Username  string
	SessionID uint64
	Version   uint64

	// Addr is the connection address of the audio stream: the media-level
	// c= line if present, else the session-level one. 0.0.0.0 is the RFC 2543
	// way to put a call on hold.
	Addr netip.Addr
	// Port is the RTP port of the audio stream (m=audio).
	Port int
	// Proto is the transport of the audio stream as parsed, e.g. "RTP/AVP"
	// or "UDP/TLS/RTP/SAVPF". Marshal always writes "RTP/AVP".
	Proto string
	// Formats lists the payload formats in m= line order (the peer's
	// preference).
	Formats []Format
	// Direction of the audio stream (media level overrides session level).
	Direction Direction
	// Ptime is the packetisation time in milliseconds, 0 if not given.
	Ptime int
}

// Receiving reports whether the endpoint that wrote s wants to receive audio:
// direction sendrecv or recvonly, a specified address and a non-zero port.
func (s SessionDesc) Receiving() bool {
	return (s.Direction == SendRecv || s.Direction == RecvOnly) &&
		s.Addr.IsValid() && !s.Addr.IsUnspecified() && s.Port > 0
}

// Format returns the format with payload type pt.
func (s SessionDesc) Format(pt uint8) (Format, bool) {
	for _, f := range s.Formats {
		if f.PT == pt {
			return f, true
		}
	}
	return Format{}, false
}

type sdpSection uint8

const (
	sectionSession sdpSection = iota
	sectionAudio              // the first audio m= section, the one we keep
	sectionOther              // any other m= section, ignored
)

// ParseSDP parses an SDP body and returns its first audio stream.
//
// It accepts CRLF or bare LF line ends, blank lines, unknown attributes and
// unknown line types (all ignored), and m= sections other than the first
// audio one (ignored). It rejects bodies over MaxSDPSize, a first line other
// than v=0, lines not of the form x=..., malformed o=, c= and m= lines of the
// session or of the audio stream, and an audio stream without a connection
// address. A missing audio stream, or a first audio stream with port 0
// (rejected), is ErrNoAudio. Malformed values of optional attributes
// (a=ptime, a=rtpmap, a=fmtp) are ignored.
//
// Names of well-known encodings are canonicalised (PCMU, PCMA,
// telephone-event, ...); static payload types 0, 3, 4, 8, 9, 13 and 18 get
// their name and rate without an a=rtpmap. A connection address of 0.0.0.0
// (hold, RFC 2543) turns sendrecv into sendonly and recvonly into inactive,
// except for WebRTC transports (UDP/TLS/...), where 0.0.0.0 only means that
// ICE candidates come separately.
//
// Errors other than ErrNoAudio are *SDPError values wrapping ErrBadSDP.
func ParseSDP(b []byte) (SessionDesc, error) {
	var s SessionDesc
	if len(b) > MaxSDPSize {
		return s, &SDPError{Msg: "body too large"}
	}
	var (
		section             = sectionSession
		sawVersion          bool
		haveAudio           bool
		sessAddr, mediaAddr netip.Addr
		sessDir, mediaDir   Direction
		haveSessDir         bool
		haveMediaDir        bool
		sessPtime, ptime    int
		lineNo              int
	)
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		lineNo++
		line = bytes.TrimRight(line, "\r \t")
		if len(line) == 0 {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return s, &SDPError{Line: lineNo, Msg: "not a type=value line"}
		}
		typ, val := line[0], string(line[2:])
		if !sawVersion {
			if typ != 'v' || val != "0" {
				return s, &SDPError{Line: lineNo, Msg: "first line is not v=0"}
			}
			sawVersion = true
			continue
		}
		switch typ {
		case 'v':
			return s, &SDPError{Line: lineNo, Msg: "repeated v= line"}
		case 'o':
			if section != sectionSession {
				continue
			}
			if err := parseOrigin(&s, val); err != "" {
				return s, &SDPError{Line: lineNo, Msg: err}
			}
		case 'c':
			if section == sectionOther {
				continue
			}
			a, err := parseConnection(val)
			if err != "" {
				return s, &SDPError{Line: lineNo, Msg: err}
			}
			if section == sectionSession {
				sessAddr = a
			} else {
				mediaAddr = a
			}
		case 'm':
			if section == sectionAudio || haveAudio {
				section = sectionOther
				continue
			}
			media, _, _ := strings.Cut(val, " ")
			if media != "audio" {
				section = sectionOther
				continue
			}
			if err := parseMedia(&s, val); err != "" {
				return s, &SDPError{Line: lineNo, Msg: err}
			}
			section, haveAudio = sectionAudio, true
		case 'a':
			if section == sectionOther {
				continue
			}
			name, value, _ := strings.Cut(val, ":")
			if d, ok := parseDirection(name); ok {
				if section == sectionSession {
					sessDir, haveSessDir = d, true
				} else {
					mediaDir, haveMediaDir = d, true
				}
				continue
			}
			switch name {
			case "ptime":
				if p, ok := parsePtime(value); ok {
					if section == sectionSession {
						sessPtime = p
					} else {
						ptime = p
					}
				}
			case "rtpmap":
				if section == sectionAudio {
					parseRtpmap(&s, value)
				}
			case "fmtp":
				if section == sectionAudio {
					parseFmtp(&s, value)
				}
			}
		}
	}
	if !sawVersion {
		return s, &SDPError{Msg: "empty body"}
	}
	if !haveAudio || s.Port == 0 {
		return s, ErrNoAudio
	}
	s.Addr = mediaAddr
	if !s.Addr.IsValid() {
		s.Addr = sessAddr
	}
	if !s.Addr.IsValid() {
		return s, &SDPError{Msg: "audio stream has no connection address"}
	}
	switch {
	case haveMediaDir:
		s.Direction = mediaDir
	case haveSessDir:
		s.Direction = sessDir
	}
	// WebRTC (UDP/TLS/... with ICE) writes 0.0.0.0 before candidates are
	// known; that is not hold.
	if s.Addr.IsUnspecified() && !strings.HasPrefix(s.Proto, "UDP/TLS/") {
		switch s.Direction {
		case SendRecv:
			s.Direction = SendOnly
		case RecvOnly:
			s.Direction = Inactive
		}
	}
	s.Ptime = ptime
	if s.Ptime == 0 {
		s.Ptime = sessPtime
	}
	return s, nil
}

// parseOrigin parses "username sess-id sess-version nettype addrtype addr".
func parseOrigin(s *SessionDesc, val string) string {
	f := strings.Fields(val)
	if len(f) != 6 {
		return "o= needs 6 fields"
	}
	id, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return "o= session id is not a number"
	}
	ver, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return "o= session version is not a number"
	}
	s.Username, s.SessionID, s.Version = f[0], id, ver
	return ""
}

// parseConnection parses "IN IP4 addr[/ttl[/n]]" or "IN IP6 addr[/n]".
func parseConnection(val string) (netip.Addr, string) {
	f := strings.Fields(val)
	if len(f) != 3 || f[0] != "IN" {
		return netip.Addr{}, "c= is not IN IP4|IP6 address"
	}
	host, _, _ := strings.Cut(f[2], "/")
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, "c= address is not an IP address"
	}
	switch {
	case f[1] == "IP4" && a.Is4():
	case f[1] == "IP6" && a.Is6():
	default:
		return netip.Addr{}, "c= address type does not match address"
	}
	return a.Unmap(), "" // IP6 ::ffff:a.b.c.d is an IPv4 peer
}

// parseMedia parses "audio port[/n] proto fmt...".
func parseMedia(s *SessionDesc, val string) string {
	f := strings.Fields(val)
	if len(f) < 4 {
		return "m= needs media, port, proto and formats"
	}
	portStr, _, _ := strings.Cut(f[1], "/")
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "m= port out of range"
	}
	if len(f)-3 > MaxFormats {
		return "m= lists too many formats"
	}
	s.Port, s.Proto = port, f[2]
	s.Formats = make([]Format, 0, len(f)-3)
	for _, p := range f[3:] {
		pt, err := strconv.ParseUint(p, 10, 8)
		if err != nil || pt > 127 {
			return "m= format is not an RTP payload type"
		}
		if _, dup := s.Format(uint8(pt)); dup {
			continue
		}
		name, rate := staticFormat(uint8(pt))
		s.Formats = append(s.Formats, Format{PT: uint8(pt), Name: name, Rate: rate, Channels: 1})
	}
	return ""
}

// parseRtpmap applies "pt name/rate[/channels]" to the listed format pt.
func parseRtpmap(s *SessionDesc, val string) {
	ptStr, enc, ok := strings.Cut(val, " ")
	if !ok {
		return
	}
	f := formatRef(s, ptStr)
	if f == nil {
		return
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return
	}
	rate, err := strconv.Atoi(parts[1])
	if err != nil || rate <= 0 {
		return
	}
	ch := 1
	if len(parts) == 3 {
		if ch, err = strconv.Atoi(parts[2]); err != nil || ch <= 0 {
			return
		}
	}
	f.Name, f.Rate, f.Channels = canonicalName(parts[0]), rate, ch
}

// parseFmtp applies "pt params" to the listed format pt.
func parseFmtp(s *SessionDesc, val string) {
	ptStr, params, ok := strings.Cut(val, " ")
	if !ok {
		return
	}
	if f := formatRef(s, ptStr); f != nil {
		f.Fmtp = strings.TrimSpace(params)
	}
}

func formatRef(s *SessionDesc, ptStr string) *Format {
	pt, err := strconv.ParseUint(ptStr, 10, 8)
	if err != nil {
		return nil
	}
	for i := range s.Formats {
		if s.Formats[i].PT == uint8(pt) {
			return &s.Formats[i]
		}
	}
	return nil
}

// parsePtime accepts "20" and, as some devices write, "20.0".
func parsePtime(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		return n, n > 0 && n <= 1000
	}
	if x, err := strconv.ParseFloat(v, 64); err == nil && x >= 1 && x <= 1000 {
		return int(x + 0.5), true
	}
	return 0, false
}
