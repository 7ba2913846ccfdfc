package sip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"callgate/configs"

	"github.com/emiago/sipgo/sip"
)

// The guard protects the SIP listeners before sipgo parses anything. Every message
// (a UDP datagram, or one message framed out of a TCP stream by guardConn) passes:
//
//  1. a token bucket per source IP: trunk sources (inside any trunk's inbound CIDRs,
//     or an address callgate sent a request to in the last peerTTL) get a high rate
//     and are never banned; any other source gets a low rate and, once over it, a
//     temporary ban during which everything it sends is dropped (UDP) or its
//     connections are closed (TCP);
//  2. a size limit and a header-field limit;
//  3. a syntax check of the head (lint.go), answering what sipgo would drop in silence
//     (400, 416, 505) when the request comes from a trunk, dropping it otherwise.
//
// For UDP the guard is sipgo's transport read filter: returning (nil, nil) drops one
// datagram (an error would stop reading the whole listener). TCP connections accepted
// on callgate's listener are wrapped in a guardConn, which frames the stream itself,
// closes idle connections from non-trunk sources and bounds their number per source.
//
// Per-source state lives in a striped map and is swept once idle: an entry whose
// bucket has refilled, with no ban and no open connection, is the same as no entry, so
// the sweep changes nothing but memory. After a flood the maps return to empty.

// Limits bound what the SIP listeners accept. Zero means the default; a negative value
// turns that limit off.
type Limits struct {
	// MaxMessageBytes: larger messages are dropped (a trunk gets 513; over TCP a
	// stranger's connection is closed); default 16384.
	MaxMessageBytes int
	// MaxHeaders: messages with more header fields are dropped; default 128.
	MaxHeaders int
	// RatePerSource and BurstPerSource bound the messages per second a source outside
	// every trunk may send; over it, the source is banned. Defaults 20 and 40.
	RatePerSource  float64
	BurstPerSource int
	// TrunkRate and TrunkBurst bound the messages per second of one trunk source IP;
	// over it, messages are dropped but the source is never banned. Defaults 2000 and
	// 4000.
	TrunkRate  float64
	TrunkBurst int
	// BanFor is how long a source over its rate is banned; default 60s.
	BanFor time.Duration
	// TCPIdleTimeout closes a TCP connection from a non-trunk source that sent
	// nothing for this long; default 30s. Trunk connections are kept.
	TCPIdleTimeout time.Duration
	// MaxTCPPerSource bounds the open TCP connections of one non-trunk source;
	// default 8.
	MaxTCPPerSource int
}

// The defaults of Limits.
const (
	DefaultMaxMessageBytes = 16384
	DefaultMaxHeaders      = 128
	DefaultRatePerSource   = 20
	DefaultBurstPerSource  = 40
	DefaultTrunkRate       = 2000
	DefaultTrunkBurst      = 4000
	DefaultBanFor          = 60 * time.Second
	DefaultTCPIdleTimeout  = 30 * time.Second
	DefaultMaxTCPPerSource = 8
)

// withDefaults fills zero limits with their defaults; negative ones stay (off).
func (l Limits) withDefaults() Limits {
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&l.MaxMessageBytes, DefaultMaxMessageBytes)
	set(&l.MaxHeaders, DefaultMaxHeaders)
	setF(&l.RatePerSource, DefaultRatePerSource)
	set(&l.BurstPerSource, DefaultBurstPerSource)
	setF(&l.TrunkRate, DefaultTrunkRate)
	set(&l.TrunkBurst, DefaultTrunkBurst)
	setD(&l.BanFor, DefaultBanFor)
	setD(&l.TCPIdleTimeout, DefaultTCPIdleTimeout)
	set(&l.MaxTCPPerSource, DefaultMaxTCPPerSource)
	return l
}

