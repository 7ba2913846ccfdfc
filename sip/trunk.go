package sip

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"callgate/configs"
)

// Trunk is a carrier trunk at run time: its settings, live call count and rate limit.
// A call keeps the *Trunk it started with, so a reload never changes a call mid-way.
type Trunk struct {
	cfg      configs.Trunk
	prefixes []netip.Prefix

	// active counts live calls; shared with the same-named trunk across reloads so a
	// call that ends after a reload gives its slot back to the right counter.
	active *atomic.Int64
	// health is the trunk's probe state (probe.go), shared across reloads like active.
	health *trunkHealth
	// reg is the registration of a trunk that registers to callgate (registrar.go),
	// shared across reloads like active; nil for other trunks.
	reg *regBinding

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newTrunk(c configs.Trunk) (*Trunk, error) {
	t := &Trunk{cfg: c, active: new(atomic.Int64), health: new(trunkHealth)}
	if c.RegistersToUs != nil {
		t.reg = new(regBinding)
	}
	for _, s := range c.InboundCIDRs {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trunk %q: inbound CIDR %q: %w", c.Name, s, err)
		}
		t.prefixes = append(t.prefixes, p)
	}
	return t, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Name is the trunk's configured name.
func (t *Trunk) Name() string { return t.cfg.Name }

// Config returns the trunk's settings.
func (t *Trunk) Config() configs.Trunk { return t.cfg }

// Active is the number of live calls on the trunk.
func (t *Trunk) Active() int64 { return t.active.Load() }

// owns reports whether a packet from addr belongs to this trunk.
func (t *Trunk) owns(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// acquire takes a call slot on the trunk for an outbound leg at now; release gives it
// back. A trunk at its concurrency or rate limit is refused at once, never queued.
func (t *Trunk) acquire(now time.Time) error {
	if max := t.cfg.MaxConcurrentCalls; max > 0 && t.active.Add(1) > int64(max) {
		t.active.Add(-1)
		return fmt.Errorf("%w: %s has %d calls", ErrTrunkLimit, t.cfg.Name, max)
	} else if max <= 0 {
		t.active.Add(1)
	}
	if rate := t.cfg.MaxCallsPerSecond; rate > 0 && !t.take(now, rate) {
		t.active.Add(-1)
		return fmt.Errorf("%w: %s over %.4g calls/s", ErrTrunkLimit, t.cfg.Name, rate)
	}
	return nil
}

// hold counts an inbound call on the trunk (inbound calls are not refused by our own
// limit: the carrier already sent them).
func (t *Trunk) hold() { t.active.Add(1) }

func (t *Trunk) release() { t.active.Add(-1) }

// take is a token bucket holding up to one second of calls.
func (t *Trunk) take(now time.Time, rate float64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	burst := rate
	if burst < 1 {
		burst = 1
	}
	if t.last.IsZero() {
		t.tokens = burst
	} else {
		t.tokens += now.Sub(t.last).Seconds() * rate
		if t.tokens > burst {
			t.tokens = burst
		}
	}
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

// hostPort is where requests to the trunk go.
func (t *Trunk) hostPort() string {
	return joinHostPort(t.cfg.Host, t.cfg.Port)
}

// domain is the host part of URIs toward the trunk.
func (t *Trunk) domain() string {
	if t.cfg.Domain != "" {
		return t.cfg.Domain
	}
	if t.cfg.Host == "" {
		return t.boundHost() // a trunk that registers to callgate (registrar.go)
	}
	return t.cfg.Host
}

func joinHostPort(host string, port int) string {
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// trunkSet is an immutable view of all trunks, swapped whole on reload.
type trunkSet struct {
	byName map[string]*Trunk
	list   []*Trunk
}

func newTrunkSet(cfgs []configs.Trunk, old *trunkSet) (*trunkSet, error) {
	s := &trunkSet{byName: make(map[string]*Trunk, len(cfgs))}
	for _, c := range cfgs {
		t, err := newTrunk(c)
		if err != nil {
			return nil, err
		}
		if old != nil {
			// Keep live counters of a trunk that survives the reload.
			if prev, ok := old.byName[c.Name]; ok {
				t.active, t.health = prev.active, prev.health
				t.keepBinding(prev)
			}
		}
		s.byName[c.Name] = t
		s.list = append(s.list, t)
	}
	return s, nil
}

// bySource finds the trunk that owns a source address.
func (s *trunkSet) bySource(addr netip.Addr) *Trunk {
	for _, t := range s.list {
		if t.owns(addr) {
			return t
		}
	}
	return nil
}
