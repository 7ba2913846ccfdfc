package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"callgate/pool"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TrunkGauge is a trunk's live state for the metrics.
type TrunkGauge struct {
	Name       string
	Active     int64
	Registered *bool // nil: no registration either way between callgate and the trunk
	// State is the trunk's state for new calls (up, degraded, down, drained,
	// disabled); "" when trunks are not scored. Score and ASR go with it.
	State      string
	Score, ASR float64
}

// trunkStates are the values of callgate_trunk_state's state label.
var trunkStates = [...]string{"up", "degraded", "down", "drained", "disabled"}

// SeatGauge is a tenant's seats for the metrics.
type SeatGauge struct {
	Tenant      string
	Used, Total int
}

// MetricsSources are snapshot functions the metrics read at every scrape. Any may be
// nil.
type MetricsSources struct {
	ActiveCalls func() int
	Trunks      func() []TrunkGauge
	Ports       func() (inUse, capacity int)
	Sessions    func() int
	Seats       func() []SeatGauge
	// LeasesHeld is the caller numbers locked by calls in progress. (The pools'
	// numbers and scores are PoolCollector's, api_pools.go.)
	LeasesHeld func() int
}

// Metrics is callgate's Prometheus registry: counters fed by finished calls, gauges
// read from the running parts at scrape time, and the Go process metrics.
type Metrics struct {
	reg     *prometheus.Registry
	calls   *prometheus.CounterVec
	billed  *prometheus.CounterVec
	setup   *prometheus.HistogramVec
	pdd     *prometheus.HistogramVec
	packets *prometheus.CounterVec
	lost    *prometheus.CounterVec
	jitter  *prometheus.HistogramVec
	loss    *prometheus.HistogramVec
}

// NewMetrics builds the registry.
func NewMetrics(src MetricsSources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callgate_calls_total", Help: "Finished calls by direction, trunk, final SIP code class and result.",
	}, []string{"direction", "trunk", "code", "result"})
	m.billed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callgate_billed_seconds_total", Help: "Billed seconds of answered calls.",
	}, []string{"direction", "trunk"})
	m.setup = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "callgate_setup_seconds", Help: "Time callgate took from a call's arrival to sending the callee's INVITE.",
		Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .025, .05, .1, .25},
	}, []string{"direction"})
	m.pdd = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "callgate_post_dial_delay_seconds", Help: "Time from a call's arrival to the callee ringing.",
		Buckets: []float64{.1, .25, .5, 1, 2, 3, 5, 8, 13, 20, 30},
	}, []string{"trunk"})
	m.packets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callgate_rtp_packets_total", Help: "RTP packets of finished calls by leg (a: caller or agent, b: callee) and direction.",
	}, []string{"leg", "dir"})
	m.lost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callgate_rtp_packets_lost_total", Help: "RTP packets of finished calls that a SIP leg expected (by sequence number) and never received, by leg.",
	}, []string{"leg"})
	m.jitter = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "callgate_rtp_jitter_seconds", Help: "Interarrival jitter (RFC 3550) of the RTP a SIP leg received, at the end of each call, by leg.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .03, .05, .08, .12, .2},
	}, []string{"leg"})
	m.loss = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "callgate_rtp_loss_ratio", Help: "Share of the RTP packets a SIP leg expected that never arrived, per call, by leg.",
		Buckets: []float64{0, .001, .005, .01, .02, .05, .1, .2, .5},
	}, []string{"leg"})
	for _, leg := range []string{"a", "b"} { // shown (as 0) before the first call ends
		m.lost.WithLabelValues(leg)
		m.jitter.WithLabelValues(leg)
		m.loss.WithLabelValues(leg)
	}
	m.reg.MustRegister(m.calls, m.billed, m.setup, m.pdd, m.packets, m.lost, m.jitter, m.loss,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&gauges{src: src})
	return m
}

// CallEnded counts a finished call (sip.CallObserver).
func (m *Metrics) CallEnded(rec pool.Call, setup time.Duration) {
	dir := string(rec.Direction)
	result := "failed"
	switch {
	case !rec.AnswerAt.IsZero():
		result = "answered"
	case rec.Reason == "cancel":
		result = "canceled"
	case rec.Reason == "no_answer":
		result = "no_answer"
	}
	class := "none"
	if rec.SIPCode > 0 {
		class = strconv.Itoa(rec.SIPCode/100) + "xx"
	}
	m.calls.WithLabelValues(dir, rec.OutTrunk, class, result).Inc()
	if rec.BilledSec > 0 {
		m.billed.WithLabelValues(dir, rec.OutTrunk).Add(float64(rec.BilledSec))
	}
	if setup > 0 {
		m.setup.WithLabelValues(dir).Observe(setup.Seconds())
	}
	if !rec.RingAt.IsZero() && rec.RingAt.After(rec.SetupAt) {
		m.pdd.WithLabelValues(rec.OutTrunk).Observe(rec.RingAt.Sub(rec.SetupAt).Seconds())
	}
	m.packets.WithLabelValues("a", "in").Add(float64(rec.PacketsFromA))
	m.packets.WithLabelValues("a", "out").Add(float64(rec.PacketsToA))
	m.packets.WithLabelValues("b", "in").Add(float64(rec.PacketsFromB))
	m.packets.WithLabelValues("b", "out").Add(float64(rec.PacketsToB))
}