// GuardStats are the SIP guard's counters, for metrics.
type GuardStats struct {
	Sources int // source addresses tracked now
	Banned  int // sources banned now
	TCP     int // open TCP connections on the guarded listener

	Bans     uint64 // bans issued since start
	Dropped  uint64 // messages dropped, all reasons
	Rejected uint64 // requests answered by the guard itself (400, 416, 505, 513)

	DroppedBanned    uint64 // from banned sources
	DroppedRate      uint64 // over the source's rate
	DroppedFull      uint64 // new sources while the source table is full
	DroppedSize      uint64 // over MaxMessageBytes
	DroppedHeaders   uint64 // over MaxHeaders
	DroppedMalformed uint64 // failed the syntax check
	ClosedTCP        uint64 // TCP connections the guard refused or closed
}

// GuardStats returns the SIP guard's counters (zero before Start).
func (e *Edge) GuardStats() GuardStats {
	if e.guard == nil {
		return GuardStats{}
	}
	return e.guard.stats()
}

const (
	// peerTTL is how long an address callgate sent a request to counts as a trunk's.
	peerTTL     = 5 * time.Minute
	guardShards = 64
	// maxSources bounds the tracked source addresses (about 48 bytes each). When a
	// stripe is full, new non-trunk sources are dropped until the sweep frees room:
	// a spoofed-source flood cannot grow memory without bound.
	maxSources   = 1 << 17
	sweepEvery   = 5 * time.Second
	shrinkAtPeak = 256 // a stripe whose map once held this many entries is rebuilt when it empties
)

type verdict uint8

const (
	pass verdict = iota
	dropBanned
	dropRate
	dropFull
	dropSize
	dropHeaders
	dropMalformed
	nVerdicts
)

// sourceState is one source address's bucket, ban and TCP connection count.
type sourceState struct {
	tokens      float64
	last        int64 // unix nanoseconds of the last refill
	bannedUntil int64 // unix nanoseconds; 0: not banned
	conns       int32
}

type guardShard struct {
	mu      sync.Mutex
	sources map[netip.Addr]sourceState
	peak    int
	_       [40]byte // one stripe per cache line
}

// guard is the pre-parse filter of one Edge. See the top of this file.
type guard struct {
	lim     Limits
	trusted func(netip.Addr) bool
	now     func() time.Time
	log     *slog.Logger
	parser  *sip.Parser
	idleTTL int64 // nanoseconds after which an idle bucket is full again
	// drainGrace is how long a trunk connection that lost its framing drains.
	drainGrace time.Duration

	udpMu  sync.RWMutex
	udpOut net.PacketConn // the UDP listener, for stateless answers

	// peers are the addresses callgate sent a request to lately (unix ns of expiry):
	// their answers count as a trunk's even when no inbound CIDR covers them (a trunk
	// whose host is a DNS name, a carrier answering from another SBC).
	peersMu sync.RWMutex
	peers   map[netip.Addr]int64

	shards  [guardShards]guardShard
	drops   [nVerdicts]atomic.Uint64
	bans    atomic.Uint64
	rejects atomic.Uint64
	closed  atomic.Uint64
	tcp     atomic.Int64
}

// errBanned closes a TCP connection from a banned source.
var errBanned = errors.New("sip: source banned")

func newGuard(lim Limits, trusted func(netip.Addr) bool, now func() time.Time, log *slog.Logger) *guard {
	lim = lim.withDefaults()
	g := &guard{lim: lim, now: now, log: log, parser: sip.NewParser(), drainGrace: drainGrace,
		peers: make(map[netip.Addr]int64)}
	g.trusted = func(a netip.Addr) bool { return trusted(a) || g.isPeer(a) }
	if lim.MaxMessageBytes > 0 {
		g.parser.MaxMessageLength = lim.MaxMessageBytes
	}
	ttl := time.Second
	for _, b := range []struct {
		rate  float64
		burst int
	}{{lim.RatePerSource, lim.BurstPerSource}, {lim.TrunkRate, lim.TrunkBurst}} {
		if b.rate > 0 && b.burst > 0 {
			ttl = max(ttl, time.Duration(float64(b.burst)/b.rate*float64(time.Second))+time.Second)
		}
	}
	g.idleTTL = int64(ttl)
	for i := range g.shards {
		g.shards[i].sources = make(map[netip.Addr]sourceState)
	}
	return g
}

