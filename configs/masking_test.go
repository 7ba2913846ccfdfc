package configs

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// wav returns a WAV file's bytes with the given fmt fields and n bytes of audio.
func wav(format, channels uint16, rate uint32, bits uint16, n int) string {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	b = append(b, "LIST"...)
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = append(b, "abc\x00"...) // an odd-sized chunk and its pad byte
	b = append(b, "fmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, format)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(bits)/8)
	b = binary.LittleEndian.AppendUint16(b, bits/8)
	b = binary.LittleEndian.AppendUint16(b, bits)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, make([]byte, n)...)
	return string(b)
}

// maskingBase is a config with two tenants, a trunk and pools of every kind.
const maskingBase = `tenants:
  - name: acme
  - name: globex
trunks:
  - name: tr
    host: 192.0.2.1
pools:
  - name: acme-sz
    type: virtual
    tenant: acme
    trunks: [tr]
    numbers: ["+8675561000001"]
  - name: shared
    type: virtual
    trunks: [tr]
    numbers: ["+8675561000002"]
  - name: fixed
    type: fixed
    trunks: [tr]
    numbers: ["+862100000001"]
  - name: no-trunks
    type: virtual
    numbers: ["+8675561000003"]
`

func TestMaskingLoads(t *testing.T) {
	yaml := maskingBase + `masking:
  max_bindings_per_number: 50
  cool_down: 30m
  default_pools: [shared]
  policies:
    - tenant: acme
      city: Shenzhen
      pools: [acme-sz, shared]
    - channel: support
      pools: [shared]
  no_binding:
    treatment: ANNOUNCE
    announcement: prompts/unbound.wav
api:
  apps:
    - name: crm
      tenants: [acme]
      secret_env: CRM_SECRET
    - name: billing
      tenants: ["*"]
      secret_file: secrets/billing.key
`
	files := map[string]string{
		"etc/main.yaml":           yaml,
		"etc/prompts/unbound.wav": wav(7, 1, 8000, 8, 800),
		"etc/secrets/billing.key": strings.Repeat("b", 64) + "\n",
	}
	cfg, err := memLoader(files, map[string]string{"CRM_SECRET": strings.Repeat("c", 40)}).loadPath("etc/main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Masking
	if m.MaxBindingsPerNumber != 50 || m.CoolDown.Std() != 30*time.Minute || m.IdleReclaim.Std() != 72*time.Hour ||
		m.GCInterval.Std() != time.Minute {
		t.Errorf("masking settings = %+v", m)
	}
	if p := m.Policies[0]; p.Tenant != "acme" || p.City != "Shenzhen" || p.Channel != "*" || p.Pos.Line != 29 {
		t.Errorf("policy 0 = %+v", p)
	}
	if p := m.Policies[1]; p.Tenant != "*" || p.City != "*" || p.Channel != "support" {
		t.Errorf("policy 1 = %+v", p)
	}
	if m.NoBinding.Treatment != NoBindingAnnounce || m.NoBinding.Announcement != "etc/prompts/unbound.wav" {
		t.Errorf("no_binding = %+v", m.NoBinding)
	}
	apps := cfg.API.Apps
	if len(apps) != 2 || apps[0].Secret != strings.Repeat("c", 40) || apps[1].Secret != strings.Repeat("b", 64) ||
		apps[1].Tenants[0] != "*" || apps[0].Pos.Line != 39 {
		t.Errorf("apps = %+v", apps)
	}
	s := Summary(cfg)
	for _, want := range []string{"masking: 3 virtual numbers, 2 policies, default pools shared, 50 bindings per number, cool-down 30m0s",
		"unbound calls: announce", "api: 2 apps — crm (tenants acme), billing (tenants *)"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, strings.Repeat("c", 40)) || strings.Contains(apps[0].String(), "ccc") {
		t.Error("a secret leaked into the summary")
	}
	// Defaults without a masking section.
	cfg, err = memLoader(map[string]string{"main.yaml": maskingBase}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Masking; m.MaxBindingsPerNumber != 200 || m.CoolDown.Std() != time.Hour || m.NoBinding.Treatment != NoBindingReject {
		t.Errorf("default masking = %+v", m)
	}
}

func TestMaskingProblems(t *testing.T) {
	yaml := maskingBase + // lines 1-23
		"masking:\n" + // 24
		"  default_pools: [acme-sz]\n" + // 25
		"  policies:\n" + // 26
		"    - tenant: acme\n" + // 27
		"      pools: [shared, nope, fixed, shared, no-trunks]\n" + // 28
		"    - tenant: globex\n" + // 29
		"      city: Shenzhen\n" + // 30
		"      pools: [acme-sz]\n" + // 31
		"    - tenant: acme\n" + // 32: a duplicate of the first (city and channel "*")
		"      city: \"*\"\n" + // 33
		"      pools: [shared]\n" + // 34
		"    - tenant: initech\n" + // 35
		"      pools: []\n" + // 36
		"  no_binding:\n" + // 37
		"    treatment: announce\n" + // 38
		"    announcement: bad.wav\n" + // 39
		"api:\n" + // 40
		"  apps:\n" + // 41
		"    - name: crm\n" + // 42
		"      tenants: [acme, nobody]\n" + // 43
		"      secret_env: SHORT\n" + // 44
		"    - name: crm\n" + // 45
		"      tenants: []\n" + // 46
		"    - name: both\n" + // 47
		"      tenants: [\"*\"]\n" + // 48
		"      secret_env: A\n" + // 49
		"      secret_file: b.key\n" + // 50
		"    - name: twin1\n" + // 51
		"      tenants: [acme]\n" + // 52
		"      secret_env: SAME\n" + // 53
		"    - name: twin2\n" + // 54
		"      tenants: [acme]\n" + // 55
		"      secret_env: SAME\n" // 56
	files := map[string]string{"main.yaml": yaml, "bad.wav": wav(1, 2, 44100, 16, 10)}
	env := map[string]string{"SHORT": "short", "SAME": strings.Repeat("s", 32)}
	_, err := memLoader(files, env).loadPath("main.yaml")
	want := []wantProblem{
		{"main.yaml:25", `masking: default_pools[0]: pool "acme-sz" belongs to tenant "acme"; a policy for every tenant may list only shared pools`},
		{"main.yaml:28", `masking: policies[0]: pools[1]: unknown pool "nope"`},
		{"main.yaml:28", `masking: policies[0]: pools[2]: pool "fixed" is not of type virtual`},
		{"main.yaml:28", `masking: policies[0]: pools[3]: pool "shared" is listed twice`},
		{"main.yaml:28", `masking: policies[0]: pools[4]: pool "no-trunks" has no trunks`},
		{"main.yaml:31", `masking: policies[1]: pools[0]: pool "acme-sz" belongs to tenant "acme", not "globex"`},
		{"main.yaml:32", `masking: policies[2]: a policy for tenant "acme", city "*" and channel "*" is already defined (line 27)`},
		{"main.yaml:35", `masking: policies[3]: tenant: unknown tenant "initech"`},
		{"main.yaml:36", `masking: policies[3]: pools: list at least one virtual pool`},
		{"main.yaml:39", `masking: no_binding: announcement: bad.wav: format 1, 2 channels, 44100 Hz, 16 bits: want a WAV file, 8 kHz mono`},
		{"main.yaml:43", `api app "crm": tenants[1]: unknown tenant "nobody"`},
		{"main.yaml:44", `api app "crm": secret_env: secret is too short: 5 characters, want at least 32`},
		{"main.yaml:45", `api app "crm": name: duplicate app name "crm" (first defined at line 42)`},
		{"main.yaml:46", `api app "crm": tenants: list the tenants the app may act for`},
		{"main.yaml:45", `api app "crm": set secret_env (an environment variable name) or secret_file (a path) to give the signing secret`},
		{"main.yaml:50", `api app "both": secret_file: set only one of secret_env and secret_file`},
		{"main.yaml:56", `api app "twin2": secret_env: app "twin1" has the same secret: each app needs its own`},
	}
	got := errorLines(t, err)
	checkProblems(t, got, want)
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), err)
	}
	if !errors.Is(err, ErrSecret) || !errors.Is(err, ErrInvalid) {
		t.Errorf("kinds: %v", err)
	}
}

