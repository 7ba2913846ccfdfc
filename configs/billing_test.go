package configs

import (
	"path/filepath"
	"testing"
)

func TestTrunkTariff(t *testing.T) {
	trunk := func(lines string) string {
		return "trunks:\n  - name: a\n    host: 192.0.2.1\n" + lines
	}
	tests := []struct {
		name      string
		yaml      string
		rate      int64
		increment BillingIncrement
		want      []wantProblem // none: loads
	}{
		{name: "defaults: not priced, 60/60", yaml: trunk(""), increment: BillingIncrement{60, 60}},
		{name: "rate and first/next", yaml: trunk("    rate_per_minute: 45\n    billing_increment: 60/6\n"),
			rate: 45, increment: BillingIncrement{60, 6}},
		{name: "spaces and one number", yaml: trunk("    rate_per_minute: 0\n    billing_increment: \"1\"\n"),
			increment: BillingIncrement{1, 1}},
		{name: "a bare integer", yaml: trunk("    billing_increment: 30\n"), increment: BillingIncrement{30, 30}},
		{name: "padded parts", yaml: trunk("    billing_increment: 30 / 6\n"), increment: BillingIncrement{30, 6}},
		{name: "negative rate", yaml: trunk("    rate_per_minute: -5\n"),
			want: []wantProblem{{"main.yaml:4", `trunk "a": rate_per_minute: must not be negative, got -5`}}},
		{name: "absurd rate", yaml: trunk("    rate_per_minute: 5000000000\n"),
			want: []wantProblem{{"main.yaml:4", `trunk "a": rate_per_minute: 5000000000 is over 1000000000`}}},
		{name: "fractional rate", yaml: trunk("    rate_per_minute: 0.06\n"),
			want: []wantProblem{{"main.yaml:4", `rate_per_minute: want`}}},
		{name: "zero step", yaml: trunk("    billing_increment: 60/0\n"),
			want: []wantProblem{{"main.yaml:4", `billing_increment: want "first/next" seconds such as 60/60, 60/6 or 1/1 (each 1 to 3600), got "60/0"`}}},
		{name: "words", yaml: trunk("    rate_per_minute: 10\n    billing_increment: per minute\n"),
			want: []wantProblem{{"main.yaml:5", `got "per minute"`}}},
		{name: "too long", yaml: trunk("    billing_increment: 7200/60\n"),
			want: []wantProblem{{"main.yaml:4", `got "7200/60"`}}},
		{name: "a list", yaml: trunk("    billing_increment: [60, 6]\n"),
			want: []wantProblem{{"main.yaml:4", `got a list`}}},
		{name: "misspelt key", yaml: trunk("    rate_per_min: 10\n"),
			want: []wantProblem{{"main.yaml:4", `unknown field "rate_per_min"`}}},
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
			if tr.RatePerMinute != tc.rate || tr.BillingIncrement != tc.increment {
				t.Errorf("rate %d increment %v, want %d %v", tr.RatePerMinute, tr.BillingIncrement, tc.rate, tc.increment)
			}
		})
	}
}

// The example trunk file documents a tariff; it must load as written.
func TestExampleTrunkTariff(t *testing.T) {
	setExampleEnv(t)
	cfg, err := Load("callgate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]any{
		"carrier-a": {int64(45), BillingIncrement{60, 6}},
		"carrier-b": {int64(60), BillingIncrement{60, 60}},
	}
	for _, tr := range cfg.Trunks {
		w, ok := want[tr.Name]
		if !ok {
			continue
		}
		delete(want, tr.Name)
		if tr.RatePerMinute != w[0] || tr.BillingIncrement != w[1] {
			t.Errorf("%s (%s): rate %d increment %v, want %v", tr.Name, filepath.Base(tr.Pos.File), tr.RatePerMinute, tr.BillingIncrement, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("trunks missing from the example: %v", want)
	}
}