// packetConn wraps the UDP listener so that the destination of every request sent
// through it is remembered as a peer (see guard.peers). Answers are not: a flooder
// answered 403 stays a stranger.
func (g *guard) packetConn(c net.PacketConn) net.PacketConn { return &peerConn{PacketConn: c, g: g} }

type peerConn struct {
	net.PacketConn
	g *guard
}

func (c *peerConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !bytes.HasPrefix(b, []byte("SIP/")) {
		if ap, ok := addrPortOf(addr); ok {
			c.g.remember(ap.Addr())
		}
	}
	return c.PacketConn.WriteTo(b, addr)
}

// remember makes a an address whose messages count as a trunk's for peerTTL.
func (g *guard) remember(a netip.Addr) {
	exp := g.now().Add(peerTTL).UnixNano()
	g.peersMu.RLock()
	old := g.peers[a]
	g.peersMu.RUnlock()
	if exp-old < int64(time.Second) {
		return
	}
	g.peersMu.Lock()
	g.peers[a] = exp
	g.peersMu.Unlock()
}

func (g *guard) isPeer(a netip.Addr) bool {
	g.peersMu.RLock()
	exp, ok := g.peers[a]
	g.peersMu.RUnlock()
	return ok && exp > g.now().UnixNano()
}

// setUDP gives the guard the UDP listener its stateless answers leave from.
func (g *guard) setUDP(c net.PacketConn) {
	g.udpMu.Lock()
	g.udpOut = c
	g.udpMu.Unlock()
}

// run sweeps idle state until ctx ends.
func (g *guard) run(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.sweep(g.now())
		}
	}
}

func (g *guard) shard(a netip.Addr) *guardShard {
	b := a.As16()
	h := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])
	h *= 0x9E3779B97F4A7C15
	return &g.shards[h>>(64-6)]
}

// admit charges one message from a to its bucket and says whether it may pass.
func (g *guard) admit(a netip.Addr, trusted bool) verdict {
	now := g.now().UnixNano()
	rate, burst := g.lim.RatePerSource, g.lim.BurstPerSource
	if trusted {
		rate, burst = g.lim.TrunkRate, g.lim.TrunkBurst
	}
	sh := g.shard(a)
	sh.mu.Lock()
	st, ok := sh.sources[a]
	if !ok {
		if !trusted && len(sh.sources) >= maxSources/guardShards {
			sh.mu.Unlock()
			return dropFull
		}
		st = sourceState{tokens: float64(burst), last: now}
	}
	if !trusted && st.bannedUntil > now {
		sh.mu.Unlock()
		return dropBanned
	}
	v, ban := pass, false
	if rate > 0 && burst > 0 {
		st.tokens = min(float64(burst), st.tokens+float64(now-st.last)*rate/1e9)
		st.last = now
		if st.tokens >= 1 {
			st.tokens--
		} else {
			v = dropRate
			if ban = !trusted && g.lim.BanFor > 0; ban {
				st.bannedUntil = now + int64(g.lim.BanFor)
			}
		}
	} else {
		st.last = now
	}
	sh.sources[a] = st
	sh.peak = max(sh.peak, len(sh.sources))
	sh.mu.Unlock()
	if ban {
		g.bans.Add(1)
		g.logBan(a)
	}
	return v
}

// ban bans a for BanFor at once: repeated authentication failures (registrar.go).
// Trunk sources are never banned.
func (g *guard) ban(a netip.Addr) {
	if g.lim.BanFor <= 0 || g.trusted(a) {
		return
	}
	now := g.now().UnixNano()
	sh := g.shard(a)
	sh.mu.Lock()
	st, ok := sh.sources[a]
	if !ok {
		st = sourceState{tokens: float64(g.lim.BurstPerSource), last: now}
	}
	st.bannedUntil = now + int64(g.lim.BanFor)
	sh.sources[a] = st
	sh.peak = max(sh.peak, len(sh.sources))
	sh.mu.Unlock()
	g.bans.Add(1)
	g.logBan(a)
}

