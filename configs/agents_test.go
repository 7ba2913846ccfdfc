package configs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Bcrypt hashes for tests: hashOK is a valid one (of the password "demo").
const (
	hashOK   = "$2a$10$ure2cHooOT0qVdkRPINFOuVV1Lr3S0YSY8fPzqItRdAVcUeDDIB12"
	hashBody = "ure2cHooOT0qVdkRPINFOuVV1Lr3S0YSY8fPzqItRdAVcUeDDIB12" // 53 characters
)

func TestAgentProblems(t *testing.T) {
	yaml := "tenants:\n  - name: acme\n  - name: globex\n" +
		"agents:\n" +
		"  - tenant: acme\n    name: ok\n    password_hash: \"" + hashOK + "\"\n" + // 5
		"  - name: no-tenant\n    password_hash: \"" + hashOK + "\"\n" + // 8
		"  - tenant: initech\n    name: wrong-tenant\n    password_hash: \"" + hashOK + "\"\n" + // 10
		"  - tenant: acme\n    password_hash: \"" + hashOK + "\"\n" + // 13
		"  - tenant: acme\n    name: \"al ice\"\n    password_hash: \"" + hashOK + "\"\n" + // 15
		"  - tenant: acme\n    name: ok\n    password_hash: \"" + hashOK + "\"\n" + // 18
		"  - tenant: globex\n    name: ok\n    password_hash: \"" + hashOK + "\"\n" + // 21
		"  - tenant: acme\n    name: nologin\n" + // 24
		"  - {tenant: acme, name: " + strings.Repeat("a", 65) + ", password_hash: \"" + hashOK + "\"}\n" + // 26
		"  - {tenant: acme, name: h1, password_hash: secret}\n" + // 27
		"  - {tenant: acme, name: h2, password_hash: \"$2a$10$short\"}\n" +
		"  - {tenant: acme, name: h3, password_hash: \"$2x$10$" + hashBody + "\"}\n" +
		"  - {tenant: acme, name: h4, password_hash: \"$2a$03$" + hashBody + "\"}\n" +
		"  - {tenant: acme, name: h5, password_hash: \"$2b$10$" + hashBody[:52] + "!\"}\n" +
		"  - {tenant: acme, name: h6, password_hash: \"$2y$10$" + hashBody + "\"}\n" + // 32: valid
		"  - {tenant: acme, name: t1, token_env: TOKEN_A}\n" + // 33
		"  - {tenant: acme, name: t2, token_env: TOKEN_B}\n" +
		"  - {tenant: acme, name: t3, token_file: tok/a.token}\n" +
		"  - {tenant: acme, name: t4, token_env: SHORT}\n" +
		"  - {tenant: acme, name: t5, token_env: UNSET}\n" +
		"  - {tenant: acme, name: t6, token_env: EMPTY}\n" +
		"  - {tenant: acme, name: t7, token_file: tok/none.token}\n" +
		"  - {tenant: acme, name: t8, token_file: tok/empty.token}\n" +
		"  - {tenant: acme, name: t9, token_env: TOKEN_C, token_file: tok/c.token}\n" +
		"  - {tenant: acme, name: t10, token: \"0123456789abcdef0\"}\n" +
		"  - {tenant: acme, name: t11, password: hunter2, token_env: TOKEN_C}\n" // 43
	files := map[string]string{
		"main.yaml":       yaml,
		"tok/a.token":     "0123456789abcdef\n",
		"tok/c.token":     "cccccccccccccccccccc",
		"tok/empty.token": "\r\n",
	}
	env := map[string]string{
		"TOKEN_A": "0123456789abcdef", "TOKEN_B": "0123456789abcdef", "TOKEN_C": "another-token-0123",
		"SHORT": "short-token", "EMPTY": "",
	}
	cfg, err := memLoader(files, env).loadPath("main.yaml")
	if cfg != nil {
		t.Error("got a config despite errors")
	}
	want := []wantProblem{
		{"main.yaml:8", `agent "no-tenant": tenant: tenant is required`},
		{"main.yaml:10", `agent "wrong-tenant": tenant: unknown tenant "initech"`},
		{"main.yaml:13", `agents[3]: name: name is required`},
		{"main.yaml:16", `agent "al ice": name: name "al ice" may hold only letters A-Z and a-z, digits, '.', '_' and '-'`},
		{"main.yaml:19", `agent "ok": name: duplicate agent "ok" of tenant "acme" (first defined at line 5)`},
		{"main.yaml:24", `agent "nologin": cannot log in: set password_hash (a bcrypt hash of its password), token_env (an environment variable name) or token_file (a path)`},
		{"main.yaml:26", `name: name "` + strings.Repeat("a", 65) + `" is longer than 64 characters`},
		{"main.yaml:27", `agent "h1": password_hash: not a bcrypt hash: want a bcrypt hash such as "$2a$10$…"`},
		{"main.yaml:28", `agent "h2": password_hash: bcrypt hash has 12 characters`},
		{"main.yaml:29", `agent "h3": password_hash: not a bcrypt hash`},
		{"main.yaml:30", `agent "h4": password_hash: invalid bcrypt hash: crypto/bcrypt: cost 3 is outside allowed inclusive range 4..31`},
		{"main.yaml:31", `agent "h5": password_hash: bcrypt hash holds characters outside ./A-Za-z0-9`},
		{"main.yaml:34", `agent "t2": token_env: agent "t1" of tenant "acme" (line 33) has the same token: each agent needs its own`},
		{"main.yaml:35", `agent "t3": token_file: agent "t1" of tenant "acme" (line 33) has the same token`},
		{"main.yaml:36", `agent "t4": token_env: token is too short: 11 characters, want at least 16`},
		{"main.yaml:37", `agent "t5": token_env: environment variable UNSET is not set`},
		{"main.yaml:38", `agent "t6": token_env: environment variable EMPTY is empty`},
		{"main.yaml:39", `agent "t7": token_file: cannot read tok/none.token: file does not exist`},
		{"main.yaml:40", `agent "t8": token_file: token file tok/empty.token is empty`},
		{"main.yaml:41", `agent "t9": token_file: set only one of token_env and token_file`},
		{"main.yaml:42", `agent "t10": unknown field "token" (did you mean "token_env" or "token_file"?)`},
		{"main.yaml:42", `agent "t10": cannot log in`},
		{"main.yaml:43", `agent "t11": unknown field "password" (did you mean "password_hash"?)`},
	}
	got := errorLines(t, err)
	checkProblems(t, got, want)
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), err)
	}
	for _, kind := range []error{ErrInvalid, ErrSecret, ErrUnknownField} {
		if !errors.Is(err, kind) {
			t.Errorf("errors.Is(err, %v) = false", kind)
		}
	}
	for _, secret := range []string{"0123456789abcdef", "short-token", "cccccccc", "hunter2", hashBody} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("an error shows the secret %q:\n%s", secret, err)
		}
	}
}

