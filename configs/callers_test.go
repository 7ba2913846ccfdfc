package configs

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCallerDefaults(t *testing.T) {
	cfg, err := memLoader(map[string]string{"main.yaml": "tenants:\n  - name: acme\n"}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tn := cfg.Tenants[0]
	c := tn.Callers
	want := []CallerStep{{"certified", "city"}, {"mobile", "city"}, {"mobile", "province"}, {"fixed", "any"}}
	if tn.DefaultRegion != "CN" || !slices.Equal(c.Strategy, want) ||
		c.Caps != (CallerCaps{PairPerDay: 2, CalleePerDay: 3, CallerPerDay: 300, CallerPerHour: 60}) ||
		c.Lease.Std() != 2*time.Minute || c.EscalateWithin.Std() != 72*time.Hour ||
		c.Health != (CallerHealth{MinAttempts: 30, AnswerRateFloor: 0.1, Window: Duration(24 * time.Hour), Rest: Duration(24 * time.Hour)}) {
		t.Fatalf("defaults %+v %+v", tn.DefaultRegion, c)
	}
}

func TestCallerProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantProblem
	}{
		{
			name: "strategy",
			yaml: `tenants:
  - name: acme
    default_region: China
    callers:
      strategy:
        - {type: certified, match: any}
        - {type: landline}
        - {type: mobile, match: district}
        - {type: fixed}
        - type: FIXED
          match: Any
      lease: 1s
      health: {answer_rate_floor: 1.5, window: 10m, rest: -1h}
`,
			want: []wantProblem{
				{"main.yaml:3", `tenant "acme": default_region: unknown region "CHINA": want a two-letter ISO 3166 code`},
				{"main.yaml:6", `callers: strategy[0]: match: certified numbers are usable only in their cities`},
				{"main.yaml:7", `callers: strategy[1]: type: unknown type "landline"`},
				{"main.yaml:8", `callers: strategy[2]: match: unknown match "district"`},
				{"main.yaml:10", `callers: strategy[4]: step fixed/any is listed twice (first as step 3)`},
				{"main.yaml:12", `callers: lease: must be at least 3s, got 1s`},
				{"main.yaml:13", `callers: health: answer_rate_floor: must be above 0 and at most 1, got 1.5`},
				{"main.yaml:13", `callers: health: window: must be at least 1h0m0s, got 10m0s`},
				{"main.yaml:13", `callers: health: rest: must be positive, got -1h0m0s`},
			},
		},
		{
			name: "caller pool keys",
			yaml: trunkYAML + `tenants:
  - name: acme
pools:
  - name: cert
    type: certified
    tenant: acme
    trunks: [t]
    city: Shenzhen
    numbers: ["+8675561000001", "+8675561000002"]
    overrides:
      - number: "+8675561000001"
        cities: [Shenzhen, " ", shenzhen]
      - number: "+8675561000009"
      - number: "+8675561000001"
  - name: mob
    type: mobile
    tenant: acme
    trunks: [t]
    cities: [Shenzhen]
    numbers: ["+8613510001000"]
  - name: virt
    type: virtual
    trunks: [t]
    city: Shenzhen
    overrides: [{number: "+8675500000001"}]
    numbers: ["+8675500000001"]
`,
			want: []wantProblem{
				{"main.yaml:11", `pool "cert": city: a certified number is local to the cities it is certified for: use cities`},
				{"main.yaml:15", `pool "cert": overrides[0]: cities[1]: empty city name`},
				{"main.yaml:15", `pool "cert": overrides[0]: cities[2]: city "shenzhen" is listed twice`},
				{"main.yaml:16", `pool "cert": overrides[1]: number: +8675561000009 is not one of the pool's numbers`},
				{"main.yaml:17", `pool "cert": overrides[2]: number: +8675561000001 has two overrides`},
				{"main.yaml:12", `pool "cert": numbers[1]: certified number +8675561000002 has no cities`},
				{"main.yaml:22", `pool "mob": cities: only certified numbers have a list of cities`},
				{"main.yaml:27", `pool "virt": city: only fixed, certified and mobile pools hold caller numbers`},
				{"main.yaml:28", `pool "virt": overrides: only fixed, certified and mobile pools hold caller numbers`},
			},
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

func TestCallerPoolWithoutTenant(t *testing.T) {
	cfg, err := memLoader(map[string]string{"main.yaml": trunkYAML +
		"pools:\n  - name: f\n    type: fixed\n    trunks: [t]\n    numbers: [\"+862100000001\"]\n"}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Pools[0].CallerPool() {
		t.Error("a pool without tenant serves agents' calls")
	}
	if s := Summary(cfg); !strings.Contains(s, "pools: 1") {
		t.Errorf("summary %s", s)
	}
}
