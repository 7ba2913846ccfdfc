package pool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// callerNums returns n caller numbers of tenant t1: +86755000000001, ….
func callerNums(n int) []CallerNumber {
	out := make([]CallerNumber, n)
	for i := range out {
		out[i] = CallerNumber{Number: fmt.Sprintf("+867550000%04d", i+1), Tenant: "t1", Kind: KindFixed,
			Pool: "p", Trunks: []string{"tr"}}
	}
	return out
}

// day1 is t0's day; reserve builds a request for callee at now from cands.
const day1 = 20261120

func reserveReq(callee string, now time.Time, caps Caps, cands ...string) ReserveRequest {
	return ReserveRequest{Tenant: "t1", Callee: callee, CallID: "c-" + callee, Instance: "i1", Now: now,
		Day: day1, DayEnd: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), LeaseFor: time.Minute, Caps: caps,
		Candidates: cands}
}

func openCallers(t testing.TB, n int) (*SQLiteStore, []string) {
	t.Helper()
	s := openTest(t, WithClock(newClock(t0).Now))
	ns := callerNums(n)
	if err := s.SyncCallerNumbers(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	out := make([]string, n)
	for i, c := range ns {
		out[i] = c.Number
	}
	return s, out
}

func TestReserveCallerRules(t *testing.T) {
	const callee = "+8613800000001"
	type step struct {
		at     time.Duration // after t0
		callee string
		caps   Caps
		want   string // number index as "n0", "n1" or error
		err    error
		skips  []SkipReason
		keep   bool // do not release
		answer Outcome
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first free candidate, released leases are free again", []step{
			{want: "n0", answer: OutcomeAnswered},
			{at: time.Second, want: "n0"},
		}},
		{"a held lease is skipped until it expires", []step{
			{want: "n0", keep: true},
			{at: 59 * time.Second, callee: "+8613800000002", want: "n1", skips: []SkipReason{SkipLocked}, keep: true},
			{at: 60 * time.Second, callee: "+8613800000003", want: "n0"},
		}},
		{"pair cap at the boundary", []step{
			{caps: Caps{PairPerDay: 2}, want: "n0"},
			{at: time.Second, caps: Caps{PairPerDay: 2}, want: "n0"},
			{at: 2 * time.Second, caps: Caps{PairPerDay: 2}, want: "n1", skips: []SkipReason{SkipPairCap}},
		}},
		{"callee cap refuses the call", []step{
			{caps: Caps{CalleePerDay: 2}, want: "n0"},
			{at: time.Second, caps: Caps{CalleePerDay: 2}, want: "n0"},
			{at: 2 * time.Second, caps: Caps{CalleePerDay: 2}, err: ErrCalleeCapped},
			{at: 3 * time.Second, callee: "+8613800000002", caps: Caps{CalleePerDay: 2}, want: "n0"},
		}},
		{"caller day cap", []step{
			{caps: Caps{CallerPerDay: 1}, want: "n0"},
			{at: time.Second, callee: "+8613800000002", caps: Caps{CallerPerDay: 1}, want: "n1", skips: []SkipReason{SkipCallerDayCap}},
		}},
		{"sliding hour: the attempt an hour ago still counts, a millisecond later not", []step{
			{caps: Caps{CallerPerHour: 1}, want: "n0"},
			{at: time.Hour - time.Millisecond, callee: "+8613800000002", caps: Caps{CallerPerHour: 1}, want: "n1", skips: []SkipReason{SkipCallerHourCap}},
			{at: time.Hour, callee: "+8613800000003", caps: Caps{CallerPerHour: 1}, want: "n0"},
		}},
		{"not placed gives the counts back", []step{
			{caps: Caps{CalleePerDay: 1, PairPerDay: 1, CallerPerDay: 1, CallerPerHour: 1}, want: "n0", answer: OutcomeNotPlaced},
			{at: time.Second, caps: Caps{CalleePerDay: 1, PairPerDay: 1, CallerPerDay: 1, CallerPerHour: 1}, want: "n0"},
		}},
		{"all skipped", []step{
			{want: "n0", keep: true},
			{callee: "+8613800000002", want: "n1", skips: []SkipReason{SkipLocked}, keep: true},
			{callee: "+8613800000003", err: ErrNoCallerNumber, skips: []SkipReason{SkipLocked, SkipLocked}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, nums := openCallers(t, 2)
			for i, st := range tt.steps {
				c := cmpOr(st.callee, callee)
				res, err := s.ReserveCaller(ctx, reserveReq(c, t0.Add(st.at), st.caps, nums...))
				if st.err != nil {
					if !errors.Is(err, st.err) {
						t.Fatalf("step %d: %+v, %v; want %v", i, res, err, st.err)
					}
				} else if err != nil || res.Number != nums[st.want[1]-'0'] {
					t.Fatalf("step %d: %+v, %v; want %s", i, res, err, st.want)
				}
				var got []SkipReason
				for _, sk := range res.Skipped {
					got = append(got, sk.Reason)
				}
				if !slices.Equal(got, st.skips) {
					t.Fatalf("step %d: skipped %v, want %v (%+v)", i, got, st.skips, res.Skipped)
				}
				if err != nil || st.keep {
					continue
				}
				out := cmpOr(st.answer, OutcomeUnanswered)
				if _, err := s.ReleaseCaller(ctx, ReleaseRequest{LeaseID: res.LeaseID, Outcome: out, At: t0.Add(st.at)}); err != nil {
					t.Fatalf("step %d: release: %v", i, err)
				}
			}
		})
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func TestReserveCallerSkipsForeignAndUnknownNumbers(t *testing.T) {
	ctx := context.Background()
	s, nums := openCallers(t, 1)
	other := CallerNumber{Number: "+862100000009", Tenant: "t2", Kind: KindMobile}
	if err := s.SyncCallerNumbers(ctx, append(callerNums(1), other)); err != nil {
		t.Fatal(err)
	}
	res, err := s.ReserveCaller(ctx, reserveReq("+8613800000001", t0, Caps{}, "+862100000009", "+869999", nums[0]))
	if err != nil || res.Number != nums[0] || len(res.Skipped) != 2 ||
		res.Skipped[0].Reason != SkipUnknown || res.Skipped[1].Reason != SkipUnknown {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestReserveCallerDryRunReservesNothing(t *testing.T) {
	ctx := context.Background()
	s, nums := openCallers(t, 3)
	held, err := s.ReserveCaller(ctx, reserveReq("+8613800000009", t0, Caps{}, nums[0]))
	if err != nil {
		t.Fatal(err)
	}
	r := reserveReq("+8613800000001", t0, Caps{}, nums...)
	r.DryRun = true
	res, err := s.ReserveCaller(ctx, r)
	if err != nil || res.Number != nums[1] || res.LeaseID != 0 || len(res.Skipped) != 1 || res.Skipped[0].Number != held.Number {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if n := count(t, s, `SELECT count(*) FROM caller_leases`); n != 1 {
		t.Fatalf("%d leases after a dry run, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM callee_day_counts WHERE callee = '+8613800000001'`); n != 0 {
		t.Fatalf("dry run counted the call")
	}
}

func TestReleaseCallerHealthAndEscalation(t *testing.T) {
	ctx := context.Background()
	s, nums := openCallers(t, 1)
	rule := HealthRule{MinAttempts: 4, AnswerRateFloor: 0.5, Window: 2 * time.Hour, Rest: 6 * time.Hour}
	outcomes := []Outcome{OutcomeAnswered, OutcomeUnanswered, OutcomeNotPlaced, OutcomeUnanswered, OutcomeUnanswered}
	var last Released
	for i, o := range outcomes {
		at := t0.Add(time.Duration(i) * time.Minute)
		callee := fmt.Sprintf("+861380000000%d", i)
		res, err := s.ReserveCaller(ctx, reserveReq(callee, at, Caps{}, nums[0]))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		last, err = s.ReleaseCaller(ctx, ReleaseRequest{LeaseID: res.LeaseID, Outcome: o, At: at, Health: rule})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if i < len(outcomes)-1 && !last.RestingUntil.IsZero() {
			t.Fatalf("call %d: rests too early", i)
		}
	}
	// 4 placed calls, 1 answered: 25% < 50%.
	want := t0.Add(4*time.Minute + 6*time.Hour)
	if !last.RestingUntil.Equal(want) || last.Kind != KindFixed {
		t.Fatalf("last release %+v; want resting until %v", last, want)
	}
	res, err := s.ReserveCaller(ctx, reserveReq("+8613900000000", t0.Add(time.Hour), Caps{}, nums[0]))
	if !errors.Is(err, ErrNoCallerNumber) || len(res.Skipped) != 1 || res.Skipped[0].Reason != SkipResting || !res.Skipped[0].Until.Equal(want) {
		t.Fatalf("while resting: %+v, %v", res, err)
	}
	if _, err := s.ReserveCaller(ctx, reserveReq("+8613900000000", want, Caps{}, nums[0])); err != nil {
		t.Fatalf("after the rest: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM caller_health`); n != 0 {
		t.Fatalf("health history survives the rest: %d rows", n)
	}
	st, err := s.LoadCallerState(ctx, CallerStateQuery{Now: t0, SinceDay: day1, EscalationSince: t0})
	if err != nil {
		t.Fatal(err)
	}
	esc := map[string]Outcome{}
	for _, e := range st.Escalations {
		esc[e.Callee] = e.Outcome
	}
	if esc["+8613800000000"] != OutcomeAnswered || esc["+8613800000001"] != OutcomeUnanswered || len(esc) != 4 {
		t.Fatalf("escalations %v", esc)
	}
	if _, err := s.ReleaseCaller(ctx, ReleaseRequest{LeaseID: 42, Outcome: OutcomeAnswered, At: t0}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown lease: %v", err)
	}
}

func TestRenewLeasesNeverRevives(t *testing.T) {
	ctx := context.Background()
	s, nums := openCallers(t, 2)
	a, _ := s.ReserveCaller(ctx, reserveReq("+8613800000001", t0, Caps{}, nums[0]))
	b, _ := s.ReserveCaller(ctx, reserveReq("+8613800000002", t0.Add(30*time.Second), Caps{}, nums[1]))
	n, err := s.RenewLeases(ctx, RenewRequest{LeaseIDs: []int64{a.LeaseID, b.LeaseID}, Now: t0.Add(70 * time.Second), Until: t0.Add(3 * time.Minute)})
	if err != nil || n != 1 {
		t.Fatalf("renewed %d, %v; want 1 (a had expired)", n, err)
	}
	res, err := s.ReserveCaller(ctx, reserveReq("+8613800000003", t0.Add(2*time.Minute), Caps{}, nums...))
	if err != nil || res.Number != nums[0] {
		t.Fatalf("%+v, %v; want the expired one", res, err)
	}
}

func TestApplyCallerOpsAndLoadState(t *testing.T) {
	ctx := context.Background()
	s, nums := openCallers(t, 2)
	rec := LeaseRecord{LeaseID: 7, Number: nums[0], Tenant: "t1", Callee: "+8613800000001", CallID: "c", Instance: "i",
		Day: day1, AcquiredAt: t0, Until: t0.Add(time.Minute)}
	res, err := s.ApplyCallerOps(ctx, []CallerOp{
		{Record: &rec},
		{Renew: &RenewRequest{LeaseIDs: []int64{7}, Now: t0, Until: t0.Add(2 * time.Minute)}},
		{Release: &ReleaseRequest{LeaseID: 8, Outcome: OutcomeAnswered, At: t0}},
		{},
	})
	if err != nil || res[1].Renewed != 1 || !errors.Is(res[2].Err, ErrNotFound) || !errors.Is(res[3].Err, ErrInvalid) {
		t.Fatalf("%+v, %v", res, err)
	}
	st, err := s.LoadCallerState(ctx, CallerStateQuery{Now: t0.Add(time.Second), SinceDay: day1})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Numbers) != 2 || !st.Numbers[0].LastUsedAt.Equal(t0) || len(st.Leases) != 1 ||
		!st.Leases[0].Until.Equal(t0.Add(2*time.Minute)) || len(st.CallerDays) != 1 || len(st.CalleeDays) != 1 ||
		len(st.Pairs) != 1 || len(st.Attempts) != 1 {
		t.Fatalf("state %+v", st)
	}
	st, _ = s.LoadCallerState(ctx, CallerStateQuery{Now: t0.Add(2 * time.Minute), SinceDay: day1 + 1})
	if len(st.Leases) != 0 || len(st.CallerDays) != 0 || len(st.Attempts) != 1 {
		t.Fatalf("later state %+v", st)
	}
}

func TestSweepCallers(t *testing.T) {
	ctx := context.Background()
	s, nums := openCallers(t, 1)
	r, _ := s.ReserveCaller(ctx, reserveReq("+8613800000001", t0, Caps{}, nums[0]))
	if _, err := s.ReleaseCaller(ctx, ReleaseRequest{LeaseID: r.LeaseID, Outcome: OutcomeUnanswered, At: t0,
		Health: HealthRule{MinAttempts: 10, Window: time.Hour, Rest: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveCaller(ctx, reserveReq("+8613800000002", t0, Caps{}, nums[0])); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(48 * time.Hour)
	res, err := s.SweepCallers(ctx, SweepRequest{LeasesBefore: later, DaysBefore: 20261122, AttemptsBefore: later,
		HealthBefore: later, EscalationsBefore: later})
	if err != nil {
		t.Fatal(err)
	}
	want := SweepResult{Leases: 1, Counters: 5, Attempts: 2, Health: 1, Escalations: 1}
	if res != want {
		t.Fatalf("swept %+v, want %+v", res, want)
	}
}

func TestSyncCallerNumbersKeepsState(t *testing.T) {
	ctx := context.Background()
	s, nums := openCallers(t, 3)
	if _, err := s.ReserveCaller(ctx, reserveReq("+8613800000001", t0, Caps{}, nums[1])); err != nil {
		t.Fatal(err)
	}
	ns := callerNums(3)[1:]
	ns[0].Kind, ns[0].Cities, ns[0].PerDay = KindCertified, []string{"Shenzhen", "广州"}, 5
	if err := s.SyncCallerNumbers(ctx, ns); err != nil {
		t.Fatal(err)
	}
	got, err := s.CallerNumbers(ctx, "t1")
	if err != nil || len(got) != 2 {
		t.Fatalf("%+v, %v", got, err)
	}
	if g := got[0]; g.Number != nums[1] || g.Kind != KindCertified || !slices.Equal(g.Cities, []string{"Shenzhen", "广州"}) ||
		g.PerDay != 5 || !g.LastUsedAt.Equal(t0) || !slices.Equal(g.Trunks, []string{"tr"}) {
		t.Fatalf("%+v", g)
	}
	bad := []CallerNumber{{Number: "+861", Tenant: "t1", Kind: "virtual"}}
	if err := s.SyncCallerNumbers(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
}

// TestReserveCallerRestart reserves, closes the store without releasing (what a
// SIGKILL leaves behind) and reopens the file: the lease holds until it expires and
// not a moment longer.
func TestReserveCallerRestart(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	s, err := OpenSQLite(ctx, path, WithClock(newClock(t0).Now))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SyncCallerNumbers(ctx, callerNums(1)); err != nil {
		t.Fatal(err)
	}
	n := callerNums(1)[0].Number
	res, err := s.ReserveCaller(ctx, reserveReq("+8613800000001", t0, Caps{}, n))
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // no release
	s = openAt(t, path, WithClock(newClock(t0).Now))
	_, err = s.ReserveCaller(ctx, reserveReq("+8613800000002", res.LeaseUntil.Add(-time.Millisecond), Caps{}, n))
	if !errors.Is(err, ErrNoCallerNumber) {
		t.Fatalf("before the lease ends: %v; want ErrNoCallerNumber", err)
	}
	got, err := s.ReserveCaller(ctx, reserveReq("+8613800000002", res.LeaseUntil, Caps{}, n))
	if err != nil || got.Number != n {
		t.Fatalf("at the lease's end: %+v, %v", got, err)
	}
}

// TestReserveCallerConcurrent has goroutines reserve and release over a few numbers
// through the store alone and checks that no two holds of a number overlap.
func TestReserveCallerConcurrent(t *testing.T) {
	ctx := context.Background()
	s, nums := openCallers(t, 5)
	var seq atomic.Int64
	type hold struct{ from, to int64 }
	var mu sync.Mutex
	holds := map[string][]hold{}
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 50 {
				callee := fmt.Sprintf("+86139%04d%04d", g, i)
				res, err := s.ReserveCaller(ctx, reserveReq(callee, t0, Caps{}, nums...))
				if errors.Is(err, ErrNoCallerNumber) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				from := seq.Add(1)
				time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
				to := seq.Add(1)
				if _, err := s.ReleaseCaller(ctx, ReleaseRequest{LeaseID: res.LeaseID, Outcome: OutcomeAnswered, At: t0}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				holds[res.Number] = append(holds[res.Number], hold{from, to})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for n, hs := range holds {
		slices.SortFunc(hs, func(a, b hold) int { return int(a.from - b.from) })
		for i := 1; i < len(hs); i++ {
			if hs[i].from < hs[i-1].to {
				t.Fatalf("%s: holds %v and %v overlap", n, hs[i-1], hs[i])
			}
		}
		total += len(hs)
	}
	if total == 0 || count(t, s, `SELECT count(*) FROM caller_leases`) != 0 {
		t.Fatalf("%d holds; leases left: %d", total, count(t, s, `SELECT count(*) FROM caller_leases`))
	}
}
