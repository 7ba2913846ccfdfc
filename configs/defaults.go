package configs

import (
	"cmp"
	"net"
	"net/netip"
	"strings"
	"time"
)

// The defaults, in one place. A zero value in the YAML (a missing key, 0, "") means
// "use the default"; where a field's comment says so, a negative value means "off"
// and is kept as it is.
const (
	defaultSIPListen          = "127.0.0.1:5060" // listen.sip_udp and listen.sip_tcp
	defaultPublicHTTPListen   = "127.0.0.1:8080" // listen.public_http
	defaultInternalHTTPListen = "127.0.0.1:8081" // listen.internal_http
	// listenOff, written as a listen address, turns that listener off; after loading,
	// an off listener's address is "".
	listenOff = "off"

	defaultUserAgent       = "callgate"       // sip.user_agent
	defaultRingTimeout     = 60 * time.Second // sip.ring_timeout
	defaultMaxCallDuration = 4 * time.Hour    // sip.max_call_duration (negative: off)
	defaultShutdownGrace   = 10 * time.Second // sip.shutdown_grace
	defaultNoRouteStatus   = 404              // sip.no_route_status

	defaultMediaPortMin     = 20000            // media.port_min
	defaultMediaPortMax     = 29999            // media.port_max
	defaultMediaBindAddress = "127.0.0.1"      // media.bind_address
	defaultRTPTimeout       = 60 * time.Second // media.rtp_timeout (negative: off)
	// media.ice_port_min and media.ice_port_max: 0, any free port; media.ice_mux: "",
	// off; media.ice_public_ips: none, the host's own addresses are advertised.

	// web.allowed_origins: none; only callgate's own agent page opens the websocket.
	// masking.* and api.*: see masking.go.
	// agents[]: no defaults; every agent names its tenant and how it logs in.

	defaultSQLitePath = "callgate.db" // storage.sqlite.path, relative to the working dir

	defaultLogLevel  = "info" // log.level
	defaultLogFormat = "text" // log.format

	defaultTimeZone = "UTC" // tenants[].time_zone
	defaultSeats    = 10    // tenants[].seats
	defaultRegion   = "CN"  // tenants[].default_region

	// tenants[].callers (callers.go); caps and min_attempts negative: off.
	// tenants[].callers.strategy: defaultStrategy().
	defaultPairPerDay        = 2               // tenants[].callers.caps.pair_per_day
	defaultCalleePerDay      = 3               // tenants[].callers.caps.callee_per_day
	defaultCallerPerDay      = 300             // tenants[].callers.caps.caller_per_day
	defaultCallerPerHour     = 60              // tenants[].callers.caps.caller_per_hour
	defaultCallerLease       = 2 * time.Minute // tenants[].callers.lease
	minCallerLease           = 3 * time.Second //
	defaultEscalateWithin    = 72 * time.Hour  // tenants[].callers.escalate_within (negative: off)
	defaultHealthMinAttempts = 30              // tenants[].callers.health.min_attempts (negative: off)
	defaultHealthAnswerFloor = 0.1             // tenants[].callers.health.answer_rate_floor
	defaultHealthWindow      = 24 * time.Hour  // tenants[].callers.health.window
	minHealthWindow          = time.Hour       //
	defaultHealthRest        = 24 * time.Hour  // tenants[].callers.health.rest

	defaultTrunkTransport     = "udp"             // trunks[].transport
	defaultTrunkPort          = 5060              // trunks[].port for udp and tcp
	defaultTrunkTLSPort       = 5061              // trunks[].port for tls
	defaultMaxConcurrentCalls = 100               // trunks[].max_concurrent_calls (negative: off)
	defaultMaxCallsPerSecond  = 10.0              // trunks[].max_calls_per_second (negative: off)
	defaultRegisterExpires    = 300 * time.Second // trunks[].register.expires
)

// defaultStrategy is a tenant's default caller-number strategy: a certified number
// for the callee's city, else a mobile number of the callee's city, then of its
// province, else a fixed line.
func defaultStrategy() []CallerStep {
	return []CallerStep{
		{Type: poolCertified, Match: matchCity},
		{Type: poolMobile, Match: matchCity},
		{Type: poolMobile, Match: matchProvince},
		{Type: poolFixed, Match: matchAny},
	}
}

// defaultCodecs returns the default codec list of a trunk, in preference order.
func defaultCodecs() []string { return []string{"PCMU", "PCMA"} }

