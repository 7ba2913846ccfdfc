package routing

import (
	"testing"
	"time"
)

// LeasesHeld counts the numbers locked by calls in progress: a release or an expiry
// unlocks one.
func TestLeasesHeld(t *testing.T) {
	p := acmePlan()
	fixedOnly(fixA, fixB)(&p)
	r, _, clock := newTestRouter(t, p)
	if n := r.LeasesHeld(); n != 0 {
		t.Fatalf("%d leases held before any call", n)
	}
	first := route(t, r, xx(1))
	second := route(t, r, xx(2))
	if first.From == second.From {
		t.Fatalf("two calls share %s", first.From)
	}
	if n := r.LeasesHeld(); n != 2 {
		t.Fatalf("%d leases held by two calls, want 2", n)
	}
	first.Lease.Release(OutcomeAnswered)
	if n := r.LeasesHeld(); n != 1 {
		t.Fatalf("%d leases held after a release, want 1", n)
	}
	clock.Add(2 * time.Minute) // past the unrenewed lease
	if n := r.LeasesHeld(); n != 0 {
		t.Fatalf("%d leases held after the lease expired, want 0", n)
	}
	second.Lease.Release(OutcomeAnswered)
}
