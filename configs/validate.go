package configs

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v4"
)

// This file checks the settings sections (listen, sip, media, storage, log, demo) and
// holds the helpers shared by all checks; web.go checks the web section, items.go and
// agents.go the lists.

// validation checks one loaded, defaulted config and normalises the values it accepts
// in several spellings (case of enums, CIDR notation).
type validation struct {
	cfg    *Config
	src    *source
	probs  *problems
	loader loader
}

// place is where a group of settings was written: a file, the node of the mapping
// holding them and the label prefixed to messages (`trunk "a"`, "" at top level).
type place struct {
	file  string
	node  *yaml.Node
	label string
}

// bad reports an invalid value at the setting reached by path (keys and indexes)
// from pl, e.g. bad(pl, at("inbound_cidrs", 1), "invalid CIDR %q", s).
func (v *validation) bad(pl place, path []any, format string, args ...any) {
	v.badKind(ErrInvalid, pl, path, format, args...)
}

// badKind is bad with a chosen kind. A line that already has a decoding problem (a
// wrong type, a duplicate key) gets no further problems: the value validation sees
// there is not what the admin wrote.
func (v *validation) badKind(kind error, pl place, path []any, format string, args ...any) {
	if v.probs.full() {
		v.probs.dropped++
		return
	}
	line := lineAt(pl.node, path...)
	if v.probs.decodeProblemAt(pl.file, line) {
		return
	}
	where := prefix(join(pl.label, renderPath(path)))
	v.probs.add(kind, pl.file, line, nil, "%s%s", where, fmt.Sprintf(format, args...))
}

// where renders p for a message about file: "line 7" within the same file, else
// "file:line".
func (v *validation) where(p Pos, file string) string {
	if p.File == file && p.Line > 0 {
		return "line " + strconv.Itoa(p.Line)
	}
	return p.String()
}

// at builds a path for bad.
func at(steps ...any) []any { return steps }

