package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"callgate/routing"
)

// This file holds caller-number selection explained on the business API:
//
//	GET /v1/tenants/{tenant}/explain?callee=…
//
// It says which of the tenant's caller numbers a call to the callee would get now and
// why each other number would not, without reserving or counting anything.

// CallerExplainer explains caller-number selection; *routing.Outbound is one.
type CallerExplainer interface {
	Explain(ctx context.Context, tenant, callee string) (routing.Explanation, error)
}

var _ CallerExplainer = (*routing.Outbound)(nil)

// CallerExplanation answers GET /v1/tenants/{tenant}/explain.
type CallerExplanation struct {
	Tenant string     `json:"tenant"`
	Callee CalleeInfo `json:"callee"`
	At     time.Time  `json:"at"`
	// Strategy is the order of steps applied ("certified/city", …), after
	// escalation; EscalatedFrom is the kind of number the callee's last, unanswered
	// call came from, when that changed the order.
	Strategy      []string `json:"strategy"`
	EscalatedFrom string   `json:"escalated_from,omitempty"`
	// CalleeCallsToday counts the tenant's calls to the callee today, against
	// CalleeCap (0: no cap).
	CalleeCallsToday int `json:"callee_calls_today"`
	CalleeCap        int `json:"callee_cap"`
	// Refused is set when a call now would be refused whatever the numbers.
	Refused *Refusal `json:"refused,omitempty"`
	// Chosen is the number a call now would get; "" if none.
	Chosen string `json:"chosen"`
	// Candidates holds every caller number of the tenant: those a step allows in
	// the order selection tries them, then the others.
	Candidates []CandidateVerdict `json:"candidates"`
}

// CalleeInfo is the callee as callgate reads it.
type CalleeInfo struct {
	E164       string `json:"e164"`
	Region     string `json:"region"`
	Type       string `json:"type"`
	City       string `json:"city,omitempty"`
	Province   string `json:"province,omitempty"`
	CityZH     string `json:"city_zh,omitempty"`
	ProvinceZH string `json:"province_zh,omitempty"`
	Carrier    string `json:"carrier,omitempty"`
	CarrierZH  string `json:"carrier_zh,omitempty"`
}

// Refusal says why a call would be refused before any number is looked at.
type Refusal struct {
	Reason  string `json:"reason"` // do_not_call or callee_capped
	Message string `json:"message"`
}

// CandidateVerdict is what selection makes of one caller number.
type CandidateVerdict struct {
	Number string   `json:"number"`
	Kind   string   `json:"kind"`
	Pool   string   `json:"pool,omitempty"`
	Trunks []string `json:"trunks"`
	// Step is the first strategy step that allows the number for this callee.
	Step string `json:"step,omitempty"`
	// Status is chosen, eligible (free, but later in the order) or skipped.
	Status string `json:"status"`
	// Reason says why a skipped number was skipped: locked, resting,
	// caller_hour_cap, caller_day_cap, pair_cap or no_rule; Until when that ends, if
	// known; Detail in words.
	Reason   string     `json:"reason,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
	Detail   string     `json:"detail,omitempty"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// explain serves GET /v1/tenants/{tenant}/explain.
func (h *Internal) explain(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	tenant, err := pathTenant(c)
	if err != nil {
		return err
	}
	q, err := queryParams(c, "callee")
	if err != nil {
		return err
	}
	callee := q.Get("callee")
	if callee == "" {
		return badField("callee", "is required: the number to call, in any format")
	}
	ex, err := h.outbound.Explainer.Explain(c.ctx, tenant, callee)
	if err != nil {
		var ne *routing.NumberError
		if errors.As(err, &ne) {
			return numberProblem("callee", err)
		}
		return routingProblem(err)
	}
	writeAPIJSON(c.w, http.StatusOK, wireExplanation(ex))
	return nil
}

func wireExplanation(ex routing.Explanation) CallerExplanation {
	cal := ex.Callee
	out := CallerExplanation{
		Tenant: ex.Tenant, At: ex.At, Strategy: ex.Strategy, EscalatedFrom: string(ex.EscalatedFrom),
		Callee: CalleeInfo{E164: cal.E164, Region: cal.Region, Type: string(cal.Type), City: cal.City, Province: cal.Province,
			CityZH: cal.CityZH, ProvinceZH: cal.ProvinceZH, Carrier: cal.Carrier, CarrierZH: cal.CarrierZH},
		CalleeCallsToday: ex.CalleeCallsToday, CalleeCap: ex.CalleeCap, Chosen: ex.Chosen,
		Candidates: make([]CandidateVerdict, 0, len(ex.Candidates)),
	}
	if out.Strategy == nil {
		out.Strategy = []string{}
	}
	if ex.Refused != nil {
		r := &Refusal{Reason: "refused", Message: ex.Refused.Error()}
		var re *routing.RefusedError
		if errors.As(ex.Refused, &re) {
			r.Message = re.Detail
		}
		switch {
		case errors.Is(ex.Refused, routing.ErrDoNotCall):
			r.Reason = "do_not_call"
		case errors.Is(ex.Refused, routing.ErrCalleeCapped):
			r.Reason = "callee_capped"
		}
		out.Refused = r
	}
	for _, v := range ex.Candidates {
		w := CandidateVerdict{Number: v.Number, Kind: string(v.Kind), Pool: v.Pool, Trunks: v.Trunks, Step: v.Step,
			Status: v.Status, Reason: string(v.Reason), Until: timeOrNil(v.Until), Detail: v.Detail,
			LastUsed: timeOrNil(v.LastUsed)}
		if w.Trunks == nil {
			w.Trunks = []string{}
		}
		out.Candidates = append(out.Candidates, w)
	}
	return out
}
