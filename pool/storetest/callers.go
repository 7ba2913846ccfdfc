package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"callgate/pool"
)

// day1 is t0's day in the tenant's zone; dayEnd its end.
const day1 = 20261120

var dayEnd = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// callerNumbers returns n caller numbers of tenant t1.
func callerNumbers(n int) []pool.CallerNumber {
	out := make([]pool.CallerNumber, n)
	for i := range out {
		out[i] = pool.CallerNumber{Number: fmt.Sprintf("+867550000%04d", i+1), Tenant: "t1", Kind: pool.KindFixed,
			Pool: "p", Trunks: []string{"tr1", "tr2"}, Cities: []string{"Shenzhen"}}
	}
	return out
}

func numbersOf(ns []pool.CallerNumber) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Number
	}
	return out
}

func openCallers(t *testing.T, open Opener, n int) (pool.Store, []string) {
	t.Helper()
	s := open(t, pool.WithClock(NewClock(t0).Now))
	ns := callerNumbers(n)
	ns = append(ns, pool.CallerNumber{Number: "+8675509999999", Tenant: "t2", Kind: pool.KindMobile})
	must(t, s.SyncCallerNumbers(ctxT(t), ns))
	return s, numbersOf(ns[:n])
}

func request(callee string, at time.Duration, caps pool.Caps, cands ...string) pool.ReserveRequest {
	return pool.ReserveRequest{Tenant: "t1", Callee: callee, CallID: "call-" + callee, Instance: "i1",
		Now: t0.Add(at), Day: day1, DayEnd: dayEnd, LeaseFor: time.Minute, Caps: caps, Candidates: cands}
}

func skipReasons(r pool.Reservation) []pool.SkipReason {
	var out []pool.SkipReason
	for _, s := range r.Skipped {
		out = append(out, s.Reason)
	}
	return out
}

func testReserveCaller(t *testing.T, open Opener) {
	s, ns := openCallers(t, open, 3)
	ctx := ctxT(t)
	got, err := s.CallerNumbers(ctx, "t1")
	must(t, err)
	if len(got) != 3 || got[0].Number != ns[0] || got[0].Kind != pool.KindFixed || len(got[0].Trunks) != 2 ||
		got[0].Cities[0] != "Shenzhen" {
		t.Fatalf("caller numbers of t1: %+v", got)
	}
	if all, err := s.CallerNumbers(ctx, ""); err != nil || len(all) != 4 {
		t.Fatalf("all caller numbers: %d, %v", len(all), err)
	}

	cands := []string{"+8675500009998", "+8675509999999", ns[0], ns[1]}
	r1, err := s.ReserveCaller(ctx, request("+8613800000001", 0, pool.Caps{}, cands...))
	must(t, err)
	if r1.Number != ns[0] || r1.LeaseID == 0 || !r1.LeaseUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("reserved %+v", r1)
	}
	if rs := skipReasons(r1); len(rs) != 2 || rs[0] != pool.SkipUnknown || rs[1] != pool.SkipUnknown {
		t.Fatalf("skips %v, want unknown and another tenant's", rs)
	}
	// The lease holds until it expires, whether or not anyone deletes it.
	r2, err := s.ReserveCaller(ctx, request("+8613800000002", 59*time.Second, pool.Caps{}, ns[0], ns[1]))
	must(t, err)
	if r2.Number != ns[1] || len(r2.Skipped) != 1 || r2.Skipped[0].Reason != pool.SkipLocked ||
		!r2.Skipped[0].Until.Equal(r1.LeaseUntil) {
		t.Fatalf("second reservation %+v, want %s with %s skipped as locked until %v", r2, ns[1], ns[0], r1.LeaseUntil)
	}
	_, err = s.ReserveCaller(ctx, request("+8613800000003", 59*time.Second, pool.Caps{}, ns[0], ns[1]))
	wantErr(t, err, pool.ErrNoCallerNumber)
	r3, err := s.ReserveCaller(ctx, request("+8613800000003", time.Minute, pool.Caps{}, ns[0], ns[1]))
	must(t, err)
	if r3.Number != ns[0] {
		t.Fatalf("after the lease expired: %+v, want %s", r3, ns[0])
	}
	// The expired lease was taken over: releasing it is unknown; the new one releases.
	_, err = s.ReleaseCaller(ctx, pool.ReleaseRequest{LeaseID: r1.LeaseID, Outcome: pool.OutcomeAnswered, At: t0.Add(time.Minute)})
	wantErr(t, err, pool.ErrNotFound)
	rel, err := s.ReleaseCaller(ctx, pool.ReleaseRequest{LeaseID: r3.LeaseID, Outcome: pool.OutcomeAnswered, At: t0.Add(2 * time.Minute)})
	must(t, err)
	if rel.Number != ns[0] || rel.Tenant != "t1" || rel.Callee != "+8613800000003" || rel.Kind != pool.KindFixed {
		t.Fatalf("released %+v", rel)
	}
	_, err = s.ReleaseCaller(ctx, pool.ReleaseRequest{LeaseID: r3.LeaseID, Outcome: pool.OutcomeAnswered, At: t0.Add(2 * time.Minute)})
	wantErr(t, err, pool.ErrNotFound)
	_, err = s.ReleaseCaller(ctx, pool.ReleaseRequest{LeaseID: r2.LeaseID, Outcome: "bogus", At: t0})
	wantErr(t, err, pool.ErrInvalid)
	// A released number is free at once; a dry run reserves nothing.
	dry := request("+8613800000004", 2*time.Minute, pool.Caps{}, ns[0], ns[1])
	dry.DryRun = true
	d, err := s.ReserveCaller(ctx, dry)
	must(t, err)
	if d.Number != ns[0] || d.LeaseID != 0 {
		t.Fatalf("dry run %+v", d)
	}
	r4, err := s.ReserveCaller(ctx, request("+8613800000004", 2*time.Minute, pool.Caps{}, ns[0]))
	must(t, err)
	if r4.Number != ns[0] {
		t.Fatalf("after release %+v", r4)
	}
	// The instance is recorded with the lease.
	st, err := s.LoadCallerState(ctx, pool.CallerStateQuery{Now: t0.Add(2 * time.Minute), SinceDay: day1})
	must(t, err)
	found := false
	for _, l := range st.Leases {
		if l.LeaseID == r4.LeaseID {
			found = l.Instance == "i1" && l.Number == ns[0] && l.CallID == "call-+8613800000004"
		}
	}
	if !found {
		t.Fatalf("lease %d not loaded with its instance: %+v", r4.LeaseID, st.Leases)
	}
	_, err = s.ReserveCaller(ctx, pool.ReserveRequest{Tenant: "t1"})
	wantErr(t, err, pool.ErrInvalid)
}

