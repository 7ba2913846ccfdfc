package configs

import (
	"math"
	"net/netip"
	"strings"
	"time"

	// Time zones are checked with time.LoadLocation; embedding the zone database keeps
	// a config valid on hosts without /usr/share/zoneinfo (minimal containers).
	_ "time/tzdata"
)

// This file checks the lists: tenants, trunks, pools and bindings, and the references
// between them; agents.go checks the agents.

// names maps the names of one list's items to where each was first defined.
type names map[string]Pos

// claim records name and reports whether it was free; if not, first is where it was
// taken.
func (n names) claim(name string, p Pos) (first Pos, free bool) {
	if first, taken := n[name]; taken {
		return first, false
	}
	n[name] = p
	return Pos{}, true
}

// items checks the lists in dependency order.
func (v *validation) items() {
	tenants := v.tenants()
	trunks := v.trunks()
	v.inboundRegisters() // registrar.go: trunks that register to callgate
	owners := v.pools(tenants, trunks)
	v.callers() // callers.go: tenants' callers sections, caller pools' keys
	v.bindings(tenants, trunks, owners)
	v.agents(tenants)
	v.callbacks(trunks) // callbacks.go: after agents, whom fallbacks name
	v.recordings()      // recording.go
}

// itemPlace is where list item o, labelled from its noun and id, was written.
func itemPlace(o origin, noun, id, section string) place {
	return place{file: o.file, node: o.node, label: itemLabel(noun, id, section, o.index)}
}

// uniqueName checks an item's name and claims it in seen.
func (v *validation) uniqueName(pl place, seen names, noun, name string, p Pos) {
	if msg := checkName(name); msg != "" {
		v.bad(pl, at("name"), "%s", msg)
		return
	}
	if first, free := seen.claim(name, p); !free {
		v.bad(pl, at("name"), "duplicate %s name %q (first defined at %s)", noun, name, v.where(first, pl.file))
	}
}

// tenants checks the tenants and returns their names.
func (v *validation) tenants() names {
	seen := names{}
	for i := range v.cfg.Tenants {
		t, o := &v.cfg.Tenants[i], v.src.tenants[i]
		pl := itemPlace(o, "tenant", t.Name, "tenants")
		v.uniqueName(pl, seen, "tenant", t.Name, t.Pos)
		if t.TimeZone == "Local" {
			v.bad(pl, at("time_zone"), `"Local" depends on the host; write an IANA zone name such as Asia/Shanghai`)
		} else if _, err := time.LoadLocation(t.TimeZone); err != nil {
			v.bad(pl, at("time_zone"), "unknown time zone %q: want an IANA zone name such as Asia/Shanghai or UTC", t.TimeZone)
		}
		if t.Seats < 0 {
			v.bad(pl, at("seats"), "must not be negative, got %d", t.Seats)
		}
	}
	return seen
}

// trunks checks the trunks, resolves their digest secrets and returns their names.
func (v *validation) trunks() names {
	seen := names{}
	for i := range v.cfg.Trunks {
		t, o := &v.cfg.Trunks[i], v.src.trunks[i]
		pl := itemPlace(o, "trunk", t.Name, "trunks")
		v.uniqueName(pl, seen, "trunk", t.Name, t.Pos)
		v.trunk(pl, t)
	}
	return seen
}

