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
	m.reg.MustRegister(m.calls, m.billed, m.setup, m.pdd, m.packets,
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
)

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActive, descTrunkCalls, descTrunkReg, descTrunkState, descTrunkScore, descTrunkASR, descPorts, descPortsCap, descSessions, descSeatsUsed, descSeatsTotal} {
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
}
