package configs

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// This file holds the masking section: the pool policy that picks virtual pools for
// API bindings, the limits of allocation and of the binding GC, and the treatment of
// calls to unbound virtual numbers.

// Masking configures number masking. Every field has a default.
type Masking struct {
	// MaxBindingsPerNumber is how many live AXB/AXYB bindings may share one virtual
	// number (as long as no party repeats on it); default 200; negative: no limit.
	MaxBindingsPerNumber int `yaml:"max_bindings_per_number"`
	// CoolDown is how long a (virtual number, party) pair stays blocked after its
	// binding ends, so a late call from that party is not routed to someone new; for
	// an AXN binding the whole number cools down. Default 1h; negative: none.
	CoolDown Duration `yaml:"cool_down"`
	// IdleReclaim is how long a binding without expiry may go without calls before
	// the GC reclaims it; default 72h; negative: never.
	IdleReclaim Duration `yaml:"idle_reclaim"`
	// GCInterval is how often the binding GC runs; default 1m; negative: never.
	GCInterval Duration `yaml:"gc_interval"`
	// DefaultPools are the shared virtual pools used when no policy matches. When
	// both policies and default_pools are empty, a tenant uses its own virtual pools,
	// then the shared ones, in file order.
	DefaultPools []string `yaml:"default_pools"`
	// Policies map (tenant, city, channel) to the virtual pools bindings are
	// allocated from, in order. The most specific matching policy wins.
	Policies []MaskingPolicy `yaml:"policies"`
	// NoBinding is what a call to a virtual number gets when no binding matches.
	NoBinding NoBinding `yaml:"no_binding"`
}

// MaskingPolicy is one rule of the pool policy. Tenant, City and Channel are a value
// or "*" (any, the default); City and Channel compare without regard to case.
type MaskingPolicy struct {
	Tenant  string   `yaml:"tenant"`
	City    string   `yaml:"city"`
	Channel string   `yaml:"channel"`
	Pools   []string `yaml:"pools"`

	Pos Pos `yaml:"-"`
}

// The treatments of a call to an unbound virtual number.
const (
	NoBindingReject   = "reject"   // answer sip.no_route_status
	NoBindingAnnounce = "announce" // play Announcement, then end the call
)

// NoBinding is the treatment of a call no binding matches.
type NoBinding struct {
	// Treatment is "reject" (the default: answer with sip.no_route_status) or
	// "announce" (play Announcement, then end the call with sip.no_route_status).
	Treatment string `yaml:"treatment"`
	// Announcement is a WAV file (8 kHz mono, 16-bit PCM, μ-law or A-law, at most
	// 1 MiB) relative to the config file's directory; required for "announce". After
	// loading it is the path to open.
	Announcement string `yaml:"announcement"`
}

// Defaults of the masking section.
const (
	defaultMaxBindingsPerNumber = 200            // masking.max_bindings_per_number (negative: no limit)
	defaultCoolDown             = time.Hour      // masking.cool_down (negative: none)
	defaultIdleReclaim          = 72 * time.Hour // masking.idle_reclaim (negative: never)
	defaultGCInterval           = time.Minute    // masking.gc_interval (negative: never)
	// masking.no_binding.treatment: reject; masking.policies[].tenant, city and
	// channel: "*".

	// maxAnnouncement bounds an announcement file: a short prompt.
	maxAnnouncement = 1 << 20
	// maxPolicyValue bounds a policy's city and channel, in bytes.
	maxPolicyValue = 64
)

// maskingDefaults fills the masking section's zero values.
func maskingDefaults(m *Masking) {
	m.MaxBindingsPerNumber = cmp.Or(m.MaxBindingsPerNumber, defaultMaxBindingsPerNumber)
	m.CoolDown = cmp.Or(m.CoolDown, Duration(defaultCoolDown))
	m.IdleReclaim = cmp.Or(m.IdleReclaim, Duration(defaultIdleReclaim))
	m.GCInterval = cmp.Or(m.GCInterval, Duration(defaultGCInterval))
	m.NoBinding.Treatment = cmp.Or(m.NoBinding.Treatment, NoBindingReject)
	for i := range m.Policies {
		p := &m.Policies[i]
		p.Tenant = cmp.Or(strings.TrimSpace(p.Tenant), "*")
		p.City = cmp.Or(strings.TrimSpace(p.City), "*")
		p.Channel = cmp.Or(strings.TrimSpace(p.Channel), "*")
	}
}

