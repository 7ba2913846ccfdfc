package configs

import (
	"strings"
	"testing"
)

func TestRecordingDefaults(t *testing.T) {
	cfg, err := memLoader(map[string]string{"main.yaml": trunkYAML + `tenants:
  - name: acme
  - name: beta
    recording: {enabled: true, dir: /var/lib/callgate/rec, percent: 25}
`}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Tenants[0].Recording, cfg.Tenants[1].Recording
	if a.Enabled || a.Dir != "recordings" || a.Percent != 100 {
		t.Errorf("defaults %+v", a)
	}
	if !b.Enabled || b.Dir != "/var/lib/callgate/rec" || b.Percent != 25 {
		t.Errorf("set %+v", b)
	}
	if a.Records(0) {
		t.Error("a tenant without recording records calls")
	}
	if !b.Records(24) || b.Records(25) || !b.Records(124) {
		t.Error("percent 25 records keys 0-24 only")
	}
	if (Recording{Enabled: true, Percent: -1}).Records(0) {
		t.Error("negative percent records calls")
	}
}

func TestRecordingProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantProblem
	}{
		{
			name: "percent",
			yaml: `tenants:
  - name: acme
    recording:
      enabled: true
      percent: 101
`,
			want: []wantProblem{{"main.yaml:5", `tenant "acme": recording: percent: must be 1 to 100 (negative: none), got 101`}},
		},
		{
			name: "unknown key",
			yaml: `tenants:
  - name: acme
    recording:
      enabled: true
      folder: /tmp
`,
			want: []wantProblem{{"main.yaml:5", `folder`}},
		},
		{
			name: "wrong type",
			yaml: `tenants:
  - name: acme
    recording: {enabled: sometimes}
`,
			want: []wantProblem{{"main.yaml:3", `enabled`}},
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