func TestAgentsLoad(t *testing.T) {
	yaml := "tenants:\n  - name: acme\n  - name: globex\n" +
		"agents:\n" +
		"  - tenant: acme\n    name: alice\n    password_hash: \"" + hashOK + "\"\n" +
		"  - tenant: globex\n    name: alice\n    token_file: tok/alice.token\n" +
		"  - tenant: acme\n    name: Bot_1.x-y\n    token_env: BOT\n    password_hash: \"$2y$10$" + hashBody + "\"\n"
	files := map[string]string{
		"conf/main.yaml":        yaml,
		"conf/tok/alice.token":  "globex-alice-token-0001\r\n\n",
		"tok/alice.token":       "wrong: relative to the working directory",
		"conf/tok/unused.token": "x",
	}
	cfg, err := memLoader(files, map[string]string{"BOT": "bot token with spaces ✓"}).loadPath("conf/main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Agent{
		{Tenant: "acme", Name: "alice", PasswordHash: hashOK, Pos: Pos{"conf/main.yaml", 5}},
		{Tenant: "globex", Name: "alice", TokenFile: "tok/alice.token", Token: "globex-alice-token-0001", Pos: Pos{"conf/main.yaml", 8}},
		{Tenant: "acme", Name: "Bot_1.x-y", TokenEnv: "BOT", Token: "bot token with spaces ✓", PasswordHash: "$2y$10$" + hashBody,
			Pos: Pos{"conf/main.yaml", 11}},
	}
	if !reflect.DeepEqual(cfg.Agents, want) {
		t.Errorf("Agents =\n%+v\nwant\n%+v", cfg.Agents, want)
	}
}

// A token counts characters, not bytes: 15 runes of two bytes each are too short.
func TestAgentTokenCountsCharacters(t *testing.T) {
	yaml := "tenants: [{name: acme}]\nagents:\n  - {tenant: acme, name: a, token_env: T}\n"
	_, err := memLoader(map[string]string{"main.yaml": yaml}, map[string]string{"T": strings.Repeat("é", 15)}).loadPath("main.yaml")
	checkProblems(t, errorLines(t, err), []wantProblem{{"main.yaml:3", "token is too short: 15 characters"}})
}

func TestCheckPasswordHash(t *testing.T) {
	for _, h := range []string{hashOK, "$2b$04$" + hashBody, "$2y$31$" + hashBody} {
		if msg := checkPasswordHash(h); msg != "" {
			t.Errorf("checkPasswordHash(%q) = %q, want ok", h, msg)
		}
	}
	for _, h := range []string{"", "$2$10$" + hashBody, "$2a$1x$" + hashBody, "$2a$32$" + hashBody,
		"$2a$10$" + hashBody + "x", " $2a$10$" + hashBody[1:], "$2a$10" + hashBody + "x", "$1$abc"} {
		if msg := checkPasswordHash(h); msg == "" {
			t.Errorf("checkPasswordHash(%q) accepted it", h)
		}
	}
}