func TestNoBindingProblems(t *testing.T) {
	tests := []struct {
		name  string
		nb    string
		files map[string]string
		want  wantProblem
	}{
		{"unknown treatment", "    treatment: hangup\n", nil, wantProblem{"main.yaml:26", `masking: no_binding: treatment: unknown treatment "hangup": want reject or announce`}},
		{"announce without file", "    treatment: announce\n", nil, wantProblem{"main.yaml:25", `masking: no_binding: treatment announce needs announcement`}},
		{"missing file", "    treatment: announce\n    announcement: gone.wav\n", nil, wantProblem{"main.yaml:27", `masking: no_binding: announcement: cannot read gone.wav`}},
		{"not a wav", "    treatment: announce\n    announcement: x.wav\n", map[string]string{"x.wav": "ID3 mp3 data here"}, wantProblem{"main.yaml:27", `not a WAV file`}},
		{"too long", "    treatment: announce\n    announcement: x.wav\n", map[string]string{"x.wav": wav(1, 1, 8000, 16, 2<<20)}, wantProblem{"main.yaml:27", `an announcement is at most 1048576`}},
		{"truncated", "    treatment: announce\n    announcement: x.wav\n", map[string]string{"x.wav": wav(1, 1, 8000, 16, 10)[:36]}, wantProblem{"main.yaml:27", `truncated WAV chunk`}},
		{"reject with a file", "    treatment: reject\n    announcement: x.wav\n", nil, wantProblem{"main.yaml:27", `masking: no_binding: announcement: is played only with treatment "announce"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"main.yaml": maskingBase + "masking:\n  no_binding:\n" + tt.nb}
			for k, v := range tt.files {
				files[k] = v
			}
			_, err := memLoader(files, nil).loadPath("main.yaml")
			got := errorLines(t, err)
			checkProblems(t, got, []wantProblem{tt.want})
			if len(got) != 1 {
				t.Errorf("got %d problems, want 1:\n%s", len(got), err)
			}
		})
	}
	for _, ok := range []string{wav(1, 1, 8000, 16, 100), wav(6, 1, 8000, 8, 100), wav(7, 1, 8000, 8, 100)} {
		if msg := checkWAV([]byte(ok)); msg != "" {
			t.Errorf("good WAV refused: %s", msg)
		}
	}
}
