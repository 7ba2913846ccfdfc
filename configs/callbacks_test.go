package configs

import (
	"strings"
	"testing"
	"time"
)

func TestCallbackDefaults(t *testing.T) {
	cfg, err := memLoader(map[string]string{"main.yaml": trunkYAML + `tenants:
  - name: acme
  - name: beta
    callbacks:
      expiry: -1s
      fallback: {action: Forward, number: "+864000000000"}
`}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Tenants[0].Callbacks, cfg.Tenants[1].Callbacks
	if a.Expiry.Std() != 72*time.Hour || a.RingTimeout.Std() != 30*time.Second ||
		a.Fallback.Action != CallbackReject || a.Fallback.Status != 480 || a.Fallback.ShowAs != "" || len(a.Fallback.Agents) != 0 {
		t.Errorf("defaults %+v", a)
	}
	if b.Expiry.Std() != -time.Second || b.Fallback.Action != CallbackForward || b.Fallback.Status != 0 ||
		b.Fallback.ShowAs != CallbackShowCaller || b.Fallback.Trunk != "" {
		t.Errorf("forward defaults %+v", b)
	}
}

func TestCallbackProblems(t *testing.T) {
	agents := `agents:
  - {tenant: acme, name: alice, password_hash: "$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWXp4k2/S6zr1SgHZK5sURPi3wLa"}
  - {tenant: beta, name: bob, password_hash: "$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWXp4k2/S6zr1SgHZK5sURPi3wLa"}
`
	tests := []struct {
		name string
		yaml string
		want []wantProblem
	}{
		{
			name: "reject",
			yaml: trunkYAML + agents + `tenants:
  - name: beta
  - name: acme
    callbacks:
      ring_timeout: 10m
      fallback:
        agents: [alice, bob, alice]
        status: 200
        number: "+864000000000"
        show_as: caller
`,
			want: []wantProblem{
				{"main.yaml:11", `tenant "acme": callbacks: ring_timeout: must be positive and at most 5m0s, got 10m0s`},
				{"main.yaml:13", `callbacks: fallback: agents[1]: unknown agent "bob" of tenant "acme"`},
				{"main.yaml:13", `callbacks: fallback: agents[2]: agent "alice" is listed twice (first as agents[0])`},
				{"main.yaml:14", `callbacks: fallback: status: must be a SIP failure status, 400-699, got 200`},
				{"main.yaml:15", `callbacks: fallback: number: number applies to action forward only`},
				{"main.yaml:16", `callbacks: fallback: show_as: show_as applies to action forward only`},
			},
		},
		{
			name: "forward",
			yaml: trunkYAML + `tenants:
  - name: acme
    callbacks:
      ring_timeout: -1s
      fallback:
        action: forward
        status: 486
        number: "4000"
        trunk: nowhere
        show_as: customer
  - name: beta
    callbacks: {fallback: {action: voicemail}}
`,
			want: []wantProblem{
				{"main.yaml:7", `tenant "acme": callbacks: ring_timeout: must be positive`},
				{"main.yaml:10", `callbacks: fallback: status: status applies to action reject only`},
				{"main.yaml:11", `callbacks: fallback: number: forward needs the number to call, in E.164`},
				{"main.yaml:12", `callbacks: fallback: trunk: unknown trunk "nowhere"`},
				{"main.yaml:13", `callbacks: fallback: show_as: unknown show_as "customer": want caller or number`},
				{"main.yaml:15", `tenant "beta": callbacks: fallback: action: unknown action "voicemail": want reject or forward`},
			},
		},
		{
			name: "unknown key",
			yaml: `tenants:
  - name: acme
    callbacks:
      expiry: 72h
      fallbak: {action: reject}
`,
			want: []wantProblem{{"main.yaml:5", `fallbak`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := memLoader(map[string]string{"main.yaml": tt.yaml}, nil).loadPath("main.yaml")
			got := errorLines(t, err)
			checkProblems(t, got, tt.want)
			if len(got) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
		})
	}
}
