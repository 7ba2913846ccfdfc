package routing

import (
	"errors"
	"testing"
	"time"

	"callgate/pool"
)

// A caller number its supplier blocks takes no call from the next selection on,
// and serves again once restored; a number the router does not know is ignored.
func TestSupplierReportParksAndFreesANumber(t *testing.T) {
	p := acmePlan()
	fixedOnly(fixA)(&p)
	r, _, clock := newTestRouter(t, p)
	if !r.SupplierReport(fixA, pool.SupplierRestUntil, pool.SupplierRestPrefix+"blocked") {
		t.Fatal("the router does not know its own number")
	}
	_, err := r.Route(t.Context(), OutboundCall{Tenant: "acme", To: xx(1)})
	if !errors.Is(err, ErrNoCallerNumber) {
		t.Fatalf("a call with the only number blocked: %v, want ErrNoCallerNumber", err)
	}
	ex, err := r.Explain(t.Context(), "acme", xx(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Candidates) != 1 || ex.Candidates[0].Reason != SkipResting {
		t.Errorf("explain while blocked: %+v, want the number skipped as resting", ex.Candidates)
	}
	clock.Add(time.Hour) // a block does not wear off
	if _, err := r.Route(t.Context(), OutboundCall{Tenant: "acme", To: xx(2)}); !errors.Is(err, ErrNoCallerNumber) {
		t.Fatalf("an hour later: %v, want still blocked", err)
	}
	r.SupplierReport(fixA, 0, "")
	if d := route(t, r, xx(3)); d.From != fixA {
		t.Fatalf("restored number: got %s", d.From)
	}
	if r.SupplierReport("+8675599999999", pool.SupplierRestUntil, "x") {
		t.Error("an unknown number was reported as known")
	}
}