// nodeAt returns the node reached from n by path (mapping keys and sequence
// indexes), or nil.
func nodeAt(n *yaml.Node, path ...any) *yaml.Node {
	n = resolveAlias(n)
	for _, step := range path {
		if n == nil {
			return nil
		}
		switch s := step.(type) {
		case string:
			_, n = mappingEntry(n, s, 0)
		case int:
			if n.Kind != yaml.SequenceNode || s < 0 || s >= len(n.Content) {
				return nil
			}
			n = resolveAlias(n.Content[s])
		}
	}
	return n
}

// poolRef is what masking checks need to know of a pool.
type poolRef struct {
	virtual bool
	tenant  string
	trunks  int
}

// masking checks the masking section against the pools and tenants.
func (v *validation) masking(top place) {
	m := &v.cfg.Masking
	pools := map[string]poolRef{}
	for _, p := range v.cfg.Pools {
		pools[p.Name] = poolRef{virtual: p.Type == "virtual", tenant: p.Tenant, trunks: len(p.Trunks)}
	}
	tenants := map[string]bool{}
	for _, t := range v.cfg.Tenants {
		tenants[t.Name] = true
	}
	// checkPools checks a list of pools used for tenant ("*": any tenant).
	checkPools := func(pl place, path []any, list []string, tenant string) {
		if len(list) == 0 {
			v.bad(pl, path, "list at least one virtual pool")
			return
		}
		listed := map[string]bool{}
		for j, name := range list {
			path := append(append([]any{}, path...), j)
			p, ok := pools[name]
			switch {
			case listed[name]:
				v.bad(pl, path, "pool %q is listed twice", name)
			case !ok && v.src.partial:
			case !ok:
				v.bad(pl, path, "unknown pool %q", name)
			case !p.virtual:
				v.bad(pl, path, "pool %q is not of type virtual", name)
			case p.trunks == 0:
				v.bad(pl, path, "pool %q has no trunks, so calls through its numbers could not be placed", name)
			case p.tenant != "" && tenant == "*":
				v.bad(pl, path, "pool %q belongs to tenant %q; a policy for every tenant may list only shared pools", name, p.tenant)
			case p.tenant != "" && p.tenant != tenant:
				v.bad(pl, path, "pool %q belongs to tenant %q, not %q", name, p.tenant, tenant)
			}
			listed[name] = true
		}
	}
	if len(m.DefaultPools) > 0 {
		checkPools(top, at("masking", "default_pools"), m.DefaultPools, "*")
	}
	type key struct{ tenant, city, channel string }
	seen := map[key]Pos{}
	for i := range m.Policies {
		p := &m.Policies[i]
		node := nodeAt(v.src.root, "masking", "policies", i)
		if node != nil {
			p.Pos = Pos{File: v.src.main, Line: node.Line}
		}
		pl := place{file: v.src.main, node: node, label: fmt.Sprintf("masking: policies[%d]", i)}
		if p.Tenant != "*" && !tenants[p.Tenant] && !v.src.partial {
			v.bad(pl, at("tenant"), "unknown tenant %q", p.Tenant)
		}
		for _, f := range []struct{ key, val string }{{"city", p.City}, {"channel", p.Channel}} {
			if msg := checkPolicyValue(f.val); msg != "" {
				v.bad(pl, at(f.key), "%s", msg)
			}
		}
		k := key{p.Tenant, strings.ToLower(p.City), strings.ToLower(p.Channel)}
		if first, dup := seen[k]; dup {
			v.bad(pl, nil, "a policy for tenant %q, city %q and channel %q is already defined (%s)", p.Tenant, p.City, p.Channel, v.where(first, pl.file))
		} else {
			seen[k] = p.Pos
		}
		checkPools(pl, at("pools"), p.Pools, p.Tenant)
	}
	v.noBinding(top)
}

// checkPolicyValue checks a policy's city or channel. It returns "" or what is wrong.
func checkPolicyValue(s string) string {
	if len(s) > maxPolicyValue {
		return fmt.Sprintf("is longer than %d bytes", maxPolicyValue)
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return fmt.Sprintf("%q holds control characters", s)
		}
	}
	return ""
}

