package configs

import (
	"cmp"
	"time"
)

// This file holds sip.limits: what the SIP listeners accept from the network before
// any message is parsed (flood control, size limits). The sip package's guard applies
// them.

// SIPLimits bound what the SIP listeners accept. Zero means the default; a negative
// value turns that limit off.
type SIPLimits struct {
	// MaxMessageBytes: larger messages are dropped (over TCP the connection is
	// closed, or for a trunk the message skipped); default 16384; 1024-65535.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxHeaders: messages with more header fields are dropped; default 128.
	MaxHeaders int `yaml:"max_headers"`
	// RatePerSource is how many messages per second a source outside every trunk's
	// inbound_cidrs may send, in bursts of BurstPerSource; over it, the source is
	// banned for BanFor. Defaults 20 and 40.
	RatePerSource  float64 `yaml:"rate_per_source"`
	BurstPerSource int     `yaml:"burst_per_source"`
	// TrunkRate is how many messages per second one trunk source address may send, in
	// bursts of TrunkBurst; over it, messages are dropped, but a trunk source is never
	// banned. Defaults 2000 and 4000.
	TrunkRate  float64 `yaml:"trunk_rate"`
	TrunkBurst int     `yaml:"trunk_burst"`
	// BanFor is how long a source over its rate is banned; default 60s.
	BanFor Duration `yaml:"ban_for"`
	// TCPIdleTimeout closes a TCP connection from a non-trunk source that sends
	// nothing for this long; default 30s. Trunk connections are never closed idle.
	TCPIdleTimeout Duration `yaml:"tcp_idle_timeout"`
	// MaxTCPPerSource bounds the open TCP connections of one non-trunk source;
	// default 8.
	MaxTCPPerSource int `yaml:"max_tcp_per_source"`
}

// Defaults of sip.limits; the sip package's Limits use the same values.
const (
	defaultMaxMessageBytes = 16384            // sip.limits.max_message_bytes
	defaultMaxHeaders      = 128              // sip.limits.max_headers
	defaultRatePerSource   = 20.0             // sip.limits.rate_per_source
	defaultBurstPerSource  = 40               // sip.limits.burst_per_source
	defaultTrunkRate       = 2000.0           // sip.limits.trunk_rate
	defaultTrunkBurst      = 4000             // sip.limits.trunk_burst
	defaultBanFor          = 60 * time.Second // sip.limits.ban_for
	defaultTCPIdleTimeout  = 30 * time.Second // sip.limits.tcp_idle_timeout
	defaultMaxTCPPerSource = 8                // sip.limits.max_tcp_per_source
)

// sipLimitsDefaults fills the zero values of sip.limits.
func sipLimitsDefaults(l *SIPLimits) {
	l.MaxMessageBytes = cmp.Or(l.MaxMessageBytes, defaultMaxMessageBytes)
	l.MaxHeaders = cmp.Or(l.MaxHeaders, defaultMaxHeaders)
	l.RatePerSource = cmp.Or(l.RatePerSource, defaultRatePerSource)
	l.BurstPerSource = cmp.Or(l.BurstPerSource, defaultBurstPerSource)
	l.TrunkRate = cmp.Or(l.TrunkRate, defaultTrunkRate)
	l.TrunkBurst = cmp.Or(l.TrunkBurst, defaultTrunkBurst)
	l.BanFor = cmp.Or(l.BanFor, Duration(defaultBanFor))
	l.TCPIdleTimeout = cmp.Or(l.TCPIdleTimeout, Duration(defaultTCPIdleTimeout))
	l.MaxTCPPerSource = cmp.Or(l.MaxTCPPerSource, defaultMaxTCPPerSource)
}

// sipLimits checks sip.limits (after defaults: every value is set or negative).
func (v *validation) sipLimits(top place) {
	l := v.cfg.SIP.Limits
	key := func(k string) []any { return at("sip", "limits", k) }
	if n := l.MaxMessageBytes; n > 0 && (n < 1024 || n > 65535) {
		v.bad(top, key("max_message_bytes"), "must be from 1024 to 65535 bytes (or negative: no limit), got %d", n)
	}
	if n := l.MaxHeaders; n > 0 && n < 20 {
		v.bad(top, key("max_headers"), "must be at least 20 (or negative: no limit), got %d", n)
	}
	if l.RatePerSource > 0 && l.BurstPerSource < 1 {
		v.bad(top, key("burst_per_source"), "must be at least 1 when rate_per_source is set, got %d", l.BurstPerSource)
	}
	if l.TrunkRate > 0 && l.TrunkBurst < 1 {
		v.bad(top, key("trunk_burst"), "must be at least 1 when trunk_rate is set, got %d", l.TrunkBurst)
	}
	if l.RatePerSource > 0 && l.TrunkRate > 0 && l.TrunkRate < l.RatePerSource {
		v.bad(top, key("trunk_rate"), "%g is below rate_per_source (%g): trunks would get less than strangers", l.TrunkRate, l.RatePerSource)
	}
	if d := l.BanFor.Std(); d > 0 && d < time.Second {
		v.bad(top, key("ban_for"), "must be at least 1s (or negative: no bans), got %s", l.BanFor)
	}
	if d := l.TCPIdleTimeout.Std(); d > 0 && d < time.Second {
		v.bad(top, key("tcp_idle_timeout"), "must be at least 1s (or negative: off), got %s", l.TCPIdleTimeout)
	}
}
