package web

import (
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"callgate/pool"
)

func TestMetricsScrapeAndDashboard(t *testing.T) {
	yes := true
	m := NewMetrics(MetricsSources{
		ActiveCalls: func() int { return 3 },
		Trunks:      func() []TrunkGauge { return []TrunkGauge{{Name: "a", Active: 2, Registered: &yes}, {Name: "b"}} },
		Ports:       func() (int, int) { return 6, 500 },
		Sessions:    func() int { return 4 },
		Seats:       func() []SeatGauge { return []SeatGauge{{Tenant: "acme", Used: 4, Total: 10}} },
		LeasesHeld:  func() int { return 2 },
	})
	t0 := time.Unix(1_800_000_000, 0)
	m.CallEnded(pool.Call{Direction: pool.Outbound, OutTrunk: "a", SIPCode: 200, SetupAt: t0, RingAt: t0.Add(2 * time.Second),
		AnswerAt: t0.Add(5 * time.Second), BilledSec: 61, PacketsFromA: 100, PacketsToA: 99}, 300*time.Microsecond)
	m.CallEnded(pool.Call{Direction: pool.Inbound, OutTrunk: "b", SIPCode: 486, Reason: "callee_486", SetupAt: t0}, time.Millisecond)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`callgate_calls_total{code="2xx",direction="outbound",result="answered",trunk="a"} 1`,
		`callgate_calls_total{code="4xx",direction="inbound",result="failed",trunk="b"} 1`,
		`callgate_billed_seconds_total{direction="outbound",trunk="a"} 61`,
		`callgate_post_dial_delay_seconds_count{trunk="a"} 1`,
		`callgate_setup_seconds_count{direction="outbound"} 1`,
		`callgate_rtp_packets_total{dir="out",leg="a"} 99`,
		`callgate_calls_active 3`,
		`callgate_trunk_calls_active{trunk="a"} 2`,
		`callgate_trunk_registered{trunk="a"} 1`,
		`callgate_rtp_ports_in_use 6`,
		`callgate_agent_sessions 4`,
		`callgate_seats_used{tenant="acme"} 4`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(text, `callgate_trunk_registered{trunk="b"}`) {
		t.Error("a trunk that does not register has a registration gauge")
	}

	// Every metric the sample dashboard queries exists.
	dash, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`callgate_[a-z_]+`).FindAllString(string(dash), -1) {
		if !strings.Contains(text, "\n"+name) && !strings.Contains(text, "# TYPE "+strings.TrimSuffix(name, "_bucket")+" ") {
			t.Errorf("dashboard queries %s, which callgate does not export", name)
		}
	}
}
