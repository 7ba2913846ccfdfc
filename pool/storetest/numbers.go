package storetest

import (
	"context"
	"testing"
	"time"

	"callgate/pool"
)

// NumberStates counts the virtual pools and takes the suppliers' reports on their
// numbers.
type NumberStates interface {
	PoolCounts(ctx context.Context) (map[string]pool.PoolCount, error)
	ReportNumber(ctx context.Context, supplier, number string, r pool.NumberReport) (pool.NumberStateChange, error)
}

func testPoolCountsAndReports(t *testing.T, open Opener) {
	clk := NewClock(t0)
	p1, p2 := virtualNumbers("p1", 1, 3), virtualNumbers("p2", 100, 2)
	s, m := openManaged(t, open, pool.BindingRules{MaxPerNumber: 1}, clk, append(p1, p2...))
	ns := need[NumberStates](t, s)
	ctx := ctxT(t)
	counts := func() map[string]pool.PoolCount {
		t.Helper()
		c, err := ns.PoolCounts(ctx)
		must(t, err)
		return c
	}
	if c := counts(); len(c) != 2 || c["p1"] != (pool.PoolCount{Total: 3, Remaining: 3}) || c["p2"] != (pool.PoolCount{Total: 2, Remaining: 2}) {
		t.Fatalf("counts at start: %+v", c)
	}
	mustCreate(t, m, axb(1, 1, "p1"))
	ch, err := ns.ReportNumber(ctx, "sup", p2[0].Number, pool.ReportBlocked)
	must(t, err)
	if ch.Before != "available" || ch.After != "blocked" || ch.Pool != "p2" || ch.Number != p2[0].Number {
		t.Fatalf("block: %+v", ch)
	}
	_, err = ns.ReportNumber(ctx, "sup", p1[2].Number, pool.ReportWithdrawn)
	must(t, err)
	if c := counts(); c["p1"] != (pool.PoolCount{Total: 2, Remaining: 1}) || c["p2"] != (pool.PoolCount{Total: 2, Remaining: 1, Blocked: 1}) {
		t.Fatalf("counts after a binding, a block and a withdrawal: %+v", c)
	}
	// The config still lists the withdrawn number: a sync (a restart) keeps it retired.
	must(t, need[Allocator](t, s).SyncVirtualNumbers(ctx, append(p1, p2...)))
	if c := counts(); c["p1"] != (pool.PoolCount{Total: 2, Remaining: 1}) {
		t.Fatalf("counts after a sync: %+v; want the withdrawn number still out", c)
	}
	// A blocked number is never allocated: p2 has one number left.
	b := mustCreate(t, m, axb(2, 2, "p2"))
	if b.Virtual != p2[1].Number {
		t.Fatalf("allocated %s, want the number not blocked %s", b.Virtual, p2[1].Number)
	}
	_, _, err = m.CreateBinding(ctx, axb(3, 3, "p2"))
	allocErr(t, err, pool.ErrNoNumber, pool.ReasonAllBusy)
	// A blocked number routes no call, even on the bindings it had; restored, it does.
	routes := func() int {
		t.Helper()
		bs, err := s.RouteBindings(ctx, b.Virtual, b.A, clk.Now())
		must(t, err)
		return len(bs)
	}
	if n := routes(); n != 1 {
		t.Fatalf("%d bindings route A's call to %s, want 1", n, b.Virtual)
	}
	_, err = ns.ReportNumber(ctx, "sup", b.Virtual, pool.ReportBlocked)
	must(t, err)
	if n := routes(); n != 0 {
		t.Fatalf("%d bindings route a call to blocked %s, want none", n, b.Virtual)
	}
	_, err = ns.ReportNumber(ctx, "sup", b.Virtual, pool.ReportRestored)
	must(t, err)
	if n := routes(); n != 1 {
		t.Fatalf("%d bindings route A's call to restored %s, want 1", n, b.Virtual)
	}
	// Restored: available again; a report that changes nothing succeeds.
	ch, err = ns.ReportNumber(ctx, "sup", p2[0].Number, pool.ReportRestored)
	must(t, err)
	if ch.Before != "blocked" || ch.After != "available" {
		t.Fatalf("restore: %+v", ch)
	}
	ch, err = ns.ReportNumber(ctx, "sup", p2[0].Number, pool.ReportRestored)
	if err != nil || ch.Before != "available" || ch.After != "available" {
		t.Fatalf("restore again: %+v %v", ch, err)
	}
	mustCreate(t, m, axb(3, 3, "p2"))
	// Restoring the withdrawn number brings it back, and a sync no longer retires it.
	_, err = ns.ReportNumber(ctx, "sup", p1[2].Number, pool.ReportRestored)
	must(t, err)
	must(t, need[Allocator](t, s).SyncVirtualNumbers(ctx, append(p1, p2...)))
	if c := counts(); c["p1"].Total != 3 {
		t.Fatalf("counts after restoring the withdrawn number: %+v", c)
	}
	// Another supplier's number, or none, is not found; an unknown report is invalid.
	_, err = ns.ReportNumber(ctx, "other", p2[0].Number, pool.ReportBlocked)
	wantErr(t, err, pool.ErrNotFound)
	_, err = ns.ReportNumber(ctx, "sup", "+8675500000999", pool.ReportBlocked)
	wantErr(t, err, pool.ErrNotFound)
	_, err = ns.ReportNumber(ctx, "sup", p2[0].Number, "lost")
	wantErr(t, err, pool.ErrInvalid)
}