// noBinding checks the treatment of unbound calls and resolves the announcement's
// path.
func (v *validation) noBinding(top place) {
	nb := &v.cfg.Masking.NoBinding
	nb.Treatment = strings.ToLower(nb.Treatment)
	switch nb.Treatment {
	case NoBindingReject:
		if nb.Announcement != "" {
			v.bad(top, at("masking", "no_binding", "announcement"), "is played only with treatment %q", NoBindingAnnounce)
		}
		return
	case NoBindingAnnounce:
	default:
		v.bad(top, at("masking", "no_binding", "treatment"), "unknown treatment %q: want %s or %s", nb.Treatment, NoBindingReject, NoBindingAnnounce)
		return
	}
	key := at("masking", "no_binding", "announcement")
	if strings.TrimSpace(nb.Announcement) == "" {
		v.bad(top, at("masking", "no_binding"), "treatment %s needs announcement: the path of a WAV file", NoBindingAnnounce)
		return
	}
	path := nb.Announcement
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(top.file), path)
	}
	b, err := v.loader.readFile(path)
	if err != nil {
		v.probs.push(readError(top.file, lineAt(top.node, key...), "masking: no_binding: announcement: cannot read "+path, err))
		return
	}
	if msg := checkWAV(b); msg != "" {
		v.bad(top, key, "%s: %s", path, msg)
		return
	}
	nb.Announcement = path
}

// checkWAV checks that b is a short WAV file callgate can play on a G.711 call: 8 kHz
// mono, 16-bit PCM, μ-law or A-law. It returns "" or what is wrong.
func checkWAV(b []byte) string {
	const want = "want a WAV file, 8 kHz mono, 16-bit PCM, μ-law or A-law"
	switch {
	case len(b) > maxAnnouncement:
		return fmt.Sprintf("is %d bytes; an announcement is at most %d", len(b), maxAnnouncement)
	case len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE":
		return "not a WAV file: " + want
	}
	for rest := b[12:]; len(rest) >= 8; {
		id, size := string(rest[0:4]), int(binary.LittleEndian.Uint32(rest[4:8]))
		if size < 0 || size > len(rest)-8 {
			return "truncated WAV chunk " + fmt.Sprintf("%q", id)
		}
		if id == "fmt " {
			if size < 16 {
				return "WAV fmt chunk too short"
			}
			f := rest[8:]
			format, channels := binary.LittleEndian.Uint16(f[0:2]), binary.LittleEndian.Uint16(f[2:4])
			rate, bits := binary.LittleEndian.Uint32(f[4:8]), binary.LittleEndian.Uint16(f[14:16])
			okFormat := format == 1 && bits == 16 || (format == 6 || format == 7) && bits == 8
			if !okFormat || channels != 1 || rate != 8000 {
				return fmt.Sprintf("format %d, %d channels, %d Hz, %d bits: %s", format, channels, rate, bits, want)
			}
			return ""
		}
		rest = rest[8+size+size%2:]
	}
	return "WAV file without a fmt chunk"
}

// maskingSummary writes the masking and API lines of Summary.
func maskingSummary(b *strings.Builder, c *Config) {
	m := c.Masking
	virtual := 0
	for _, p := range c.Pools {
		if p.Type == "virtual" {
			virtual += len(p.Numbers)
		}
	}
	perNumber := "no limit"
	if m.MaxBindingsPerNumber > 0 {
		perNumber = fmt.Sprint(m.MaxBindingsPerNumber)
	}
	fmt.Fprintf(b, "masking: %d virtual numbers, %d policies, default pools %s, %s bindings per number, cool-down %s, idle reclaim %s, GC every %s, unbound calls: %s\n",
		virtual, len(m.Policies), orNone(m.DefaultPools), perNumber, offIfNegative(m.CoolDown), offIfNegative(m.IdleReclaim),
		offIfNegative(m.GCInterval), m.NoBinding.Treatment)
	apps := make([]string, len(c.API.Apps))
	for i, a := range c.API.Apps {
		apps[i] = fmt.Sprintf("%s (tenants %s)", a.Name, strings.Join(a.Tenants, ", "))
	}
	fmt.Fprintf(b, "api: %d apps", len(apps))
	if len(apps) > 0 {
		fmt.Fprintf(b, " — %s", strings.Join(apps, ", "))
	}
	b.WriteByte('\n')
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func offIfNegative(d Duration) string {
	if d < 0 {
		return "off"
	}
	return d.String()
}
