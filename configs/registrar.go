package configs

import (
	"cmp"
	"time"
	"unicode/utf8"
)

// This file holds a trunk's registers_to_us section: a trunk — a PBX, a small carrier
// with a dynamic address — that REGISTERs to callgate with digest credentials, so
// that callgate learns where it is instead of reading it from host and inbound_cidrs.
// The sip package's registrar (sip/registrar.go) serves it.

// InboundRegister lets a trunk register to callgate. While its registration is
// current, INVITEs from the address it registered from are taken as the trunk's, and
// calls routed to the trunk go to the contact it registered; while it is not, the
// trunk takes no calls. The password comes from exactly one of PasswordEnv (an
// environment variable name) or PasswordFile (a path); it is never written in the
// YAML itself.
type InboundRegister struct {
	// Username is the digest username the trunk authenticates with; unique among
	// the trunks that register.
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// Password is resolved at load time from PasswordEnv or PasswordFile: at least
	// 16 characters.
	Password string `yaml:"-"`
	// MinExpires is the shortest registration granted: a REGISTER asking for less
	// gets 423 Interval Too Brief; default 60s.
	MinExpires Duration `yaml:"min_expires"`
	// MaxExpires is the longest registration granted (and what a REGISTER that asks
	// for none gets); longer asks are cut to it; default 1h.
	MaxExpires Duration `yaml:"max_expires"`
	// AuthInvites makes callgate challenge the trunk's INVITEs too (407, digest with
	// the same credentials); default false: the registered address is trusted.
	AuthInvites bool `yaml:"auth_invites"`
}

// Defaults and limits of registers_to_us.
const (
	defaultRegMinExpires = 60 * time.Second // trunks[].registers_to_us.min_expires
	defaultRegMaxExpires = time.Hour        // trunks[].registers_to_us.max_expires
	regExpiresFloor      = 10 * time.Second
	regExpiresCeiling    = 24 * time.Hour
	regPasswordMin       = 16 // characters: a captured digest exchange can be guessed offline
)

// inboundRegisterDefaults fills trunk t's registers_to_us defaults.
func inboundRegisterDefaults(t *Trunk) {
	r := t.RegistersToUs
	if r == nil {
		return
	}
	r.MinExpires = cmp.Or(r.MinExpires, Duration(defaultRegMinExpires))
	r.MaxExpires = cmp.Or(r.MaxExpires, Duration(defaultRegMaxExpires))
}

// inboundRegisters checks every trunk's registers_to_us (after trunks: host and the
// other settings are checked there), resolves the passwords and checks that no two
// trunks register with one username.
func (v *validation) inboundRegisters() {
	users := names{}
	for i := range v.cfg.Trunks {
		t, o := &v.cfg.Trunks[i], v.src.trunks[i]
		r := t.RegistersToUs
		if r == nil {
			continue
		}
		pl := itemPlace(o, "trunk", t.Name, "trunks")
		if msg := checkHeaderValue(r.Username, false); msg != "" {
			v.bad(pl, at("registers_to_us", "username"), "%s", msg)
		} else if first, free := users.claim(r.Username, t.Pos); !free {
			v.bad(pl, at("registers_to_us", "username"), "username %q already registers trunk %s: each trunk needs its own",
				r.Username, v.where(first, pl.file))
		}
		v.inboundPassword(pl, r)
		if r.MinExpires.Std() < regExpiresFloor || r.MinExpires.Std() > regExpiresCeiling {
			v.bad(pl, at("registers_to_us", "min_expires"), "must be from %s to %s, got %s", regExpiresFloor, regExpiresCeiling, r.MinExpires)
		}
		if r.MaxExpires.Std() > regExpiresCeiling {
			v.bad(pl, at("registers_to_us", "max_expires"), "must be at most %s, got %s", regExpiresCeiling, r.MaxExpires)
		} else if r.MaxExpires < r.MinExpires {
			v.bad(pl, at("registers_to_us", "max_expires"), "%s is below min_expires (%s)", r.MaxExpires, r.MinExpires)
		}
		if t.Register != nil {
			v.bad(pl, at("register"), "a trunk either registers to callgate (registers_to_us) or callgate registers to it (register), not both")
		}
		if t.Probe != nil {
			v.bad(pl, at("probe"), "a trunk that registers to callgate is watched by its registration: remove probe")
		}
	}
}

// inboundPassword checks where a registering trunk's password comes from and
// resolves it.
func (v *validation) inboundPassword(pl place, r *InboundRegister) {
	ref := secretRef{env: r.PasswordEnv, file: r.PasswordFile,
		envKey: at("registers_to_us", "password_env"), fileKey: at("registers_to_us", "password_file"), what: "password"}
	switch {
	case r.PasswordEnv == "" && r.PasswordFile == "":
		v.badKind(ErrSecret, pl, at("registers_to_us"), "set password_env (an environment variable name) or password_file (a path) to give the password")
		return
	case r.PasswordEnv != "" && r.PasswordFile != "":
		v.bad(pl, at("registers_to_us", "password_file"), "set only one of password_env and password_file")
		return
	}
	pw, ok := v.readSecret(pl, ref)
	if !ok {
		return
	}
	key := ref.envKey
	if r.PasswordEnv == "" {
		key = ref.fileKey
	}
	if utf8.RuneCountInString(pw) < regPasswordMin {
		v.badKind(ErrSecret, pl, key, "the password is shorter than %d characters: a digest exchange overheard on the wire can be guessed offline", regPasswordMin)
		return
	}
	r.Password = pw
}
