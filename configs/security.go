package configs

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"time"
)

// This file holds the security settings of the HTTP listeners and of agent logins:
// the certificates the public and internal listeners serve HTTPS with (web.public.tls,
// web.internal.tls), the lifetime of agent tokens the business API issues
// (api.agent_tokens) and the lockout after failed agent logins (agents_lockout).

// HTTPListener holds the settings of one HTTP listener (its address is in listen).
type HTTPListener struct {
	// TLS, when set, makes the listener serve HTTPS (and the agent websocket WSS)
	// with this certificate. Default: plain HTTP.
	TLS *TLSFiles `yaml:"tls"`
}

// TLSFiles names a certificate and its private key: PEM files, relative to the
// directory of the config file. Both are read and checked to be a pair at load time,
// so `callgate check` reports a missing or unreadable file at its line.
type TLSFiles struct {
	// CertFile holds the certificate, followed by any intermediate certificates.
	CertFile string `yaml:"cert_file"`
	// KeyFile holds the certificate's private key (PKCS #1, PKCS #8 or SEC 1).
	KeyFile string `yaml:"key_file"`

	// CertPEM and KeyPEM are the files' contents, read at load time.
	CertPEM []byte `yaml:"-"`
	KeyPEM  []byte `yaml:"-"`
	// NotAfter is when the (first) certificate expires.
	NotAfter time.Time `yaml:"-"`
}

// AgentTokens bounds the lifetime of agent login tokens issued through the business
// API (POST /v1/tenants/{tenant}/agents/{agent}/tokens).
type AgentTokens struct {
	// DefaultTTL is the lifetime of a token whose request names none; default 8h, or
	// MaxTTL if that is shorter.
	DefaultTTL Duration `yaml:"default_ttl"`
	// MaxTTL caps the lifetime a request may ask for; default 24h.
	MaxTTL Duration `yaml:"max_ttl"`
}

// AgentsLockout slows down password guessing on the agent login. The state is kept
// in memory: a restart forgets it.
type AgentsLockout struct {
	// Failures is how many failed password logins of one agent within Window lock that
	// agent out for Lockout; default 5; negative: off.
	Failures int `yaml:"failures"`
	// IPFailures is how many failed logins (any agent, password or token) from one
	// source address (an IPv6 address's /64) within Window lock that address out for
	// Lockout; default 30; negative: off. Behind a reverse proxy every agent has the
	// proxy's address: set it off there.
	IPFailures int `yaml:"ip_failures"`
	// Window is how far back failures count; default 15m.
	Window Duration `yaml:"window"`
	// Lockout is how long a lockout lasts; default 15m.
	Lockout Duration `yaml:"lockout"`
}

// The defaults of this file's settings.
const (
	defaultAgentTokenTTL     = 8 * time.Hour    // api.agent_tokens.default_ttl
	defaultAgentTokenMaxTTL  = 24 * time.Hour   // api.agent_tokens.max_ttl
	minAgentTokenTTL         = time.Minute      //
	defaultLockoutFailures   = 5                // agents_lockout.failures (negative: off)
	defaultLockoutIPFailures = 30               // agents_lockout.ip_failures (negative: off)
	defaultLockoutWindow     = 15 * time.Minute // agents_lockout.window
	defaultLockoutDuration   = 15 * time.Minute // agents_lockout.lockout
)

// securityDefaults fills the zero values of this file's settings.
func securityDefaults(cfg *Config) {
	t := &cfg.API.AgentTokens
	t.MaxTTL = cmp.Or(t.MaxTTL, Duration(defaultAgentTokenMaxTTL))
	if t.DefaultTTL == 0 {
		t.DefaultTTL = min(Duration(defaultAgentTokenTTL), t.MaxTTL)
	}
	l := &cfg.AgentsLockout
	l.Failures = cmp.Or(l.Failures, defaultLockoutFailures)
	l.IPFailures = cmp.Or(l.IPFailures, defaultLockoutIPFailures)
	l.Window = cmp.Or(l.Window, Duration(defaultLockoutWindow))
	l.Lockout = cmp.Or(l.Lockout, Duration(defaultLockoutDuration))
}

// security checks the listeners' TLS files, the token lifetimes and the lockout.
func (v *validation) security(top place) {
	v.listenerTLS(top, "public", v.cfg.Web.Public.TLS)
	v.listenerTLS(top, "internal", v.cfg.Web.Internal.TLS)

	t := v.cfg.API.AgentTokens
	for _, d := range []struct {
		key string
		val Duration
	}{{"default_ttl", t.DefaultTTL}, {"max_ttl", t.MaxTTL}} {
		if d.val < Duration(minAgentTokenTTL) {
			v.bad(top, at("api", "agent_tokens", d.key), "must be at least %s, got %s", Duration(minAgentTokenTTL), d.val)
		}
	}
	if t.DefaultTTL > t.MaxTTL {
		v.bad(top, at("api", "agent_tokens", "default_ttl"), "%s is longer than max_ttl (%s)", t.DefaultTTL, t.MaxTTL)
	}

	l := v.cfg.AgentsLockout
	if l.Window < 0 {
		v.bad(top, at("agents_lockout", "window"), "must be positive, got %s", l.Window)
	}
	if l.Lockout < 0 {
		v.bad(top, at("agents_lockout", "lockout"), "must be positive, got %s", l.Lockout)
	}
}

// listenerTLS reads and checks the certificate and key of web.<name>.tls.
func (v *validation) listenerTLS(top place, name string, f *TLSFiles) {
	if f == nil {
		return
	}
	base := at("web", name, "tls")
	ok := true
	read := func(key, path string, dst *[]byte) {
		full := append(append([]any{}, base...), key)
		if path == "" {
			v.bad(top, full, "is required: the path of a PEM file")
			ok = false
			return
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(top.file), path)
		}
		b, err := v.loader.readFile(path)
		if err != nil {
			v.probs.push(readError(top.file, lineAt(top.node, full...), renderPath(full)+": cannot read "+path, err))
			ok = false
			return
		}
		*dst = b
	}
	read("cert_file", f.CertFile, &f.CertPEM)
	read("key_file", f.KeyFile, &f.KeyPEM)
	if !ok {
		return
	}
	pair, err := tls.X509KeyPair(f.CertPEM, f.KeyPEM)
	if err != nil {
		v.bad(top, append(base, "cert_file"), "%s and %s are not a certificate and its key: %v", f.CertFile, f.KeyFile, err)
		return
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			v.bad(top, append(base, "cert_file"), "%s: %v", f.CertFile, err)
			return
		}
	}
	f.NotAfter = leaf.NotAfter
}
