package web

import (
	"math"
	"net/http"
	"strconv"

	"callgate/routing"

	"github.com/prometheus/client_golang/prometheus"
)

// This file holds the number pools on the business API, and their metrics:
//
//	GET /v1/pools          every virtual pool's numbers, score, weight and why
//	GET /v1/pools/{name}   one pool
//	PUT /v1/pools/{name}   set its weight, or drain it
//
// Pools are ordered for each new binding by their score (routing.PoolBoard); like
// trunks, they serve every tenant's traffic, so only an app acting for every tenant
// (tenants ["*"]) may read or change them.

// PoolBoard is what the pool endpoints and the binding allocation need;
// *routing.PoolBoard is one.
type PoolBoard interface {
	Scores() []routing.PoolScore
	SetControl(name string, c routing.PoolControl) bool
	// Order orders a policy's pools for a new binding, best first, leaving out the
	// pools that give none. It must not block.
	Order(pools []string) []string
}

var _ PoolBoard = (*routing.PoolBoard)(nil)

// PoolList answers GET /v1/pools.
type PoolList struct {
	Pools []routing.PoolScore `json:"pools"`
}

// PoolPatch is the body of PUT /v1/pools/{name}; fields left out keep their value.
type PoolPatch struct {
	// Weight scales the pool's score (0 to 1000; 0 means the default 1).
	Weight  *float64 `json:"weight"`
	Drained *bool    `json:"drained"`
}

// routePools registers the pool endpoints (NewInternal calls it).
func (h *Internal) routePools(b PoolBoard) {
	if b == nil {
		return
	}
	h.pools = b
	h.mux.HandleFunc("/v1/pools", h.api(h.poolList))
	h.mux.HandleFunc("/v1/pools/{name}", h.api(h.pool))
}

// orderPools orders a policy's pools for a new binding (as they are without a board).
func (h *Internal) orderPools(pools []string) []string {
	if h.pools == nil {
		return pools
	}
	return h.pools.Order(pools)
}

// poolsAllowed refuses apps that do not act for every tenant.
func poolsAllowed(c *apiCall) error {
	if c.app.all {
		return nil
	}
	return &requestError{status: http.StatusForbidden, code: "pools_not_allowed",
		msg: "app " + strconv.Quote(c.app.name) + " may not see or change pools: they serve every tenant, which takes an app with tenants [\"*\"]"}
}

func (h *Internal) poolList(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	if err := poolsAllowed(c); err != nil {
		return err
	}
	list := PoolList{Pools: h.pools.Scores()}
	if list.Pools == nil {
		list.Pools = []routing.PoolScore{}
	}
	writeJSON(c.w, http.StatusOK, list)
	return nil
}

func (h *Internal) pool(c *apiCall) error {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodPut {
		return methodNotAllowed(c.r.Method, "GET, PUT")
	}
	if err := poolsAllowed(c); err != nil {
		return err
	}
	name := c.r.PathValue("name")
	s, ok := h.poolScore(name)
	if !ok {
		return &requestError{status: http.StatusNotFound, code: "not_found", msg: "no virtual pool " + strconv.Quote(truncate(name, 64))}
	}
	if c.r.Method == http.MethodGet {
		writeJSON(c.w, http.StatusOK, s)
		return nil
	}
	var p PoolPatch
	if err := decodeJSON(c.body, &p); err != nil {
		return err
	}
	ctl := routing.PoolControl{Weight: s.Weight, Drained: s.Drained}
	if p.Weight != nil {
		w := *p.Weight
		if math.IsNaN(w) || w < 0 || w > 1000 {
			return badField("weight", "must be from 0 to 1000 (0: the default 1; to stop new bindings, set drained), got %g", w)
		}
		ctl.Weight = w
	}
	if p.Drained != nil {
		ctl.Drained = *p.Drained
	}
	if !h.pools.SetControl(name, ctl) {
		return &requestError{status: http.StatusNotFound, code: "not_found", msg: "no virtual pool " + strconv.Quote(truncate(name, 64))}
	}
	s, _ = h.poolScore(name)
	writeJSON(c.w, http.StatusOK, s)
	return nil
}

// poolScore finds one pool's standing.
func (h *Internal) poolScore(name string) (routing.PoolScore, bool) {
	for _, s := range h.pools.Scores() {
		if s.Pool == name {
			return s, true
		}
	}
	return routing.PoolScore{}, false
}

// PoolScores lists the pools' standings; *routing.PoolBoard is one.
type PoolScores interface {
	Scores() []routing.PoolScore
}

// PoolCollector exports every pool's numbers and score to Prometheus at scrape time
// (register it with Metrics.Register).
type PoolCollector struct {
	src                          PoolScores
	remaining, total, blocked    *prometheus.Desc
	score, weight, takesBindings *prometheus.Desc
}

var _ prometheus.Collector = (*PoolCollector)(nil)

// NewPoolCollector returns the collector of src's pools.
func NewPoolCollector(src PoolScores) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"pool", "supplier"}, nil)
	}
	return &PoolCollector{src: src,
		remaining:     d("callgate_pool_numbers_remaining", "Available numbers of the pool that a new binding could still use."),
		total:         d("callgate_pool_numbers_total", "Numbers of the pool, retired ones left out."),
		blocked:       d("callgate_pool_numbers_blocked", "Numbers of the pool its supplier has blocked."),
		score:         d("callgate_pool_score", "The pool's allocation score: weight × answer ratio of its best trunk × room."),
		weight:        d("callgate_pool_weight", "The pool's manual weight."),
		takesBindings: d("callgate_pool_takes_bindings", "1 when the pool gives new bindings (not drained, weight not negative)."),
	}
}

// Describe sends the descriptors.
func (p *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.remaining, p.total, p.blocked, p.score, p.weight, p.takesBindings} {
		ch <- d
	}
}

// Collect sends every pool's gauges.
func (p *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range p.src.Scores() {
		takes := 0.0
		if s.Takes {
			takes = 1
		}
		for _, m := range []struct {
			d *prometheus.Desc
			v float64
		}{{p.remaining, float64(s.Remaining)}, {p.total, float64(s.Total)}, {p.blocked, float64(s.Blocked)},
			{p.score, s.Score}, {p.weight, s.Weight}, {p.takesBindings, takes}} {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.GaugeValue, m.v, s.Pool, s.Supplier)
		}
	}
}