// trunk checks one trunk's settings.
func (v *validation) trunk(pl place, t *Trunk) {
	if t.Host == "" {
		if t.RegistersToUs == nil {
			v.bad(pl, at("host"), "host is required (or registers_to_us, for a trunk whose address callgate learns when it registers)")
		}
	} else if msg := checkHost(t.Host); msg != "" {
		v.bad(pl, at("host"), "%s", msg)
	}
	if t.Port < 1 || t.Port > 65535 {
		v.bad(pl, at("port"), "invalid port %d: want 1-65535", t.Port)
	}
	t.Transport = strings.ToLower(t.Transport)
	switch t.Transport {
	case "udp", "tcp", "tls":
	default:
		v.bad(pl, at("transport"), "unknown transport %q: want udp, tcp or tls", t.Transport)
	}
	if t.Domain != "" && t.Domain != t.Host {
		if msg := checkHost(t.Domain); msg != "" {
			v.bad(pl, at("domain"), "%s", msg)
		}
	}
	for i, s := range t.InboundCIDRs {
		p, ok := parseCIDR(s)
		if !ok {
			v.bad(pl, at("inbound_cidrs", i), "invalid CIDR %q: want a network such as 192.0.2.0/24 or a single IP", s)
			continue
		}
		t.InboundCIDRs[i] = p.String()
	}
	v.codecs(pl, t)
	if math.IsNaN(t.MaxCallsPerSecond) || math.IsInf(t.MaxCallsPerSecond, 0) {
		v.bad(pl, at("max_calls_per_second"), "must be a finite number (negative turns the limit off)")
	}
	v.billing(pl, t)
	v.trunkHealth(pl, t)
	if t.Auth != nil {
		v.auth(pl, t.Auth)
	}
	if r := t.Register; r != nil {
		if t.Auth == nil {
			v.bad(pl, at("register"), "register needs auth: set auth.username and auth.password_env or auth.password_file")
		}
		if r.Expires < 0 {
			v.bad(pl, at("register", "expires"), "must be positive, got %s", r.Expires)
		}
		if r.User != "" {
			if msg := checkHeaderValue(r.User, false); msg != "" {
				v.bad(pl, at("register", "user"), "%s", msg)
			}
		}
	}
}

// codecs checks and normalises a trunk's codec list.
func (v *validation) codecs(pl place, t *Trunk) {
	seen := map[string]bool{}
	for i, c := range t.Codecs {
		u := strings.ToUpper(strings.TrimSpace(c))
		switch {
		case u != "PCMU" && u != "PCMA":
			v.bad(pl, at("codecs", i), "unsupported codec %q: want PCMU or PCMA", c)
		case seen[u]:
			v.bad(pl, at("codecs", i), "codec %s is listed twice", u)
		}
		seen[u] = true
		t.Codecs[i] = u
	}
}

// auth checks a trunk's digest credentials and resolves the password.
func (v *validation) auth(pl place, a *TrunkAuth) {
	if msg := checkHeaderValue(a.Username, false); msg != "" {
		v.bad(pl, at("auth", "username"), "%s", msg)
	}
	switch {
	case a.PasswordEnv == "" && a.PasswordFile == "":
		v.badKind(ErrSecret, pl, at("auth"), "set password_env (an environment variable name) or password_file (a path) to give the password")
	case a.PasswordEnv != "" && a.PasswordFile != "":
		v.bad(pl, at("auth", "password_file"), "set only one of password_env and password_file")
	default:
		v.resolveSecret(pl, a)
	}
}

// pools checks the pools and returns, for each number, the index of its pool.
func (v *validation) pools(tenants, trunks names) map[string]int {
	seen := names{}
	owners := map[string]int{}
	for i := range v.cfg.Pools {
		p, o := &v.cfg.Pools[i], v.src.pools[i]
		pl := itemPlace(o, "pool", p.Name, "pools")
		v.uniqueName(pl, seen, "pool", p.Name, p.Pos)
		p.Type = strings.ToLower(p.Type)
		switch p.Type {
		case "virtual", "fixed", "certified", "mobile":
		case "":
			v.bad(pl, at("type"), "type is required: virtual, fixed, certified or mobile")
		default:
			v.bad(pl, at("type"), "unknown pool type %q: want virtual, fixed, certified or mobile", p.Type)
		}
		if p.Tenant != "" && !v.src.partial {
			if _, ok := tenants[p.Tenant]; !ok {
				v.bad(pl, at("tenant"), "unknown tenant %q", p.Tenant)
			}
		}
		listed := map[string]bool{}
		for j, tr := range p.Trunks {
			switch _, ok := trunks[tr]; {
			case listed[tr]:
				v.bad(pl, at("trunks", j), "trunk %q is listed twice", tr)
			case !ok && !v.src.partial:
				v.bad(pl, at("trunks", j), "unknown trunk %q", tr)
			}
			listed[tr] = true
		}
		listedNumbers := len(p.Numbers)
		v.expandPoolNumbers(pl, p)
		for j, n := range p.Numbers {
			if j >= listedNumbers { // from a range or the file: checked there; duplicates here
				if k, dup := owners[n]; dup {
					v.bad(pl, at("name"), "number %s (from number_ranges or numbers_file) is already in pool %q", n, v.cfg.Pools[k].Name)
					continue
				}
				owners[n] = i
				continue
			}
			if !isE164(n) {
				v.bad(pl, at("numbers", j), "%q is not an E.164 number: want + and 8 to 15 digits, e.g. +8675512345678", n)
				continue
			}
			if k, dup := owners[n]; dup {
				if k == i {
					v.bad(pl, at("numbers", j), "number %s is listed twice", n)
				} else {
					q := v.cfg.Pools[k]
					v.bad(pl, at("numbers", j), "number %s is already in pool %q (%s)", n, q.Name, v.where(q.Pos, pl.file))
				}
				continue
			}
			owners[n] = i
		}
	}
	return owners
}

