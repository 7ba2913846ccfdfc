package web

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The legs' loss and jitter and the locked caller numbers are exported as counted.
func TestMetricsLegQualityAndLeases(t *testing.T) {
	leases := 3
	m := NewMetrics(MetricsSources{
		LeasesHeld: func() int { return leases },
	})
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	before := scrape()
	for _, want := range []string{
		`callgate_rtp_packets_lost_total{leg="a"} 0`,
		`callgate_rtp_jitter_seconds_count{leg="b"} 0`,
		`callgate_caller_leases_held 3`,
	} {
		if !strings.Contains(before, want+"\n") {
			t.Errorf("scrape before any call lacks %s", want)
		}
	}

	m.LegQuality("b", 95, 5, 12*time.Millisecond) // 5 of 100 lost
	m.LegQuality("b", 100, 0, 3*time.Millisecond)
	m.LegQuality("a", 0, 0, 0) // heard nothing: not observed
	leases = 0
	after := scrape()
	for _, want := range []string{
		`callgate_rtp_packets_lost_total{leg="b"} 5`,
		`callgate_rtp_jitter_seconds_count{leg="b"} 2`,
		`callgate_rtp_jitter_seconds_sum{leg="b"} 0.015`,
		`callgate_rtp_jitter_seconds_bucket{leg="b",le="0.005"} 1`,
		`callgate_rtp_jitter_seconds_bucket{leg="b",le="0.02"} 2`,
		`callgate_rtp_loss_ratio_count{leg="b"} 2`,
		`callgate_rtp_loss_ratio_bucket{leg="b",le="0"} 1`,
		`callgate_rtp_loss_ratio_bucket{leg="b",le="0.02"} 1`,
		`callgate_rtp_loss_ratio_bucket{leg="b",le="0.05"} 2`,
		`callgate_rtp_jitter_seconds_count{leg="a"} 0`,
		`callgate_caller_leases_held 0`,
	} {
		if !strings.Contains(after, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
