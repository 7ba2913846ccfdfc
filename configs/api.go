package configs

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// This file holds the api section: the business systems that may call the signed
// business API, the tenants each acts for, and their signing secrets.

// API configures the business API on the internal listener.
type API struct {
	// Apps are the business systems that may call the API.
	Apps []APIApp `yaml:"apps"`
	// AgentTokens bounds the lifetime of the agent tokens the API issues
	// (security.go).
	AgentTokens AgentTokens `yaml:"agent_tokens"`
}

// APIApp is one business system calling the API. It signs its requests with a
// secret read from the environment variable SecretEnv or the file SecretFile
// (relative to the config file's directory; trailing newlines trimmed), never
// written in the YAML.
type APIApp struct {
	// Name identifies the app in the X-Callgate-App header: 1 to 64 of A-Z a-z 0-9
	// . _ -, unique.
	Name string `yaml:"name"`
	// Tenants are the tenants the app may act for; "*" means every tenant.
	Tenants    []string `yaml:"tenants"`
	SecretEnv  string   `yaml:"secret_env"`
	SecretFile string   `yaml:"secret_file"`
	// Secret is resolved at load time: at least 32 characters, and no two apps share
	// one.
	Secret string `yaml:"-"`

	Pos Pos `yaml:"-"`
}

// apiSecretMin is the shortest signing secret accepted, in characters (e.g. the 64
// hex digits of `openssl rand -hex 32`).
const apiSecretMin = 32

// api checks the apps and resolves their secrets.
func (v *validation) api(top place) {
	tenants := map[string]bool{}
	for _, t := range v.cfg.Tenants {
		tenants[t.Name] = true
	}
	names := map[string]Pos{}
	secrets := map[string]string{}
	for i := range v.cfg.API.Apps {
		a := &v.cfg.API.Apps[i]
		node := nodeAt(v.src.root, "api", "apps", i)
		if node != nil {
			a.Pos = Pos{File: v.src.main, Line: node.Line}
		}
		pl := place{file: v.src.main, node: node, label: itemLabel("api app", a.Name, "api: apps", i)}
		if msg := checkAgentName(a.Name); msg != "" {
			v.bad(pl, at("name"), "%s", msg)
		} else if first, dup := names[a.Name]; dup {
			v.bad(pl, at("name"), "duplicate app name %q (first defined at %s)", a.Name, v.where(first, pl.file))
		} else {
			names[a.Name] = a.Pos
		}
		if len(a.Tenants) == 0 {
			v.bad(pl, at("tenants"), `list the tenants the app may act for, or "*" for all`)
		}
		for j, t := range a.Tenants {
			switch {
			case slices.Index(a.Tenants, t) < j:
				v.bad(pl, at("tenants", j), "tenant %q is listed twice", t)
			case t == "*":
			case !tenants[t] && !v.src.partial:
				v.bad(pl, at("tenants", j), "unknown tenant %q", t)
			}
		}
		ref := secretRef{env: a.SecretEnv, file: a.SecretFile, envKey: at("secret_env"), fileKey: at("secret_file"), what: "secret"}
		switch {
		case a.SecretEnv == "" && a.SecretFile == "":
			v.badKind(ErrSecret, pl, nil, "set secret_env (an environment variable name) or secret_file (a path) to give the signing secret")
			continue
		case a.SecretEnv != "" && a.SecretFile != "":
			v.bad(pl, at("secret_file"), "set only one of secret_env and secret_file")
			continue
		}
		key := ref.envKey
		if a.SecretEnv == "" {
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
			v.bad(pl, key, "app %q has the same secret: each app needs its own", other)
			continue
		}
		secrets[secret] = a.Name
		a.Secret = secret
	}
}

// String describes the app without its secret.
func (a APIApp) String() string { return fmt.Sprintf("%s (tenants %v)", a.Name, a.Tenants) }