// A supplier's report on one of the tenants' caller numbers rests it (blocked or
// withdrawn) until the supplier restores it: no reservation takes it meanwhile, and
// restoring never lifts a rest the number's own answer rate earned.
func testCallerNumberReports(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	ns := need[NumberStates](t, s)
	ctx := ctxT(t)
	nums := callerNumbers(2)
	for i := range nums {
		nums[i].Supplier = "sup"
	}
	must(t, s.SyncCallerNumbers(ctx, nums))
	n0 := nums[0].Number
	ch, err := ns.ReportNumber(ctx, "sup", n0, pool.ReportBlocked)
	must(t, err)
	if !ch.Caller || ch.Tenant != "t1" || ch.Before != "available" || ch.After != "blocked" ||
		ch.RestReason != pool.SupplierRestPrefix+"blocked" {
		t.Fatalf("block a caller number: %+v", ch)
	}
	r, err := s.ReserveCaller(ctx, request("+8613800000001", 0, pool.Caps{}, n0, nums[1].Number))
	must(t, err)
	if r.Number != nums[1].Number || len(r.Skipped) != 1 || r.Skipped[0].Reason != pool.SkipResting {
		t.Fatalf("reserved %+v; want the blocked number skipped as resting", r)
	}
	got, err := s.CallerNumbers(ctx, "t1")
	must(t, err)
	if got[0].RestReason != pool.SupplierRestPrefix+"blocked" || got[0].RestingUntil.Before(t0.AddDate(1000, 0, 0)) {
		t.Fatalf("stored %+v", got[0])
	}
	// Kept through a config sync (a restart).
	must(t, s.SyncCallerNumbers(ctx, nums))
	if got, _ := s.CallerNumbers(ctx, "t1"); got[0].RestReason != pool.SupplierRestPrefix+"blocked" {
		t.Fatalf("after a sync: %+v", got[0])
	}
	ch, err = ns.ReportNumber(ctx, "sup", n0, pool.ReportRestored)
	must(t, err)
	if ch.Before != "blocked" || ch.After != "available" || ch.RestReason != "" {
		t.Fatalf("restore: %+v", ch)
	}
	r, err = s.ReserveCaller(ctx, request("+8613800000002", time.Second, pool.Caps{}, n0))
	must(t, err)
	if r.Number != n0 {
		t.Fatalf("restored number not reserved: %+v", r)
	}
	// Another supplier's caller number is not found.
	_, err = ns.ReportNumber(ctx, "other", nums[1].Number, pool.ReportBlocked)
	wantErr(t, err, pool.ErrNotFound)
}