func testReserveCallerCaps(t *testing.T, open Opener) {
	s, ns := openCallers(t, open, 3)
	ctx := ctxT(t)
	reserve := func(callee string, at time.Duration, caps pool.Caps, cands ...string) (pool.Reservation, error) {
		t.Helper()
		r, err := s.ReserveCaller(ctx, request(callee, at, caps, cands...))
		if err == nil {
			_, err = s.ReleaseCaller(ctx, pool.ReleaseRequest{LeaseID: r.LeaseID, Outcome: pool.OutcomeAnswered, At: t0.Add(at)})
			must(t, err)
		}
		return r, err
	}
	// Per caller per hour, sliding.
	hour := pool.Caps{CallerPerHour: 2}
	for i, at := range []time.Duration{0, 10 * time.Minute} {
		r, err := reserve(fmt.Sprint("+861380000010", i), at, hour, ns[0], ns[1])
		must(t, err)
		if r.Number != ns[0] {
			t.Fatalf("hour cap, call %d: %s", i, r.Number)
		}
	}
	r, err := reserve("+8613800000102", 20*time.Minute, hour, ns[0], ns[1])
	must(t, err)
	if r.Number != ns[1] || skipReasons(r)[0] != pool.SkipCallerHourCap || !r.Skipped[0].Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("at the hour cap: %+v", r)
	}
	r, err = reserve("+8613800000103", time.Hour, hour, ns[0], ns[1])
	must(t, err)
	if r.Number != ns[0] {
		t.Fatalf("an hour later: %+v", r)
	}
	// Per caller per day (ns[2] is fresh).
	day := pool.Caps{CallerPerDay: 1}
	_, err = reserve("+8613800000201", 2*time.Hour, day, ns[2])
	must(t, err)
	_, err = reserve("+8613800000202", 2*time.Hour, day, ns[2])
	wantErr(t, err, pool.ErrNoCallerNumber)
	// Per pair per day, and per callee per day.
	pair := pool.Caps{PairPerDay: 1}
	r, err = reserve("+8613800000301", 3*time.Hour, pair, ns[1], ns[0])
	must(t, err)
	r, err = reserve("+8613800000301", 3*time.Hour, pair, ns[1], ns[0])
	must(t, err)
	if r.Number != ns[0] || skipReasons(r)[0] != pool.SkipPairCap {
		t.Fatalf("at the pair cap: %+v", r)
	}
	callee := pool.Caps{CalleePerDay: 2}
	_, err = reserve("+8613800000301", 3*time.Hour, callee, ns[1])
	wantErr(t, err, pool.ErrCalleeCapped)
	// A call never placed gives its counts back.
	capped := pool.Caps{CalleePerDay: 1}
	r1, err := s.ReserveCaller(ctx, request("+8613800000401", 4*time.Hour, capped, ns[1]))
	must(t, err)
	_, err = s.ReleaseCaller(ctx, pool.ReleaseRequest{LeaseID: r1.LeaseID, Outcome: pool.OutcomeNotPlaced, At: t0.Add(4 * time.Hour)})
	must(t, err)
	_, err = reserve("+8613800000401", 4*time.Hour, capped, ns[1])
	must(t, err)
	_, err = reserve("+8613800000401", 4*time.Hour, capped, ns[1])
	wantErr(t, err, pool.ErrCalleeCapped)
}