// renderPath renders a path as messages show it: "auth: password_env",
// "inbound_cidrs[1]".
func renderPath(path []any) string {
	var b strings.Builder
	for i, step := range path {
		switch s := step.(type) {
		case string:
			if i > 0 {
				b.WriteString(": ")
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

// validate runs every check.
func (v *validation) validate() {
	top := place{file: v.src.main, node: v.src.root}
	v.listen(top)
	v.sip(top)
	v.media(top)
	v.storageAndLog(top)
	v.demo(top)
	v.web(top)
	v.items()
	v.masking(top) // after items: it refers to pools and tenants
	v.api(top)
	v.eventCallbacks() // after api: it takes the apps' secrets
	v.security(top)
	v.records(top)
	v.admin(top)     // admin.go
	v.suppliers(top) // suppliers.go, pools[].weight too
}

// listen checks the listener addresses.
func (v *validation) listen(top place) {
	l := v.cfg.Listen
	addrs := []struct {
		key, addr string
		tcp       bool
	}{
		{"sip_udp", l.SIPUDP, false},
		{"sip_tcp", l.SIPTCP, true},
		{"public_http", l.PublicHTTP, true},
		{"internal_http", l.InternalHTTP, true},
	}
	tcpUsers := map[string]string{}
	for _, a := range addrs {
		if a.addr == "" {
			continue
		}
		if msg := checkHostPort(a.addr, true); msg != "" {
			v.bad(top, at("listen", a.key), "%s, or %q to turn the listener off", msg, listenOff)
			continue
		}
		if !a.tcp || strings.HasSuffix(a.addr, ":0") {
			continue
		}
		if other, dup := tcpUsers[a.addr]; dup {
			v.bad(top, at("listen", a.key), "address %s is already used by listen.%s", a.addr, other)
			continue
		}
		tcpUsers[a.addr] = a.key
	}
}

// sip checks the user-agent settings.
func (v *validation) sip(top place) {
	s := &v.cfg.SIP
	l := v.cfg.Listen
	switch {
	case s.PublicAddress != "":
		if msg := checkHost(s.PublicAddress); msg != "" {
			v.bad(top, at("sip", "public_address"), "%s", msg)
		}
	case l.SIPUDP != "" || l.SIPTCP != "":
		key, addr := "sip_udp", l.SIPUDP
		if addr == "" {
			key, addr = "sip_tcp", l.SIPTCP
		}
		if checkHostPort(addr, true) == "" { // else already reported
			v.bad(top, at("listen", key), "%s binds all interfaces, so sip.public_address must be set to the address carriers reach callgate at", addr)
		}
	}
	if msg := checkHeaderValue(s.UserAgent, true); msg != "" {
		v.bad(top, at("sip", "user_agent"), "%s", msg)
	}
	if s.RingTimeout < 0 {
		v.bad(top, at("sip", "ring_timeout"), "must be positive, got %s", s.RingTimeout)
	}
	if s.ShutdownGrace < 0 {
		v.bad(top, at("sip", "shutdown_grace"), "must be positive, got %s", s.ShutdownGrace)
	}
	if l := s.TransactionLinger.Std(); l != 0 && (l < time.Second || l > 32*time.Second) {
		v.bad(top, at("sip", "transaction_linger"), "must be 0 (RFC 3261: 32s) or from 1s to 32s, got %s", s.TransactionLinger)
	}
	if s.NoRouteStatus < 400 || s.NoRouteStatus > 699 {
		v.bad(top, at("sip", "no_route_status"), "must be a SIP failure status from 400 to 699, got %d", s.NoRouteStatus)
	}
	v.sipLimits(top)
	v.scoring(top)
}

// media checks the RTP settings.
func (v *validation) media(top place) {
	m := &v.cfg.Media
	portsOK := true
	for _, p := range []struct {
		key  string
		port int
	}{{"port_min", m.PortMin}, {"port_max", m.PortMax}} {
		if p.port < 1024 || p.port > 65535 {
			v.bad(top, at("media", p.key), "port %d is outside 1024-65535", p.port)
			portsOK = false
		}
	}
	switch {
	case !portsOK:
	case m.PortMin%2 != 0:
		v.bad(top, at("media", "port_min"), "must be even (RTP uses even ports), got %d", m.PortMin)
	case m.PortMin >= m.PortMax:
		v.bad(top, at("media", "port_min"), "port range %d-%d is empty: port_min must be below port_max", m.PortMin, m.PortMax)
	}
	bind, err := netip.ParseAddr(m.BindAddress)
	if err != nil {
		v.bad(top, at("media", "bind_address"), "invalid IP address %q", m.BindAddress)
	}
	switch {
	case m.PublicAddress != "":
		if ip, err := netip.ParseAddr(m.PublicAddress); err != nil || ip.IsUnspecified() {
			v.bad(top, at("media", "public_address"), "invalid IP address %q: want the IP peers send RTP to", m.PublicAddress)
		}
	case err == nil && bind.IsUnspecified():
		v.bad(top, at("media", "bind_address"), "%s binds all interfaces, so media.public_address must be set to the IP peers send RTP to", m.BindAddress)
	}
	v.ice(top, portsOK)
}

// ice checks the settings of the browsers' WebRTC legs. rtpOK says whether the RTP
// port range is valid, so that overlaps with it can be checked.
func (v *validation) ice(top place, rtpOK bool) {
	m := &v.cfg.Media
	inRTP := func(p int) bool { return rtpOK && p >= m.PortMin && p <= m.PortMax }
	rangeSet := m.ICEPortMin != 0 || m.ICEPortMax != 0
	if rangeSet {
		ok := true
		for _, p := range []struct {
			key  string
			port int
		}{{"ice_port_min", m.ICEPortMin}, {"ice_port_max", m.ICEPortMax}} {
			switch {
			case p.port == 0:
				v.bad(top, at("media", p.key), "set both ice_port_min and ice_port_max, or neither (any port)")
				ok = false
			case p.port < 1024 || p.port > 65535:
				v.bad(top, at("media", p.key), "port %d is outside 1024-65535", p.port)
				ok = false
			}
		}
		switch {
		case !ok:
		case m.ICEPortMin > m.ICEPortMax:
			v.bad(top, at("media", "ice_port_min"), "ICE port range %d-%d is empty: ice_port_min must not be above ice_port_max", m.ICEPortMin, m.ICEPortMax)
		case rtpOK && m.ICEPortMin <= m.PortMax && m.PortMin <= m.ICEPortMax:
			v.bad(top, at("media", "ice_port_min"), "ICE port range %d-%d overlaps the RTP port range %d-%d (port_min-port_max)",
				m.ICEPortMin, m.ICEPortMax, m.PortMin, m.PortMax)
		}
	}
	if m.ICEMux != "" {
		_, port, _ := net.SplitHostPort(m.ICEMux)
		n, _ := strconv.Atoi(port)
		switch msg := checkHostPort(m.ICEMux, false); {
		case msg != "":
			v.bad(top, at("media", "ice_mux"), "%s", msg)
		case rangeSet:
			v.bad(top, at("media", "ice_mux"), "set either ice_mux (one port for all browsers) or ice_port_min and ice_port_max, not both")
		case inRTP(n):
			v.bad(top, at("media", "ice_mux"), "port %d is inside the RTP port range %d-%d (port_min-port_max)", n, m.PortMin, m.PortMax)
		case m.ICEMux == v.cfg.Listen.SIPUDP:
			v.bad(top, at("media", "ice_mux"), "address %s is already used by listen.sip_udp", m.ICEMux)
		case m.ICEMux == v.cfg.Demo.Carrier:
			v.bad(top, at("media", "ice_mux"), "address %s is already used by demo.carrier", m.ICEMux)
		}
	}
	seen := map[netip.Addr]bool{}
	for i, s := range m.ICEPublicIPs {
		ip, err := netip.ParseAddr(s)
		switch {
		case err != nil || ip.Zone() != "":
			v.bad(top, at("media", "ice_public_ips", i), "invalid IP address %q", s)
			continue
		case ip.IsUnspecified():
			v.bad(top, at("media", "ice_public_ips", i), "%s is no address browsers can reach: want the host's public IP", s)
			continue
		}
		ip = ip.Unmap()
		if seen[ip] {
			v.bad(top, at("media", "ice_public_ips", i), "IP %s is listed twice", ip)
		}
		seen[ip] = true
		m.ICEPublicIPs[i] = ip.String()
	}
}

// storageAndLog checks the store and logging settings.
func (v *validation) storageAndLog(top place) {
	if sq := v.cfg.Storage.SQLite; sq != nil && strings.TrimSpace(sq.Path) == "" {
		v.bad(top, at("storage", "sqlite", "path"), "must not be blank")
	}
	v.storagePostgres(top)
	lg := &v.cfg.Log
	lg.Level = strings.ToLower(lg.Level)
	switch lg.Level {
	case "debug", "info", "warn", "error":
	default:
		v.bad(top, at("log", "level"), "unknown level %q: want debug, info, warn or error", lg.Level)
	}
	lg.Format = strings.ToLower(lg.Format)
	switch lg.Format {
	case "text", "json":
	default:
		v.bad(top, at("log", "format"), "unknown format %q: want text or json", lg.Format)
	}
}

// demo checks the demo carrier's address.
func (v *validation) demo(top place) {
	d := v.cfg.Demo.Carrier
	if d == "" {
		return
	}
	if msg := checkHostPort(d, false); msg != "" {
		v.bad(top, at("demo", "carrier"), "%s", msg)
		return
	}
	if d == v.cfg.Listen.SIPUDP || d == v.cfg.Listen.SIPTCP {
		v.bad(top, at("demo", "carrier"), "address %s is already used by a SIP listener", d)
	}
}

// checkHostPort checks a "host:port" address; host may be empty (all interfaces).
// Port 0 (any free port) is allowed when zeroPort is set. It returns "" or what is
// wrong.
func checkHostPort(addr string, zeroPort bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("invalid address %q: want host:port, e.g. 127.0.0.1:5060", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroPort) {
		return fmt.Sprintf("invalid port in %q: want 1-65535", addr)
	}
	if host != "" {
		if msg := checkHost(host); msg != "" {
			return fmt.Sprintf("invalid address %q: %s", addr, msg)
		}
	}
	return ""
}

// checkHost checks a host: an IP address or a DNS name, without a port. It returns
// "" or what is wrong.
func checkHost(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return fmt.Sprintf("host %q must not include a port", host)
	}
	if !isHostname(host) {
		return fmt.Sprintf("invalid host %q: want an IP address or a DNS name", host)
	}
	return ""
}

// isHostname reports whether s is a syntactically valid DNS name (underscores
// allowed, as in SRV names; one trailing dot allowed).
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// checkHeaderValue checks a value callgate writes into a SIP header: printable ASCII
// without CR, LF or other controls (header injection) or quotes and backslashes
// (which would break quoted strings), and without spaces unless spaces is set. It returns "" or what is wrong.
func checkHeaderValue(s string, spaces bool) string {
	if strings.TrimSpace(s) == "" {
		return "must not be blank"
	}
	for _, r := range s {
		switch {
		case r == ' ' && spaces:
		case r <= ' ' || r >= 0x7f || r == '"' || r == '\\':
			if spaces {
				return fmt.Sprintf("%q may hold only printable ASCII characters, without quotes or backslashes", s)
			}
			return fmt.Sprintf("%q may hold only printable ASCII characters, without spaces, quotes or backslashes", s)
		}
	}
	if len(s) > 128 {
		return "is longer than 128 characters"
	}
	return ""
}

// checkName checks the name of a tenant, trunk or pool. It returns "" or what is
// wrong.
func checkName(s string) string {
	switch {
	case s == "":
		return "name is required"
	case strings.TrimSpace(s) != s:
		return fmt.Sprintf("name %q has leading or trailing spaces", s)
	case len(s) > 64:
		return fmt.Sprintf("name %q is longer than 64 characters", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("name %q holds control characters", s)
		}
	}
	return ""
}

// isE164 reports whether s is an E.164 number: "+", then 8 to 15 digits, the first
// not 0.
func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
