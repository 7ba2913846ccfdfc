package web

import (
	"context"
	"net/http"
	"time"

	"callgate/pool"
)

// This file holds what a tenant's calls cost on the business API:
//
//	GET /v1/tenants/{tenant}/cost?since=…&until=…
//
// Each call record carries its cost, computed when the call ended from its billed
// seconds and its trunk's tariff (rate_per_minute, billing_increment); this sums
// them over the calls set up in a window.

// CostStore sums call costs; *pool.SQLiteStore is one.
type CostStore interface {
	CostOf(ctx context.Context, q pool.CostQuery) (pool.CostSummary, error)
}

var _ CostStore = (*pool.SQLiteStore)(nil)

// CostReport answers GET /v1/tenants/{tenant}/cost.
type CostReport struct {
	Tenant string    `json:"tenant"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	CostTotals
	// Trunks has a line per trunk that carried calls, by name; "" holds the calls
	// refused before any trunk was tried.
	Trunks []TrunkCost `json:"trunks"`
}

// CostTotals sums a set of calls.
type CostTotals struct {
	Calls     int64 `json:"calls"`
	Answered  int64 `json:"answered"`
	BilledSec int64 `json:"billed_seconds"`
	// CostMilli is in thousandths of the currency unit; Cost the same as a decimal.
	CostMilli int64  `json:"cost_milli"`
	Cost      string `json:"cost"`
}

// TrunkCost is the calls of one trunk.
type TrunkCost struct {
	Trunk string `json:"trunk"`
	CostTotals
}

// cost serves GET /v1/tenants/{tenant}/cost.
func (h *Internal) cost(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	tenant, err := pathTenant(c)
	if err != nil {
		return err
	}
	q, err := queryParams(c, "since", "until")
	if err != nil {
		return err
	}
	if q.Get("since") == "" {
		return badField("since", "is required: the start of the window, RFC 3339 or unix seconds")
	}
	since, until, err := window(q, c.now.UTC().Truncate(time.Millisecond))
	if err != nil {
		return err
	}
	sum, err := h.outbound.Costs.CostOf(c.ctx, pool.CostQuery{Tenant: tenant, Since: since, Until: until})
	if err != nil {
		return err
	}
	out := CostReport{Tenant: tenant, Since: since, Until: until, CostTotals: costTotals(sum.Total),
		Trunks: make([]TrunkCost, 0, len(sum.Trunks))}
	for _, l := range sum.Trunks {
		out.Trunks = append(out.Trunks, TrunkCost{Trunk: l.Trunk, CostTotals: costTotals(l)})
	}
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

func costTotals(l pool.CostLine) CostTotals {
	return CostTotals{Calls: l.Calls, Answered: l.Answered, BilledSec: l.BilledSec, CostMilli: l.CostMilli,
		Cost: milliText(l.CostMilli)}
}