// bindings checks the static bindings and fills in each one's default trunk.
func (v *validation) bindings(tenants, trunks names, owners map[string]int) {
	virtuals := map[string]Pos{}
	for i := range v.cfg.Bindings {
		b, o := &v.cfg.Bindings[i], v.src.bindings[i]
		pl := itemPlace(o, "binding for virtual", b.Virtual, "bindings")
		b.Mode = strings.ToUpper(b.Mode)
		switch b.Mode {
		case "AXN":
		case "":
			v.bad(pl, at("mode"), "mode is required: AXN")
		default:
			v.bad(pl, at("mode"), "unsupported mode %q: only AXN can be bound in config", b.Mode)
		}
		if b.Tenant == "" {
			v.bad(pl, at("tenant"), "tenant is required")
		} else if _, ok := tenants[b.Tenant]; !ok && !v.src.partial {
			v.bad(pl, at("tenant"), "unknown tenant %q", b.Tenant)
		}
		virtualOK := isE164(b.Virtual)
		if !virtualOK {
			v.bad(pl, at("virtual"), "%q is not an E.164 number: want + and 8 to 15 digits, e.g. +8675512345678", b.Virtual)
		} else if first, dup := virtuals[b.Virtual]; dup {
			v.bad(pl, at("virtual"), "%s is already bound (%s)", b.Virtual, v.where(first, pl.file))
		} else {
			virtuals[b.Virtual] = b.Pos
		}
		if !isE164(b.B) {
			v.bad(pl, at("b"), "%q is not an E.164 number: want + and 8 to 15 digits, e.g. +8613812345678", b.B)
		} else if b.B == b.Virtual {
			v.bad(pl, at("b"), "b must differ from virtual")
		}
		if b.Trunk != "" {
			if _, ok := trunks[b.Trunk]; !ok && !v.src.partial {
				v.bad(pl, at("trunk"), "unknown trunk %q", b.Trunk)
			}
		}
		if !virtualOK || v.src.partial {
			continue
		}
		k, pooled := owners[b.Virtual]
		switch {
		case !pooled && b.Trunk == "":
			v.bad(pl, at("virtual"), "%s is in no pool, so the trunk for calls to it is unknown: add it to a pool or set trunk", b.Virtual)
		case !pooled:
		case v.cfg.Pools[k].Tenant != "" && b.Tenant != "" && v.cfg.Pools[k].Tenant != b.Tenant:
			v.bad(pl, at("tenant"), "%s belongs to pool %q of tenant %q, not %q", b.Virtual, v.cfg.Pools[k].Name, v.cfg.Pools[k].Tenant, b.Tenant)
		case b.Trunk == "" && len(v.cfg.Pools[k].Trunks) == 0:
			v.bad(pl, at("virtual"), "%s is in pool %q, which has no trunks: give the pool trunks or set trunk", b.Virtual, v.cfg.Pools[k].Name)
		case b.Trunk == "":
			b.Trunk = v.cfg.Pools[k].Trunks[0]
		}
	}
}

// parseCIDR parses a network in CIDR notation or a bare IP (a /32 or /128), and
// returns it with host bits cleared.
func parseCIDR(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		return netip.PrefixFrom(ip, ip.BitLen()), true
	}
	return netip.Prefix{}, false
}