func testReserveCallerHealth(t *testing.T, open Opener) {
	s, ns := openCallers(t, open, 2)
	ctx := ctxT(t)
	rule := pool.HealthRule{MinAttempts: 2, AnswerRateFloor: 0.5, Window: time.Hour, Rest: 3 * time.Hour}
	var last pool.Released
	for i := range 2 {
		r, err := s.ReserveCaller(ctx, request(fmt.Sprint("+861380000050", i), time.Duration(i)*time.Minute, pool.Caps{}, ns[0]))
		must(t, err)
		last, err = s.ReleaseCaller(ctx, pool.ReleaseRequest{LeaseID: r.LeaseID, Outcome: pool.OutcomeUnanswered,
			At: t0.Add(time.Duration(i)*time.Minute + 30*time.Second), Health: rule})
		must(t, err)
	}
	wantRest := t0.Add(time.Minute + 30*time.Second + 3*time.Hour)
	if !last.RestingUntil.Equal(wantRest) {
		t.Fatalf("after 0 of 2 answered: resting until %v, want %v", last.RestingUntil, wantRest)
	}
	r, err := s.ReserveCaller(ctx, request("+8613800000600", 5*time.Minute, pool.Caps{}, ns[0], ns[1]))
	must(t, err)
	if r.Number != ns[1] || skipReasons(r)[0] != pool.SkipResting || !r.Skipped[0].Until.Equal(wantRest) {
		t.Fatalf("a resting number: %+v", r)
	}
	got, err := s.CallerNumbers(ctx, "t1")
	must(t, err)
	if !got[0].RestingUntil.Equal(wantRest) || got[0].RestReason == "" || got[0].LastUsedAt.IsZero() {
		t.Fatalf("resting number state %+v", got[0])
	}
	// Syncing the config keeps the runtime state.
	must(t, s.SyncCallerNumbers(ctx, callerNumbers(2)))
	got, err = s.CallerNumbers(ctx, "t1")
	must(t, err)
	if !got[0].RestingUntil.Equal(wantRest) {
		t.Fatalf("sync dropped the rest: %+v", got[0])
	}
}

func testReserveCallerConcurrent(t *testing.T, open Opener) {
	const (
		numbers = 20
		calls   = 200
	)
	s, ns := openCallers(t, open, numbers)
	ctx := ctxT(t)
	res := make([]pool.Reservation, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			req := request(fmt.Sprintf("+86138%08d", i), 0, pool.Caps{CallerPerDay: 100}, ns...)
			req.Instance = fmt.Sprint("i", i%2)
			res[i], errs[i] = s.ReserveCaller(ctx, req)
		})
	}
	wg.Wait()
	held := map[string]int{}
	for i := range calls {
		switch {
		case errs[i] == nil:
			if other, ok := held[res[i].Number]; ok {
				t.Errorf("number %s leased to calls %d and %d at once", res[i].Number, other, i)
			}
			held[res[i].Number] = i
		case errors.Is(errs[i], pool.ErrNoCallerNumber):
		default:
			t.Errorf("reservation %d: %v", i, errs[i])
		}
	}
	if len(held) != numbers {
		t.Fatalf("%d numbers leased, want all %d", len(held), numbers)
	}
	// Every lease is stored once, and the counters count each call once.
	st, err := s.LoadCallerState(ctx, pool.CallerStateQuery{Now: t0, SinceDay: day1})
	must(t, err)
	if len(st.Leases) != numbers {
		t.Errorf("%d leases stored, want %d", len(st.Leases), numbers)
	}
	for _, d := range st.CallerDays {
		if d.Calls != 1 {
			t.Errorf("number %s counted %d calls, want 1", d.Key, d.Calls)
		}
	}
}