// LegQuality counts the receive quality of one RTP leg of a finished call: the
// packets it received and lost, and its jitter at the end. leg is "a" (the
// caller's) or "b" (the callee's). A leg that received nothing is not observed.
func (m *Metrics) LegQuality(leg string, received, lost uint64, jitter time.Duration) {
	if received == 0 && lost == 0 {
		return
	}
	m.lost.WithLabelValues(leg).Add(float64(lost))
	m.jitter.WithLabelValues(leg).Observe(jitter.Seconds())
	m.loss.WithLabelValues(leg).Observe(float64(lost) / float64(received+lost))
}

// Register adds another part's collector (the event callbacks' delivery counters,
// for one) to the registry.
func (m *Metrics) Register(c prometheus.Collector) error {
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register: %w", err)
	}
	return nil
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// gauges reads the live state at scrape time.
type gauges struct{ src MetricsSources }

var (
	descActive     = prometheus.NewDesc("callgate_calls_active", "Calls in progress.", nil, nil)
	descTrunkCalls = prometheus.NewDesc("callgate_trunk_calls_active", "Calls in progress per trunk.", []string{"trunk"}, nil)
	descTrunkReg   = prometheus.NewDesc("callgate_trunk_registered", "1 when the trunk's registration is current: callgate's to the trunk (register), or the trunk's to callgate (registers_to_us).", []string{"trunk"}, nil)
	descTrunkState = prometheus.NewDesc("callgate_trunk_state", "1 for the trunk's state for new calls (up, degraded, down, drained, disabled), 0 for the others.", []string{"trunk", "state"}, nil)
	descTrunkScore = prometheus.NewDesc("callgate_trunk_score", "The trunk's failover score: weight × answer ratio × delay factor; 0 when it takes no calls.", []string{"trunk"}, nil)
	descTrunkASR   = prometheus.NewDesc("callgate_trunk_asr", "The trunk's decayed answer-seizure ratio of recent calls.", []string{"trunk"}, nil)
	descPorts      = prometheus.NewDesc("callgate_rtp_ports_in_use", "RTP ports held by calls (and cooling down).", nil, nil)
	descPortsCap   = prometheus.NewDesc("callgate_rtp_ports_capacity", "RTP ports in the configured range.", nil, nil)
	descSessions   = prometheus.NewDesc("callgate_agent_sessions", "Agents' websocket sessions.", nil, nil)
	descSeatsUsed  = prometheus.NewDesc("callgate_seats_used", "Seats taken per tenant.", []string{"tenant"}, nil)
	descSeatsTotal = prometheus.NewDesc("callgate_seats_total", "Seats per tenant.", []string{"tenant"}, nil)
	descLeases     = prometheus.NewDesc("callgate_caller_leases_held", "Caller numbers locked by calls in progress.", nil, nil)
)

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActive, descTrunkCalls, descTrunkReg, descTrunkState, descTrunkScore, descTrunkASR, descPorts, descPortsCap, descSessions, descSeatsUsed, descSeatsTotal,
		descLeases} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	s := g.src
	if s.ActiveCalls != nil {
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(s.ActiveCalls()))
	}
	if s.Trunks != nil {
		for _, t := range s.Trunks() {
			ch <- prometheus.MustNewConstMetric(descTrunkCalls, prometheus.GaugeValue, float64(t.Active), t.Name)
			if t.Registered != nil {
				v := 0.0
				if *t.Registered {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descTrunkReg, prometheus.GaugeValue, v, t.Name)
			}
			if t.State != "" {
				for _, st := range trunkStates {
					v := 0.0
					if st == t.State {
						v = 1
					}
					ch <- prometheus.MustNewConstMetric(descTrunkState, prometheus.GaugeValue, v, t.Name, st)
				}
				ch <- prometheus.MustNewConstMetric(descTrunkScore, prometheus.GaugeValue, t.Score, t.Name)
				ch <- prometheus.MustNewConstMetric(descTrunkASR, prometheus.GaugeValue, t.ASR, t.Name)
			}
		}
	}
	if s.Ports != nil {
		inUse, capacity := s.Ports()
		ch <- prometheus.MustNewConstMetric(descPorts, prometheus.GaugeValue, float64(inUse))
		ch <- prometheus.MustNewConstMetric(descPortsCap, prometheus.GaugeValue, float64(capacity))
	}
	if s.Sessions != nil {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(s.Sessions()))
	}
	if s.Seats != nil {
		for _, st := range s.Seats() {
			ch <- prometheus.MustNewConstMetric(descSeatsUsed, prometheus.GaugeValue, float64(st.Used), st.Tenant)
			ch <- prometheus.MustNewConstMetric(descSeatsTotal, prometheus.GaugeValue, float64(st.Total), st.Tenant)
		}
	}
	if s.LeasesHeld != nil {
		ch <- prometheus.MustNewConstMetric(descLeases, prometheus.GaugeValue, float64(s.LeasesHeld()))
	}
}
