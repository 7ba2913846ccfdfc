package configs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRegistersToUs(t *testing.T) {
	const pw = "correct-horse-battery"
	pbx := func(lines string) string {
		return "trunks:\n  - name: pbx\n    registers_to_us:\n" + lines
	}
	env := map[string]string{"PBX_PW": pw, "SHORT_PW": "short"}
	tests := []struct {
		name   string
		yaml   string
		files  map[string]string
		want   InboundRegister // when loading succeeds: Password, MinExpires, MaxExpires, AuthInvites, Username
		probs  []wantProblem   // none: loads
		secret bool            // the problems are of kind ErrSecret
	}{
		{name: "no host, defaults", yaml: pbx("      username: pbx-01\n      password_env: PBX_PW\n"),
			want: InboundRegister{Username: "pbx-01", Password: pw, MinExpires: Duration(time.Minute), MaxExpires: Duration(time.Hour)}},
		{name: "password file, expiries, auth_invites",
			yaml:  pbx("      username: pbx-01\n      password_file: secrets/pbx\n      min_expires: 30s\n      max_expires: 10m\n      auth_invites: true\n"),
			files: map[string]string{"secrets/pbx": pw + "\n"},
			want: InboundRegister{Username: "pbx-01", Password: pw, MinExpires: Duration(30 * time.Second),
				MaxExpires: Duration(10 * time.Minute), AuthInvites: true}},
		{name: "no host and no registers_to_us", yaml: "trunks:\n  - name: pbx\n    port: 5060\n",
			probs: []wantProblem{{"main.yaml:2", `trunk "pbx": host: host is required (or registers_to_us`}}},
		{name: "no password", yaml: pbx("      username: pbx-01\n"), secret: true,
			probs: []wantProblem{{"main.yaml:3", `trunk "pbx": registers_to_us: set password_env (an environment variable name) or password_file`}}},
		{name: "both password sources", yaml: pbx("      username: pbx-01\n      password_env: PBX_PW\n      password_file: x\n"),
			probs: []wantProblem{{"main.yaml:6", `trunk "pbx": registers_to_us: password_file: set only one of password_env and password_file`}}},
		{name: "unset variable", yaml: pbx("      username: pbx-01\n      password_env: NOPE\n"), secret: true,
			probs: []wantProblem{{"main.yaml:5", `registers_to_us: password_env: environment variable NOPE is not set`}}},
		{name: "short password", yaml: pbx("      username: pbx-01\n      password_env: SHORT_PW\n"), secret: true,
			probs: []wantProblem{{"main.yaml:5", `registers_to_us: password_env: the password is shorter than 16 characters`}}},
		{name: "username with a space", yaml: pbx("      username: pbx 01\n      password_env: PBX_PW\n"),
			probs: []wantProblem{{"main.yaml:4", `registers_to_us: username: "pbx 01" may hold only printable ASCII characters, without spaces`}}},
		{name: "no username", yaml: pbx("      password_env: PBX_PW\n"),
			probs: []wantProblem{{"main.yaml:3", `registers_to_us: username: must not be blank`}}},
		{name: "one username for two trunks",
			yaml: pbx("      username: pbx-01\n      password_env: PBX_PW\n") +
				"  - name: pbx2\n    registers_to_us:\n      username: pbx-01\n      password_env: PBX_PW\n",
			probs: []wantProblem{{"main.yaml:8", `trunk "pbx2": registers_to_us: username: username "pbx-01" already registers trunk line 2`}}},
		{name: "max below min", yaml: pbx("      username: pbx-01\n      password_env: PBX_PW\n      min_expires: 5m\n      max_expires: 1m\n"),
			probs: []wantProblem{{"main.yaml:7", `registers_to_us: max_expires: 1m0s is below min_expires (5m0s)`}}},
		{name: "min too short", yaml: pbx("      username: pbx-01\n      password_env: PBX_PW\n      min_expires: 1s\n"),
			probs: []wantProblem{{"main.yaml:6", `registers_to_us: min_expires: must be from 10s to 24h0m0s, got 1s`}}},
		{name: "max too long", yaml: pbx("      username: pbx-01\n      password_env: PBX_PW\n      max_expires: 48h\n"),
			probs: []wantProblem{{"main.yaml:6", `registers_to_us: max_expires: must be at most 24h0m0s`}}},
		{name: "register and registers_to_us",
			yaml: "trunks:\n  - name: pbx\n    host: 192.0.2.7\n    auth: {username: u, password_env: PBX_PW}\n    register: {}\n" +
				"    registers_to_us:\n      username: pbx-01\n      password_env: PBX_PW\n",
			probs: []wantProblem{{"main.yaml:5", `trunk "pbx": register: a trunk either registers to callgate (registers_to_us) or callgate registers to it (register), not both`}}},
		{name: "probe", yaml: pbx("      username: pbx-01\n      password_env: PBX_PW\n") + "    probe: {}\n",
			probs: []wantProblem{{"main.yaml:6", `trunk "pbx": probe: a trunk that registers to callgate is watched by its registration`}}},
		{name: "password written inline is unknown", yaml: pbx("      username: pbx-01\n      password: " + pw + "\n"),
			probs: []wantProblem{{"main.yaml:5", `registers_to_us: unknown field "password" (did you mean "password_env" or "password_file"?)`},
				{"main.yaml:3", `registers_to_us: set password_env (an environment variable name) or password_file`}}},
		{name: "misspelt key", yaml: pbx("      username: pbx-01\n      password_env: PBX_PW\n      max_expire: 1m\n"),
			probs: []wantProblem{{"main.yaml:6", `unknown field "max_expire"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"main.yaml": tc.yaml}
			for k, v := range tc.files {
				files[k] = v
			}
			cfg, err := memLoader(files, env).loadPath("main.yaml")
			if len(tc.probs) > 0 {
				got := errorLines(t, err)
				checkProblems(t, got, tc.probs)
				if len(got) != len(tc.probs) {
					t.Errorf("got %d problems, want %d:\n%v", len(got), len(tc.probs), err)
				}
				if tc.secret && !errors.Is(err, ErrSecret) {
					t.Errorf("problem is not of kind ErrSecret: %v", err)
				}
				if strings.Contains(err.Error(), pw) {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tr := cfg.Trunks[0]
			if tr.RegistersToUs == nil || *tr.RegistersToUs != withRefs(tc.want, *tr.RegistersToUs) {
				t.Fatalf("registers_to_us %+v, want %+v", tr.RegistersToUs, tc.want)
			}
			if tr.Host != "" || tr.Domain != "" || len(tr.InboundCIDRs) != 0 {
				t.Errorf("host %q domain %q inbound_cidrs %v: want none (the address is learnt)", tr.Host, tr.Domain, tr.InboundCIDRs)
			}
			if s := Summary(cfg); !strings.Contains(s, "pbx  (learnt from its REGISTER)  register: to callgate as pbx-01") {
				t.Errorf("summary:\n%s", s)
			}
		})
	}
}

// withRefs copies where got's password came from into want, which names only what
// loading resolves.
func withRefs(want, got InboundRegister) InboundRegister {
	want.PasswordEnv, want.PasswordFile = got.PasswordEnv, got.PasswordFile
	return want
}