// applyDefaults fills every zero-valued setting of cfg with its default. Derived
// defaults (sip.public_address, media.public_address, a trunk's domain, inbound_cidrs
// and register user) are computed from the values the admin wrote. Values are not
// checked here: validation runs afterwards on the result.
func applyDefaults(cfg *Config) {
	l := &cfg.Listen
	l.SIPUDP = listenDefault(l.SIPUDP, defaultSIPListen)
	l.SIPTCP = listenDefault(l.SIPTCP, defaultSIPListen)
	l.PublicHTTP = listenDefault(l.PublicHTTP, defaultPublicHTTPListen)
	l.InternalHTTP = listenDefault(l.InternalHTTP, defaultInternalHTTPListen)

	s := &cfg.SIP
	if s.PublicAddress == "" {
		// The host of the first SIP listener, if it names one address; a listener on
		// all interfaces leaves it empty, and validation asks the admin to set it.
		for _, addr := range []string{l.SIPUDP, l.SIPTCP} {
			if addr == "" {
				continue
			}
			if host, _, err := net.SplitHostPort(addr); err == nil && specificHost(host) {
				s.PublicAddress = host
			}
			break
		}
	}
	s.UserAgent = cmp.Or(s.UserAgent, defaultUserAgent)
	s.RingTimeout = cmp.Or(s.RingTimeout, Duration(defaultRingTimeout))
	s.MaxCallDuration = cmp.Or(s.MaxCallDuration, Duration(defaultMaxCallDuration))
	s.ShutdownGrace = cmp.Or(s.ShutdownGrace, Duration(defaultShutdownGrace))
	s.NoRouteStatus = cmp.Or(s.NoRouteStatus, defaultNoRouteStatus)
	sipLimitsDefaults(&s.Limits) // sip.limits.*: see sip_limits.go
	scoringDefaults(&s.Scoring)  // sip.scoring.*: see trunk_health.go

	m := &cfg.Media
	m.PortMin = cmp.Or(m.PortMin, defaultMediaPortMin)
	m.PortMax = cmp.Or(m.PortMax, defaultMediaPortMax)
	m.BindAddress = cmp.Or(m.BindAddress, defaultMediaBindAddress)
	if m.PublicAddress == "" && specificHost(m.BindAddress) {
		m.PublicAddress = m.BindAddress
	}
	m.RTPTimeout = cmp.Or(m.RTPTimeout, Duration(defaultRTPTimeout))

	if cfg.Storage.SQLite == nil && cfg.Storage.Postgres == nil {
		cfg.Storage.SQLite = &SQLite{}
	}
	if cfg.Storage.SQLite != nil {
		cfg.Storage.SQLite.Path = cmp.Or(cfg.Storage.SQLite.Path, defaultSQLitePath)
	}

	cfg.Log.Level = cmp.Or(cfg.Log.Level, defaultLogLevel)
	cfg.Log.Format = cmp.Or(cfg.Log.Format, defaultLogFormat)

	maskingDefaults(&cfg.Masking)
	// admin.*: see admin.go
	adminDefaults(&cfg.Admin)
	recordsDefaults(&cfg.Records) // records.*: see records.go
	securityDefaults(cfg)         // web.*.tls, api.agent_tokens, agents_lockout: see security.go

	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		t.TimeZone = cmp.Or(t.TimeZone, defaultTimeZone)
		t.Seats = cmp.Or(t.Seats, defaultSeats)
		callerDefaults(t) // tenants[].default_region and .callers: see callers.go
		eventDefaults(t.Events)
		callbackDefaults(t) // tenants[].callbacks: see callbacks.go
		// tenants[].recording: see recording.go
		recordingDefaults(t)
	}

	for i := range cfg.Trunks {
		t := &cfg.Trunks[i]
		t.Transport = cmp.Or(t.Transport, defaultTrunkTransport)
		if t.Port == 0 {
			t.Port = defaultTrunkPort
			if strings.EqualFold(t.Transport, "tls") {
				t.Port = defaultTrunkTLSPort
			}
		}
		t.Domain = cmp.Or(t.Domain, t.Host)
		if len(t.InboundCIDRs) == 0 {
			if ip, err := netip.ParseAddr(t.Host); err == nil {
				t.InboundCIDRs = []string{netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()).String()}
			}
		}
		if len(t.Codecs) == 0 {
			t.Codecs = defaultCodecs()
		}
		t.MaxConcurrentCalls = cmp.Or(t.MaxConcurrentCalls, defaultMaxConcurrentCalls)
		t.MaxCallsPerSecond = cmp.Or(t.MaxCallsPerSecond, defaultMaxCallsPerSecond)
		billingDefaults(t)     // trunks[].billing_increment: see billing.go
		trunkHealthDefaults(t) // trunks[].weight, invite_timeout, probe: see trunk_health.go
		inboundRegisterDefaults(t)
		if r := t.Register; r != nil {
			r.Expires = cmp.Or(r.Expires, Duration(defaultRegisterExpires))
			if r.User == "" && t.Auth != nil {
				r.User = t.Auth.Username
			}
		}
	}
}

// listenDefault applies the default of one listen address and turns "off" into "".
func listenDefault(addr, def string) string {
	switch strings.TrimSpace(addr) {
	case "":
		return def
	case listenOff:
		return ""
	}
	return addr
}

// specificHost reports whether host names one machine: a hostname or a specified IP,
// not "" or 0.0.0.0 or ::.
func specificHost(host string) bool {
	if host == "" {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return !ip.IsUnspecified()
	}
	return true
}