func testRenewLeases(t *testing.T, open Opener) {
	s, ns := openCallers(t, open, 2)
	ctx := ctxT(t)
	a, err := s.ReserveCaller(ctx, request("+8613800000001", 0, pool.Caps{}, ns[0]))
	must(t, err)
	b, err := s.ReserveCaller(ctx, request("+8613800000002", 30*time.Second, pool.Caps{}, ns[1]))
	must(t, err)
	// At t0+60s a has expired (never revived) and b has not.
	n, err := s.RenewLeases(ctx, pool.RenewRequest{LeaseIDs: []int64{a.LeaseID, b.LeaseID, 12345}, Now: t0.Add(time.Minute), Until: t0.Add(5 * time.Minute)})
	must(t, err)
	if n != 1 {
		t.Fatalf("renewed %d leases, want 1", n)
	}
	r, err := s.ReserveCaller(ctx, request("+8613800000003", 4*time.Minute, pool.Caps{}, ns[1], ns[0]))
	must(t, err)
	if r.Number != ns[0] || skipReasons(r)[0] != pool.SkipLocked || !r.Skipped[0].Until.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("after renewing %s: %+v", ns[1], r)
	}
}

func testCallerOps(t *testing.T, open Opener) {
	s, ns := openCallers(t, open, 2)
	ctx := ctxT(t)
	rec := pool.LeaseRecord{LeaseID: 77, Number: ns[0], Tenant: "t1", Callee: "+8613800000001", CallID: "c1",
		Instance: "i9", Day: day1, AcquiredAt: t0, Until: t0.Add(time.Minute)}
	out, err := s.ApplyCallerOps(ctx, []pool.CallerOp{
		{Record: &rec},
		{Renew: &pool.RenewRequest{LeaseIDs: []int64{77}, Now: t0, Until: t0.Add(2 * time.Minute)}},
		{Release: &pool.ReleaseRequest{LeaseID: 78, Outcome: pool.OutcomeAnswered, At: t0}},
		{},
	})
	must(t, err)
	if len(out) != 4 || out[1].Renewed != 1 || !errors.Is(out[2].Err, pool.ErrNotFound) || !errors.Is(out[3].Err, pool.ErrInvalid) {
		t.Fatalf("results %+v", out)
	}
	st, err := s.LoadCallerState(ctx, pool.CallerStateQuery{Now: t0, SinceDay: day1, HealthSince: t0.Add(-time.Hour), EscalationSince: t0.Add(-time.Hour)})
	must(t, err)
	if len(st.Leases) != 1 || st.Leases[0].Instance != "i9" || !st.Leases[0].Until.Equal(t0.Add(2*time.Minute)) ||
		len(st.CallerDays) != 1 || len(st.CalleeDays) != 1 || len(st.Pairs) != 1 || len(st.Attempts) != 1 || len(st.Numbers) != 3 {
		t.Fatalf("state %+v", st)
	}
	out, err = s.ApplyCallerOps(ctx, []pool.CallerOp{{Release: &pool.ReleaseRequest{LeaseID: 77, Outcome: pool.OutcomeUnanswered, At: t0.Add(time.Minute),
		Health: pool.HealthRule{MinAttempts: 10, AnswerRateFloor: 0.1, Window: time.Hour, Rest: time.Hour}}}})
	must(t, err)
	if out[0].Err != nil || out[0].Released.Number != ns[0] {
		t.Fatalf("release result %+v", out[0])
	}
	st, err = s.LoadCallerState(ctx, pool.CallerStateQuery{Now: t0, SinceDay: day1, HealthSince: t0.Add(-time.Hour), EscalationSince: t0.Add(-time.Hour)})
	must(t, err)
	if len(st.Leases) != 0 || len(st.Health) != 1 || st.Health[0].Attempts != 1 || len(st.Escalations) != 1 ||
		st.Escalations[0].Outcome != pool.OutcomeUnanswered || st.Escalations[0].Kind != pool.KindFixed {
		t.Fatalf("state after release %+v", st)
	}
	sw, err := s.SweepCallers(ctx, pool.SweepRequest{LeasesBefore: t0.Add(time.Hour), DaysBefore: day1 + 1,
		AttemptsBefore: t0.Add(time.Hour), HealthBefore: t0.Add(2 * time.Hour), EscalationsBefore: t0.Add(time.Hour)})
	must(t, err)
	if sw.Counters != 3 || sw.Attempts != 1 || sw.Health != 1 || sw.Escalations != 1 {
		t.Fatalf("swept %+v", sw)
	}
}
