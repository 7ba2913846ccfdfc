package configs

import (
	"math"
	"unicode/utf8"
)

// This file holds what steers traffic between number suppliers by hand or by the
// suppliers themselves: suppliers[], the suppliers that may report their numbers
// blocked, restored or withdrawn on the supplier endpoint (each signing with its own
// secret, as business apps do), and pools[].weight, a pool's manual weight in pool
// scoring (routing.PoolBoard).

// Supplier is a number supplier allowed on the supplier endpoint of the public
// listener. It signs requests as business apps do (docs/api.md) with the secret read
// from the environment variable SecretEnv or the file SecretFile; a supplier's
// signature is good for nothing else.
type Supplier struct {
	// Name is the supplier as pools[].supplier spells it, and its X-Callgate-App:
	// 1 to 64 of A-Z a-z 0-9 . _ -, unique.
	Name       string `yaml:"name"`
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
	// Secret is resolved at load time: at least 32 characters, shared with no other
	// supplier and no business app.
	Secret string `yaml:"-"`

	Pos Pos `yaml:"-"`
}

// suppliers checks suppliers[] and resolves their secrets, and checks and defaults
// pools[].weight.
func (v *validation) suppliers(top place) {
	v.poolWeights()
	known := map[string]bool{}
	for _, p := range v.cfg.Pools {
		known[p.Supplier] = true
	}
	apps := map[string]string{}
	for _, a := range v.cfg.API.Apps {
		if a.Secret != "" {
			apps[a.Secret] = a.Name
		}
	}
	names := map[string]Pos{}
	secrets := map[string]string{}
	for i := range v.cfg.Suppliers {
		s := &v.cfg.Suppliers[i]
		node := nodeAt(v.src.root, "suppliers", i)
		if node != nil {
			s.Pos = Pos{File: v.src.main, Line: node.Line}
		}
		pl := place{file: v.src.main, node: node, label: itemLabel("supplier", s.Name, "suppliers", i)}
		switch first, dup := names[s.Name]; {
		case checkAgentName(s.Name) != "":
			v.bad(pl, at("name"), "%s", checkAgentName(s.Name))
		case dup:
			v.bad(pl, at("name"), "duplicate supplier %q (first defined at %s)", s.Name, v.where(first, pl.file))
		case !known[s.Name] && !v.src.partial:
			v.bad(pl, at("name"), "no pool has supplier %q: a supplier reports the numbers of its own pools", s.Name)
		default:
			names[s.Name] = s.Pos
		}
		switch {
		case s.SecretEnv == "" && s.SecretFile == "":
			v.badKind(ErrSecret, pl, nil, "set secret_env (an environment variable name) or secret_file (a path) to give the signing secret")
			continue
		case s.SecretEnv != "" && s.SecretFile != "":
			v.bad(pl, at("secret_file"), "set only one of secret_env and secret_file")
			continue
		}
		ref := secretRef{env: s.SecretEnv, file: s.SecretFile, envKey: at("secret_env"), fileKey: at("secret_file"), what: "secret"}
		key := ref.envKey
		if s.SecretEnv == "" {
			key = ref.fileKey
		}
		secret, ok := v.readSecret(pl, ref)
		if !ok {
			continue
		}
		if n := utf8.RuneCountInString(secret); n < apiSecretMin {
			v.bad(pl, key, "secret is too short: %d characters, want at least %d (e.g. openssl rand -hex 32)", n, apiSecretMin)
			continue
		}
		if other, dup := secrets[secret]; dup {
			v.bad(pl, key, "supplier %q has the same secret: each supplier needs its own", other)
			continue
		}
		if app, dup := apps[secret]; dup {
			v.bad(pl, key, "business app %q has the same secret: a supplier's secret must open only the supplier endpoint", app)
			continue
		}
		secrets[secret] = s.Name
		s.Secret = secret
	}
}

// poolWeights checks pools[].weight; 0 stays 0 and means 1 (routing.PoolBoard).
func (v *validation) poolWeights() {
	for i := range v.cfg.Pools {
		p := &v.cfg.Pools[i]
		if math.IsNaN(p.Weight) || math.IsInf(p.Weight, 0) || p.Weight > 1000 {
			pl := itemPlace(v.src.pools[i], "pool", p.Name, "pools")
			v.bad(pl, at("weight"), "must be a number up to 1000 (negative: no new bindings from the pool), got %g", p.Weight)
		}
	}
}

// String describes the supplier without its secret.
func (s Supplier) String() string { return s.Name }