// logBan says a source was banned (through the rate-limited logger).
func (g *guard) logBan(a netip.Addr) {
	g.log.Warn("sip source banned", "source", a.String(), "for", g.lim.BanFor.String())
}

// banned reports whether a is banned now.
func (g *guard) banned(a netip.Addr) bool {
	now := g.now().UnixNano()
	sh := g.shard(a)
	sh.mu.Lock()
	st, ok := sh.sources[a]
	sh.mu.Unlock()
	return ok && st.bannedUntil > now
}

// openConn counts a new TCP connection from a; it refuses banned sources and non-trunk
// sources at their connection limit.
func (g *guard) openConn(a netip.Addr, trusted bool) bool {
	now := g.now().UnixNano()
	sh := g.shard(a)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, ok := sh.sources[a]
	if !ok {
		if !trusted && len(sh.sources) >= maxSources/guardShards {
			return false
		}
		burst := g.lim.BurstPerSource
		if trusted {
			burst = g.lim.TrunkBurst
		}
		st = sourceState{tokens: float64(burst), last: now}
	}
	if !trusted && (st.bannedUntil > now || g.lim.MaxTCPPerSource > 0 && int(st.conns) >= g.lim.MaxTCPPerSource) {
		return false
	}
	st.conns++
	sh.sources[a] = st
	sh.peak = max(sh.peak, len(sh.sources))
	g.tcp.Add(1)
	return true
}

// closeConn uncounts a TCP connection from a.
func (g *guard) closeConn(a netip.Addr) {
	sh := g.shard(a)
	sh.mu.Lock()
	if st, ok := sh.sources[a]; ok && st.conns > 0 {
		st.conns--
		sh.sources[a] = st
	}
	sh.mu.Unlock()
	g.tcp.Add(-1)
}

// sweep forgets sources that are idle (their bucket full again), unbanned and without
// connections, and rebuilds stripes whose map shrank far below its peak so that the
// memory of a flood is returned.
func (g *guard) sweep(now time.Time) {
	t := now.UnixNano()
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		for a, st := range sh.sources {
			if st.conns == 0 && st.bannedUntil <= t && t-st.last >= g.idleTTL {
				delete(sh.sources, a)
			}
		}
		switch n := len(sh.sources); {
		case sh.peak >= shrinkAtPeak && n < sh.peak/4:
			m := make(map[netip.Addr]sourceState, n)
			for a, st := range sh.sources {
				m[a] = st
			}
			sh.sources, sh.peak = m, n
		case n == 0:
			sh.peak = 0
		}
		sh.mu.Unlock()
	}
	g.peersMu.Lock()
	for a, exp := range g.peers {
		if exp <= t {
			delete(g.peers, a)
		}
	}
	g.peersMu.Unlock()
}

func (g *guard) drop(v verdict) { g.drops[v].Add(1) }

func (g *guard) stats() GuardStats {
	now := g.now().UnixNano()
	var s GuardStats
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		s.Sources += len(sh.sources)
		for _, st := range sh.sources {
			if st.bannedUntil > now {
				s.Banned++
			}
		}
		sh.mu.Unlock()
	}
	s.TCP = int(g.tcp.Load())
	s.Bans = g.bans.Load()
	s.Rejected = g.rejects.Load()
	s.ClosedTCP = g.closed.Load()
	s.DroppedBanned = g.drops[dropBanned].Load()
	s.DroppedRate = g.drops[dropRate].Load()
	s.DroppedFull = g.drops[dropFull].Load()
	s.DroppedSize = g.drops[dropSize].Load()
	s.DroppedHeaders = g.drops[dropHeaders].Load()
	s.DroppedMalformed = g.drops[dropMalformed].Load()
	s.Dropped = s.DroppedBanned + s.DroppedRate + s.DroppedFull + s.DroppedSize + s.DroppedHeaders + s.DroppedMalformed
	return s
}

