package configs

import (
	"strings"
	"testing"
	"time"
)

func TestRecordsDefaultsAndDays(t *testing.T) {
	cfg, err := envLoader(nil).load("callgate.yaml", ".", []byte("log:\n  level: info\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Records; r.Retention.Std() != 90*24*time.Hour || r.PruneEvery.Std() != time.Hour {
		t.Fatalf("defaults: %+v", r)
	}
	cfg, err = envLoader(nil).load("callgate.yaml", ".", []byte("records:\n  retention: 30d\n  prune_every: 15m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Records; r.Retention.Std() != 30*24*time.Hour || r.PruneEvery.Std() != 15*time.Minute {
		t.Fatalf("records: %+v", r)
	}
	if s := cfg.Records.Retention.String(); s != "30d" {
		t.Fatalf("Retention.String() = %q, want 30d", s)
	}
	cfg, err = envLoader(nil).load("callgate.yaml", ".", []byte("records:\n  retention: -1s\n"))
	if err != nil || cfg.Records.Retention >= 0 {
		t.Fatalf("negative retention (keep for ever): %v %+v", err, cfg)
	}
}

func TestRecordsRefused(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"records:\n  retention: 10m\n", "callgate.yaml:2: records: retention: must be at least 1h0m0s"},
		{"records:\n  prune_every: 1s\n", "callgate.yaml:2: records: prune_every: must be at least 1m0s"},
		{"records:\n  retention: 90\n", "callgate.yaml:2:"},
		{"records:\n  retention: ninety days\n", "callgate.yaml:2:"},
		{"records:\n  retension: 90d\n", "callgate.yaml:2:"},
		{"records:\n  retention: [90d]\n", "callgate.yaml:2:"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			_, err := envLoader(nil).load("callgate.yaml", ".", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestSummaryCoversTrunksTenantsRecords: callgate check's summary shows each
// trunk's weight, limits, probe and tariff, each tenant's seats, callbacks and event
// callbacks, and the records' retention.
func TestSummaryCoversTrunksTenantsRecords(t *testing.T) {
	yaml := `records: {retention: 30d, prune_every: 2h}
api:
  apps:
    - {name: crm, tenants: [acme], secret_env: CRM_SECRET}
tenants:
  - name: acme
    seats: 7
    events: {url: "https://crm.example.com/events", app: crm, types: [call.ended]}
    callbacks: {expiry: 48h, fallback: {action: reject, status: 486}}
  - name: globex
    callbacks: {expiry: -1s}
trunks:
  - name: carrier-a
    host: 192.0.2.1
    weight: 2
    max_concurrent_calls: 30
    rate_per_minute: 60
    billing_increment: 60/6
    probe: {interval: 20s}
  - {name: carrier-b, host: 192.0.2.2, max_concurrent_calls: -1}
pools:
  - {name: acme-fixed, type: fixed, tenant: acme, trunks: [carrier-a, carrier-b], numbers: ["+862100000001", "+862100000002"]}
`
	cfg, err := envLoader(map[string]string{"CRM_SECRET": "crm-secret-0123456789abcdef0123456789"}).load("callgate.yaml", ".", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	s := Summary(cfg)
	for _, want := range []string{
		"weight 2", "30 calls, 10/s", "probe: every 20s (down after 3, up after 2)", "billing: 0.060/min 60/6",
		"no limit calls", "probe: off", "billing: not priced",
		"pools: 1", "acme-fixed", "numbers: 2",
		"tenant acme: 7 seats, callbacks for 48h0m0s, ring 30s, fallback reject 486, events to https://crm.example.com/events signed by app crm (call.ended)",
		"tenant globex: 10 seats, callbacks off, no event callbacks",
		"callers acme: 2 numbers",
		"records: kept 30d, pruned every 2h0m0s",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "crm-secret") {
		t.Error("the summary shows a secret")
	}
}
