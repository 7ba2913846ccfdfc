package configs

import "testing"

func TestSuppliersAndPoolWeight(t *testing.T) {
	const base = "tenants:\n  - name: acme\ntrunks:\n  - name: a\n    host: 192.0.2.1\npools:\n  - name: v\n    supplier: s1\n    type: virtual\n    trunks: [a]\n    numbers: [\"+8675500000001\"]\n"
	env := map[string]string{"S1": "s1-secret-0123456789abcdef0123456789", "S2": "s2-secret-0123456789abcdef0123456789",
		"SHORT": "short", "APP": "s1-secret-0123456789abcdef0123456789"}
	tests := []struct {
		name   string
		yaml   string
		weight float64
		secret string
		want   []wantProblem // none: loads
	}{
		{name: "no suppliers, weight left 0 (means 1)", yaml: base, weight: 0},
		{name: "weight and supplier", yaml: base + "    weight: 2.5\nsuppliers:\n  - name: s1\n    secret_env: S1\n",
			weight: 2.5, secret: env["S1"]},
		{name: "negative weight takes no new bindings", yaml: base + "    weight: -1\n", weight: -1},
		{name: "huge weight", yaml: base + "    weight: 5000\n",
			want: []wantProblem{{"main.yaml:12", `pool "v": weight: must be a number up to 1000`}}},
		{name: "unknown supplier", yaml: base + "suppliers:\n  - name: s9\n    secret_env: S1\n",
			want: []wantProblem{{"main.yaml:13", `supplier "s9": name: no pool has supplier "s9"`}}},
		{name: "short secret", yaml: base + "suppliers:\n  - name: s1\n    secret_env: SHORT\n",
			want: []wantProblem{{"main.yaml:14", `supplier "s1": secret_env: secret is too short`}}},
		{name: "no secret", yaml: base + "suppliers:\n  - name: s1\n",
			want: []wantProblem{{"main.yaml:13", `supplier "s1": set secret_env`}}},
		{name: "secret of a business app", yaml: base + "suppliers:\n  - name: s1\n    secret_env: S1\napi:\n  apps:\n    - name: crm\n      tenants: [acme]\n      secret_env: APP\n",
			want: []wantProblem{{"main.yaml:14", `supplier "s1": secret_env: business app "crm" has the same secret`}}},
		{name: "duplicate supplier", yaml: base + "suppliers:\n  - name: s1\n    secret_env: S1\n  - name: s1\n    secret_env: S2\n",
			want: []wantProblem{{"main.yaml:15", `supplier "s1": name: duplicate supplier "s1" (first defined at line 13)`}}},
		{name: "misspelt key", yaml: base + "suppliers:\n  - name: s1\n    secret_evn: S1\n",
			want: []wantProblem{{"main.yaml:14", `unknown field "secret_evn"`}, {"main.yaml:13", `supplier "s1": set secret_env`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := memLoader(map[string]string{"main.yaml": tc.yaml}, env).loadPath("main.yaml")
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
			if w := cfg.Pools[0].Weight; w != tc.weight {
				t.Errorf("pool weight %g, want %g", w, tc.weight)
			}
			if tc.secret != "" && (len(cfg.Suppliers) != 1 || cfg.Suppliers[0].Secret != tc.secret) {
				t.Errorf("suppliers %+v: secret not resolved", cfg.Suppliers)
			}
		})
	}
}