// readFilter is installed with sip.WithTransportLayerReadFilter.
func (g *guard) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if p.Transport == "UDP" {
		return g.datagram(p.RemoteAddr, data), nil
	}
	// Streams accepted on callgate's listener are checked message by message in
	// guardConn; here, and on connections sipgo dials itself, only bans apply.
	if src, ok := addrPortOf(p.RemoteAddr); ok && g.banned(src.Addr()) {
		return nil, errBanned
	}
	return data, nil
}

// datagram checks one UDP datagram; nil drops it.
func (g *guard) datagram(from net.Addr, data []byte) []byte {
	src, ok := addrPortOf(from)
	if !ok {
		return data
	}
	trusted := g.trusted(src.Addr())
	if v := g.admit(src.Addr(), trusted); v != pass {
		g.drop(v)
		return nil
	}
	if isKeepalive(data) {
		return data
	}
	hlen, complete := headEnd(data)
	if max := g.lim.MaxMessageBytes; max > 0 && len(data) > max {
		g.drop(dropSize)
		if trusted {
			g.answerUDP(src, data[:hlen], lintProblem{code: 513, reason: "Message Too Large"})
		}
		return nil
	}
	info := scanHead(data[:hlen], g.lim.MaxHeaders)
	if info.tidy {
		tidy := tidyHead(data[:hlen])
		n := copy(data[len(tidy):], data[hlen:])
		data, hlen = data[:len(tidy)+n], len(tidy)
	}
	if complete && info.clen > len(data)-hlen {
		// RFC 3261 §18.3: a datagram that ends before its body is an error (400).
		info.problem.note(400, "Content-Length Exceeds Body", true)
	}
	if info.problem.code == 0 {
		return data
	}
	if !info.problem.definitive && trusted {
		// Only a suspicion: a trunk's message goes to sipgo if sipgo can parse it.
		if _, err := g.parser.ParseSIP(data); err == nil {
			return data
		}
	}
	g.drop(info.dropReason(g.lim.MaxHeaders))
	if trusted && info.request {
		g.answerUDP(src, data[:hlen], info.problem)
	}
	return nil
}

// dropReason is the counter a message refused for info's problem goes to.
func (info *headInfo) dropReason(maxHeaders int) verdict {
	if maxHeaders > 0 && info.fields > maxHeaders {
		return dropHeaders
	}
	return dropMalformed
}

// answerUDP sends the stateless answer to a request refused before parsing.
func (g *guard) answerUDP(src netip.AddrPort, head []byte, p lintProblem) {
	res := statelessResponse(head, p.code, p.reason)
	if res == nil {
		return
	}
	g.udpMu.RLock()
	out := g.udpOut
	g.udpMu.RUnlock()
	if out == nil {
		return
	}
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(src.Addr(), topViaPort(head, src.Port())))
	if _, err := out.WriteTo(res, dst); err != nil {
		g.log.Debug("stateless answer", "to", dst, "err", err)
		return
	}
	g.rejects.Add(1)
}

// isKeepalive reports a CRLF keep-alive (RFC 5626 §3.5.1), which sipgo answers itself.
func isKeepalive(b []byte) bool {
	if len(b) > 4 {
		return false
	}
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// addrPortOf returns a UDP or TCP address without allocating, IPv4-mapped addresses
// unmapped.
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}

// limitsFrom takes sip.limits from a loaded config.
func limitsFrom(l configs.SIPLimits) Limits {
	return Limits{
		MaxMessageBytes: l.MaxMessageBytes,
		MaxHeaders:      l.MaxHeaders,
		RatePerSource:   l.RatePerSource,
		BurstPerSource:  l.BurstPerSource,
		TrunkRate:       l.TrunkRate,
		TrunkBurst:      l.TrunkBurst,
		BanFor:          l.BanFor.Std(),
		TCPIdleTimeout:  l.TCPIdleTimeout.Std(),
		MaxTCPPerSource: l.MaxTCPPerSource,
	}
}
