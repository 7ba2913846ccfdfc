package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// metricsVirtualPool is a virtual pool of two numbers for the metrics test's rig.
const metricsVirtualPool = `  - name: acme-virtual
    supplier: c
    type: virtual
    tenant: acme
    trunks: [carrier]
    numbers: ["+8675500000101", "+8675500000102"]
`

// scrape reads base's /metrics into series → value ("name{labels}" as exported,
// labels sorted).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The Show: after one scripted call through the whole server (an agent's
// browser played by pion, the demo carrier), the counters and histograms hold that
// call: one answered call, one setup latency and one post-dial delay, the RTP
// packets of both legs as in the call's record, the carrier leg's loss and jitter
// once; the gauges show the agent's seat and session, the caller number locked
// during the call and free after it, and the virtual pool's numbers.
func TestMetricsAfterACall(t *testing.T) {
	r := newAgentRig(t, 2, metricsVirtualPool)
	m := scrape(t, r.base)
	for series, want := range map[string]float64{
		`callgate_agent_sessions`:                                           0,
		`callgate_calls_active`:                                             0,
		`callgate_caller_leases_held`:                                       0,
		`callgate_seats_total{tenant="acme"}`:                               2,
		`callgate_pool_numbers_total{pool="acme-virtual",supplier="c"}`:     2,
		`callgate_pool_numbers_remaining{pool="acme-virtual",supplier="c"}`: 2,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("before the call: %s = %v (exported: %v), want %v", series, got, ok, want)
		}
	}

	a := newGoAgent(t, r.base, agentToken)
	id := a.dial("+8613900000002")
	a.state("connected")
	eventually(t, "a second of audio each way", func() bool {
		calls := r.carrier.Calls()
		return len(calls) == 1 && len(calls[0].Heard()) >= 8000 && len(a.heardSamples()) >= 8000
	})
	m = scrape(t, r.base)
	for series, want := range map[string]float64{
		`callgate_calls_active`:                        1,
		`callgate_caller_leases_held`:                  1,
		`callgate_agent_sessions`:                      1,
		`callgate_seats_used{tenant="acme"}`:           1,
		`callgate_trunk_calls_active{trunk="carrier"}`: 1,
	} {
		if got := m[series]; got != want {
			t.Errorf("during the call: %s = %v, want %v", series, got, want)
		}
	}
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended") // sent after the observers counted the call
	rec := r.record(t, id)

	m = scrape(t, r.base)
	for series, want := range map[string]float64{
		`callgate_calls_total{code="2xx",direction="outbound",result="answered",trunk="carrier"}`: 1,
		`callgate_billed_seconds_total{direction="outbound",trunk="carrier"}`:                     float64(rec.BilledSec),
		`callgate_setup_seconds_count{direction="outbound"}`:                                      1,
		`callgate_post_dial_delay_seconds_count{trunk="carrier"}`:                                 1,
		`callgate_rtp_packets_total{dir="in",leg="a"}`:                                            float64(rec.PacketsFromA),
		`callgate_rtp_packets_total{dir="out",leg="a"}`:                                           float64(rec.PacketsToA),
		`callgate_rtp_packets_total{dir="in",leg="b"}`:                                            float64(rec.PacketsFromB),
		`callgate_rtp_packets_total{dir="out",leg="b"}`:                                           float64(rec.PacketsToB),
		`callgate_rtp_jitter_seconds_count{leg="b"}`:                                              1,
		`callgate_rtp_loss_ratio_count{leg="b"}`:                                                  1,
		`callgate_rtp_jitter_seconds_count{leg="a"}`:                                              0, // the browser leg: not measured
		`callgate_calls_active`:                                                                   0,
		`callgate_caller_leases_held`:                                                             0,
		`callgate_agent_sessions`:                                                                 1,
		`callgate_seats_used{tenant="acme"}`:                                                      1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("after the call: %s = %v (exported: %v), want %v", series, got, ok, want)
		}
	}
	if len(m) == 0 || rec.PacketsFromA < 40 || rec.PacketsToA < 40 || rec.PacketsFromB < 40 || rec.PacketsToB < 40 {
		t.Errorf("a second of audio each way, but the record counts %d/%d packets from/to A, %d/%d from/to B",
			rec.PacketsFromA, rec.PacketsToA, rec.PacketsFromB, rec.PacketsToB)
	}
	if sum := m[`callgate_setup_seconds_sum{direction="outbound"}`]; sum <= 0 {
		t.Errorf("setup latency sum %v", sum)
	}
	if lost := m[`callgate_rtp_packets_lost_total{leg="b"}`]; lost < 0 || lost > float64(rec.PacketsFromB)/10 {
		t.Errorf("%v packets lost from the carrier on loopback, of %d received", lost, rec.PacketsFromB)
	}
	if n := m[`callgate_calls_total{code="2xx",direction="outbound",result="failed",trunk="carrier"}`]; n != 0 {
		t.Errorf("%v failed calls counted", n)
	}
}
