package web

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"callgate/routing"
)

// This file holds the trunks on the business API:
//
//	GET /v1/trunks          every trunk's state, score and why
//	GET /v1/trunks/{name}   one trunk
//	PUT /v1/trunks/{name}   set its weight, drain or disable it
//
// Trunks serve every tenant, so only an app acting for every tenant (tenants ["*"])
// may read or change them.

// TrunkBoard is what the trunk endpoints need: the trunks as failover sees them, and
// their manual control (cmd/callgate joins the SIP edge and the scoreboard into one).
type TrunkBoard interface {
	TrunkViews() []TrunkView
	// SetTrunkControl sets a trunk's weight, drain and disable; false: no such trunk.
	SetTrunkControl(name string, c routing.TrunkControl) bool
}

// TrunkView is one trunk on the API.
type TrunkView struct {
	Name     string `json:"name"`
	Supplier string `json:"supplier,omitempty"`
	// State is up, degraded, down, drained or disabled; only up and degraded trunks
	// take new calls, degraded ones after every up one.
	State string `json:"state"`
	// Why says what decided State.
	Why   string    `json:"why"`
	Since time.Time `json:"since"`
	// Score orders trunks of one state for failover (weight × answer ratio × delay).
	Score float64 `json:"score"`
	// ASR is the decayed answer-seizure ratio of recent calls, over Seizures calls.
	ASR      float64 `json:"asr"`
	Seizures float64 `json:"seizures"`
	Answers  float64 `json:"answers"`
	// PDDMillis is the decayed mean post-dial delay.
	PDDMillis int64   `json:"pdd_ms"`
	Weight    float64 `json:"weight"`
	Drained   bool    `json:"drained"`
	Disabled  bool    `json:"disabled"`
	// Active is the trunk's calls in progress.
	Active int64     `json:"active"`
	Probe  ProbeView `json:"probe"`
}

// ProbeView is what a trunk's OPTIONS probes found.
type ProbeView struct {
	State     string     `json:"state"` // off, up or down
	LastAt    *time.Time `json:"last_at"`
	LastCode  int        `json:"last_code"`
	LastError string     `json:"last_error,omitempty"`
	RTTMillis int64      `json:"rtt_ms"`
}

// TrunkList answers GET /v1/trunks.
type TrunkList struct {
	Trunks []TrunkView `json:"trunks"`
}

// TrunkPatch is the body of PUT /v1/trunks/{name}; fields left out keep their value.
type TrunkPatch struct {
	// Weight scales the trunk's score (0 to 1000; 0 means the default 1).
	Weight   *float64 `json:"weight"`
	Drained  *bool    `json:"drained"`
	Disabled *bool    `json:"disabled"`
}

// routeTrunks registers the trunk endpoints (NewInternal calls it).
func (h *Internal) routeTrunks(b TrunkBoard) {
	if b == nil {
		return
	}
	h.trunks = b
	h.mux.HandleFunc("/v1/trunks", h.api(h.trunkList))
	h.mux.HandleFunc("/v1/trunks/{name}", h.api(h.trunk))
	h.mux.HandleFunc("/v1/suppliers/{name}", h.api(h.supplier))
}

// trunksAllowed refuses apps that do not act for every tenant.
func trunksAllowed(c *apiCall) error {
	if c.app.all {
		return nil
	}
	return &requestError{status: http.StatusForbidden, code: "trunks_not_allowed",
		msg: "app " + strconv.Quote(c.app.name) + " may not see or change trunks: they serve every tenant, which takes an app with tenants [\"*\"]"}
}

func (h *Internal) trunkList(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	if err := trunksAllowed(c); err != nil {
		return err
	}
	list := TrunkList{Trunks: h.trunks.TrunkViews()}
	if list.Trunks == nil {
		list.Trunks = []TrunkView{}
	}
	writeJSON(c.w, http.StatusOK, list)
	return nil
}

func (h *Internal) trunk(c *apiCall) error {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodPut {
		return methodNotAllowed(c.r.Method, "GET, PUT")
	}
	if err := trunksAllowed(c); err != nil {
		return err
	}
	name := c.r.PathValue("name")
	view, ok := h.trunkView(name)
	if !ok {
		return &requestError{status: http.StatusNotFound, code: "not_found", msg: "no trunk " + strconv.Quote(name)}
	}
	if c.r.Method == http.MethodGet {
		writeJSON(c.w, http.StatusOK, view)
		return nil
	}
	var p TrunkPatch
	if err := decodeJSON(c.body, &p); err != nil {
		return err
	}
	ctl := routing.TrunkControl{Weight: view.Weight, Drained: view.Drained, Disabled: view.Disabled}
	if p.Weight != nil {
		w := *p.Weight
		if math.IsNaN(w) || w < 0 || w > 1000 {
			return badField("weight", "must be from 0 to 1000 (0: the default 1; to stop calls, set disabled), got %g", w)
		}
		ctl.Weight = w
	}
	if p.Drained != nil {
		ctl.Drained = *p.Drained
	}
	if p.Disabled != nil {
		ctl.Disabled = *p.Disabled
	}
	if !h.trunks.SetTrunkControl(name, ctl) {
		return &requestError{status: http.StatusNotFound, code: "not_found", msg: "no trunk " + strconv.Quote(name)}
	}
	view, _ = h.trunkView(name)
	writeJSON(c.w, http.StatusOK, view)
	return nil
}

// trunkView finds one trunk's view.
func (h *Internal) trunkView(name string) (TrunkView, bool) {
	for _, v := range h.trunks.TrunkViews() {
		if v.Name == name {
			return v, true
		}
	}
	return TrunkView{}, false
}
