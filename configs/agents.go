package configs

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// This file checks the agents: who may log in on the agent page, and how.

// Limits on an agent's name and token.
const (
	agentNameMax  = 64 // bytes; names are ASCII
	agentTokenMin = 16 // characters
)

// agentKey identifies an agent: a name is unique within its tenant.
type agentKey struct{ tenant, name string }

// agents checks the agents, resolves their tokens and checks that no two share one.
func (v *validation) agents(tenants names) {
	seen := map[agentKey]Pos{}
	tokens := map[string]int{} // token → index of the first agent holding it
	for i := range v.cfg.Agents {
		a, o := &v.cfg.Agents[i], v.src.agents[i]
		pl := itemPlace(o, "agent", a.Name, "agents")
		switch {
		case a.Tenant == "":
			v.bad(pl, at("tenant"), "tenant is required")
		case !v.src.partial:
			if _, ok := tenants[a.Tenant]; !ok {
				v.bad(pl, at("tenant"), "unknown tenant %q", a.Tenant)
			}
		}
		if msg := checkAgentName(a.Name); msg != "" {
			v.bad(pl, at("name"), "%s", msg)
		} else if first, dup := seen[agentKey{a.Tenant, a.Name}]; dup {
			v.bad(pl, at("name"), "duplicate agent %q of tenant %q (first defined at %s)", a.Name, a.Tenant, v.where(first, pl.file))
		} else {
			seen[agentKey{a.Tenant, a.Name}] = a.Pos
		}
		if a.PasswordHash != "" {
			if msg := checkPasswordHash(a.PasswordHash); msg != "" {
				v.bad(pl, at("password_hash"), "%s", msg)
			}
		}
		tokenKey := v.agentToken(pl, a)
		if a.Token == "" {
			continue
		}
		if k, dup := tokens[a.Token]; dup {
			b := v.cfg.Agents[k]
			v.bad(pl, tokenKey, "agent %q of tenant %q (%s) has the same token: each agent needs its own", b.Name, b.Tenant, v.where(b.Pos, pl.file))
			continue
		}
		tokens[a.Token] = i
	}
}

// agentToken checks how agent a logs in and resolves its token into a.Token. It
// returns the path of the token's setting, for messages about the token.
func (v *validation) agentToken(pl place, a *Agent) []any {
	ref := secretRef{env: a.TokenEnv, file: a.TokenFile, envKey: at("token_env"), fileKey: at("token_file"), what: "token"}
	switch {
	case a.TokenEnv == "" && a.TokenFile == "":
		if a.PasswordHash == "" {
			v.bad(pl, nil, "cannot log in: set password_hash (a bcrypt hash of its password), token_env (an environment variable name) or token_file (a path)")
		}
		return nil
	case a.TokenEnv != "" && a.TokenFile != "":
		v.bad(pl, at("token_file"), "set only one of token_env and token_file")
		return nil
	}
	key := ref.envKey
	if a.TokenEnv == "" {
		key = ref.fileKey
	}
	tok, ok := v.readSecret(pl, ref)
	if !ok {
		return key
	}
	if n := utf8.RuneCountInString(tok); n < agentTokenMin {
		v.bad(pl, key, "token is too short: %d characters, want at least %d", n, agentTokenMin)
		return key
	}
	if strings.HasPrefix(tok, issuedTokenPrefix) {
		v.bad(pl, key, "token starts with %q, which marks tokens issued by the business API: choose another", issuedTokenPrefix)
		return key
	}
	a.Token = tok
	return key
}

// checkAgentName checks an agent's name: 1 to 64 of A-Z a-z 0-9 . _ -. It returns ""
// or what is wrong.
func checkAgentName(s string) string {
	switch {
	case s == "":
		return "name is required"
	case len(s) > agentNameMax:
		return fmt.Sprintf("name %q is longer than %d characters", s, agentNameMax)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("name %q may hold only letters A-Z and a-z, digits, '.', '_' and '-'", s)
		}
	}
	return ""
}

// checkPasswordHash checks a password hash: an argon2id PHC string (see
// checkArgon2id), or a bcrypt hash as written by htpasswd -B, Go's bcrypt or PHP's
// password_hash: "$2a$", "$2b$" or "$2y$", a two-digit cost from 4 to 31, and 53
// characters of salt and hash. It returns "" or what is wrong; the message does not
// repeat the hash.
func checkPasswordHash(h string) string {
	const want = `want a bcrypt hash such as "$2a$10$…" (60 characters), e.g. from htpasswd -nbB user password, or an argon2id PHC string "$argon2id$v=19$m=…,t=…,p=…$salt$hash"`
	if strings.HasPrefix(h, "$argon2") {
		return checkArgon2id(h)
	}
	if !strings.HasPrefix(h, "$2a$") && !strings.HasPrefix(h, "$2b$") && !strings.HasPrefix(h, "$2y$") {
		return "not a bcrypt hash: " + want
	}
	if len(h) != 60 {
		return fmt.Sprintf("bcrypt hash has %d characters: %s", len(h), want)
	}
	if h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9' || h[6] != '$' {
		return "bcrypt hash lacks its two-digit cost: " + want
	}
	for _, r := range h[7:] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '/') {
			return "bcrypt hash holds characters outside ./A-Za-z0-9: " + want
		}
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return fmt.Sprintf("invalid bcrypt hash: %v", err)
	}
	return ""
}

// issuedTokenPrefix starts the tokens the business API issues (pool.AgentTokenPrefix);
// a static token may not look like one.
const issuedTokenPrefix = "cgt_"

// Bounds on argon2id parameters, so one login cannot take the process's memory or a
// core for long; signaling checks the same bounds.
const (
	argon2MaxMemory = 1 << 20 // KiB (1 GiB)
	argon2MaxTime   = 16
	argon2MaxLanes  = 16
)

// checkArgon2id checks an argon2id hash in the PHC string format written by the
// reference argon2 tool and most libraries:
// "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>", salt (at least 8
// bytes) and hash (at least 16 bytes) in unpadded standard base64. It returns "" or
// what is wrong.
func checkArgon2id(h string) string {
	const want = `want "$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>" (salt and hash in unpadded base64)`
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return "not an argon2id hash: " + want
	}
	if parts[2] != "v=19" {
		return "argon2id hash of an unsupported version (only v=19): " + want
	}
	var m, t, p uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) {
		return "argon2id hash lacks its parameters m, t and p: " + want
	}
	switch {
	case p < 1 || p > argon2MaxLanes:
		return fmt.Sprintf("argon2id parallelism p=%d is outside 1-%d", p, argon2MaxLanes)
	case t < 1 || t > argon2MaxTime:
		return fmt.Sprintf("argon2id time cost t=%d is outside 1-%d", t, argon2MaxTime)
	case m < 8*p || m > argon2MaxMemory:
		return fmt.Sprintf("argon2id memory m=%d KiB is outside %d-%d", m, 8*p, argon2MaxMemory)
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	sum, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	switch {
	case err1 != nil || err2 != nil:
		return "argon2id salt or hash is not unpadded base64: " + want
	case len(salt) < 8:
		return fmt.Sprintf("argon2id salt has %d bytes, want at least 8", len(salt))
	case len(sum) < 16:
		return fmt.Sprintf("argon2id hash has %d bytes, want at least 16", len(sum))
	}
	return ""
}
