package configs

import (
	"testing"
	"time"
)

func TestTrunkHealth(t *testing.T) {
	trunk := func(lines string) string {
		return "trunks:\n  - name: a\n    host: 192.0.2.1\n" + lines
	}
	tests := []struct {
		name    string
		yaml    string
		weight  float64
		timeout time.Duration
		probe   *TrunkProbe
		scoring Scoring       // zero: the defaults
		want    []wantProblem // none: loads
	}{
		{name: "defaults: weight 1, no probes", yaml: trunk(""), weight: 1, timeout: 8 * time.Second},
		{name: "probe with defaults", yaml: trunk("    probe: {}\n"), weight: 1, timeout: 8 * time.Second,
			probe: &TrunkProbe{Interval: Duration(30 * time.Second), Timeout: Duration(5 * time.Second), DownAfter: 3, UpAfter: 2}},
		{name: "probe set", yaml: trunk("    weight: 2.5\n    invite_timeout: 3s\n    probe:\n      interval: 10s\n      timeout: 2s\n      down_after: 2\n      up_after: 4\n"),
			weight: 2.5, timeout: 3 * time.Second,
			probe: &TrunkProbe{Interval: Duration(10 * time.Second), Timeout: Duration(2 * time.Second), DownAfter: 2, UpAfter: 4}},
		{name: "probe off", yaml: trunk("    probe:\n      interval: -1s\n"), weight: 1, timeout: 8 * time.Second,
			probe: &TrunkProbe{Interval: Duration(-time.Second), Timeout: Duration(5 * time.Second), DownAfter: 3, UpAfter: 2}},
		{name: "negative weight: no new calls", yaml: trunk("    weight: -1\n"), weight: -1, timeout: 8 * time.Second},
		{name: "scoring thresholds", yaml: "sip:\n  scoring:\n    half_life: 1m\n    degrade_below: 0.2\n    recover_above: 0.4\n" + trunk(""),
			weight: 1, timeout: 8 * time.Second,
			scoring: Scoring{HalfLife: Duration(time.Minute), MinSeizures: 10, DegradeBelow: 0.2, RecoverAbove: 0.4,
				PDDTarget: Duration(5 * time.Second), Every: Duration(5 * time.Second)}},
		{name: "timeout over interval", yaml: trunk("    probe:\n      interval: 2s\n      timeout: 3s\n"),
			want: []wantProblem{{"main.yaml:6", `trunk "a": probe: timeout: must be positive and at most the interval (2s), got 3s`}}},
		{name: "interval too short", yaml: trunk("    probe:\n      interval: 10ms\n      timeout: 5ms\n"),
			want: []wantProblem{{"main.yaml:5", `trunk "a": probe: interval: must be at least 1s`}}},
		{name: "down_after zero is the default, negative is refused", yaml: trunk("    probe:\n      down_after: -2\n"),
			want: []wantProblem{{"main.yaml:5", `trunk "a": probe: down_after: must be from 1 to 100 failed probes, got -2`}}},
		{name: "invite timeout too short", yaml: trunk("    invite_timeout: 10ms\n"),
			want: []wantProblem{{"main.yaml:4", `trunk "a": invite_timeout: must be at least 500ms`}}},
		{name: "huge weight", yaml: trunk("    weight: 5000\n"),
			want: []wantProblem{{"main.yaml:4", `trunk "a": weight: must be a number up to 1000`}}},
		{name: "no hysteresis", yaml: "sip:\n  scoring:\n    degrade_below: 0.3\n    recover_above: 0.2\n" + trunk(""),
			want: []wantProblem{{"main.yaml:4", `sip: scoring: recover_above: 0.2 must be above degrade_below (0.3)`}}},
		{name: "misspelt probe key", yaml: trunk("    probe:\n      intervall: 5s\n"),
			want: []wantProblem{{"main.yaml:5", `unknown field "intervall"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := memLoader(map[string]string{"main.yaml": tc.yaml}, nil).loadPath("main.yaml")
			if len(tc.want) > 0 {
				got := errorLines(t, err)
				checkProblems(t, got, tc.want)
				if len(got) != len(tc.want) {
					t.Errorf("got %d problems, want %d:\n%v", len(got), len(tc.want), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tr := cfg.Trunks[0]
			if tr.Weight != tc.weight || tr.InviteTimeout.Std() != tc.timeout {
				t.Errorf("weight %g invite_timeout %s, want %g %s", tr.Weight, tr.InviteTimeout, tc.weight, tc.timeout)
			}
			switch {
			case (tr.Probe == nil) != (tc.probe == nil):
				t.Errorf("probe %+v, want %+v", tr.Probe, tc.probe)
			case tr.Probe != nil && *tr.Probe != *tc.probe:
				t.Errorf("probe %+v, want %+v", *tr.Probe, *tc.probe)
			}
			want := tc.scoring
			if want == (Scoring{}) {
				scoringDefaults(&want)
			}
			if cfg.SIP.Scoring != want {
				t.Errorf("scoring %+v, want %+v", cfg.SIP.Scoring, want)
			}
		})
	}
}
