package routing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"callgate/pool"
)

// poolRig is a pool board over a real trunk scoreboard on one injected clock: pool
// "p1" on trunk "t1", "p2" on "t2", "p3" on "t3" (each with 20 numbers unless a case
// sets counts).
type poolRig struct {
	clock  *fakeClock
	trunks *Scoreboard
	board  *PoolBoard
}

func newPoolRig() *poolRig {
	c := &fakeClock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	sb := NewScoreboard(ScoreSettings{HalfLife: 10 * time.Minute, MinSeizures: 10, DegradeBelow: 0.15, RecoverAbove: 0.3}, c.now)
	sb.SetTrunks([]string{"t1", "t2", "t3"}, nil)
	b := NewPoolBoard(sb, c.now, 10)
	b.SetPools([]PoolDef{{Name: "p1", Supplier: "s1", Trunks: []string{"t1"}}, {Name: "p2", Supplier: "s2", Trunks: []string{"t2"}},
		{Name: "p3", Supplier: "s3", Trunks: []string{"t3"}}})
	b.SetCounts(map[string]pool.PoolCount{"p1": {Total: 20, Remaining: 20}, "p2": {Total: 20, Remaining: 20}, "p3": {Total: 20, Remaining: 20}})
	return &poolRig{clock: c, trunks: sb, board: b}
}

// calls ends n attempts on trunk, answered of them answered.
func (r *poolRig) calls(trunk string, n, answered int) {
	for i := range n {
		r.trunks.Observe(Seizure{Trunk: trunk, At: r.clock.now(), Answered: i < answered})
	}
	r.board.Publish()
}

func TestPoolBoardOrder(t *testing.T) {
	all := []string{"p1", "p2", "p3"}
	tests := []struct {
		name  string
		setup func(r *poolRig)
		in    []string
		want  []string
		why   map[string]string // pool → text its Why must contain
	}{
		{name: "equal pools keep the policy's order", setup: func(*poolRig) {}, in: all, want: all},
		{name: "room: a nearly empty pool goes last", setup: func(r *poolRig) {
			r.board.SetCounts(map[string]pool.PoolCount{"p1": {Total: 20, Remaining: 2, Blocked: 3}, "p2": {Total: 20, Remaining: 20}, "p3": {Total: 50, Remaining: 50}})
		}, in: all, want: []string{"p3", "p2", "p1"}, why: map[string]string{"p1": "2 remaining of 20 (3 blocked)"}},
		{name: "no remaining numbers: last, still listed", setup: func(r *poolRig) {
			r.board.SetCounts(map[string]pool.PoolCount{"p1": {Total: 5, Remaining: 0}, "p2": {Total: 20, Remaining: 20}, "p3": {Total: 20, Remaining: 20}})
		}, in: all, want: []string{"p2", "p3", "p1"}, why: map[string]string{"p1": "no remaining numbers"}},
		{name: "answer ratio of the pool's trunk", setup: func(r *poolRig) {
			r.calls("t1", 20, 4)
			r.calls("t2", 20, 18)
			r.calls("t3", 20, 10)
		}, in: all, want: []string{"p2", "p3", "p1"}},
		{name: "manual weight", setup: func(r *poolRig) {
			r.board.SetControl("p3", PoolControl{Weight: 3})
		}, in: all, want: []string{"p3", "p1", "p2"}, why: map[string]string{"p3": "weight 3 ×"}},
		{name: "drained and negative weight give no bindings", setup: func(r *poolRig) {
			r.board.SetControl("p1", PoolControl{Drained: true})
			r.board.SetControl("p2", PoolControl{Weight: -1})
		}, in: all, want: []string{"p3"}, why: map[string]string{"p1": "drained by hand", "p2": "weight -1 is negative"}},
		{name: "trunk down: pool last", setup: func(r *poolRig) {
			r.trunks.SetProbe("t1", ProbeDown)
			r.board.Publish()
		}, in: all, want: []string{"p2", "p3", "p1"}, why: map[string]string{"p1": "no trunk takes calls: t1 down"}},
		{name: "degraded trunk: behind, ratio says so", setup: func(r *poolRig) {
			r.calls("t2", 30, 0)
		}, in: all, want: []string{"p1", "p3", "p2"}, why: map[string]string{"p2": "degraded"}},
		{name: "decay: a collapsed pool recovers as its failures fade", setup: func(r *poolRig) {
			r.calls("t1", 30, 0)
			r.clock.add(2 * time.Hour)
			r.trunks.Refresh()
			r.board.Publish()
		}, in: all, want: all},
		{name: "unknown pools rank at the prior", setup: func(r *poolRig) {
			r.calls("t1", 20, 20)
			r.calls("t2", 20, 0)
		}, in: []string{"p2", "px", "p1"}, want: []string{"p1", "px", "p2"}},
		{name: "config weight replaces a manual one, keeps a drain", setup: func(r *poolRig) {
			r.board.SetControl("p1", PoolControl{Weight: 0.1, Drained: true})
			r.board.SetPools([]PoolDef{{Name: "p1", Trunks: []string{"t1"}, Weight: 5}, {Name: "p2", Trunks: []string{"t2"}}})
			r.board.SetControl("p1", PoolControl{Weight: 5})
		}, in: []string{"p2", "p1"}, want: []string{"p1", "p2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newPoolRig()
			tc.setup(r)
			if got := r.board.Order(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Order(%v) = %v, want %v\n%+v", tc.in, got, tc.want, r.board.Scores())
			}
			for p, want := range tc.why {
				s, ok := r.board.Score(p)
				if !ok || !strings.Contains(s.Why, want) {
					t.Errorf("pool %s: why %q, want it to say %q", p, s.Why, want)
				}
			}
		})
	}
}

// A degraded pool comes back only once its trunk's ratio clears the recovery
// threshold (the trunk scoreboard's hysteresis), as the clock moves.
func TestPoolBoardHysteresis(t *testing.T) {
	r := newPoolRig()
	r.calls("t1", 20, 0) // t1: ratio 2/24 → degraded
	steps := []struct {
		wait  time.Duration
		state TrunkState
		first string
	}{
		{0, TrunkDegraded, "p2"},
		{10 * time.Minute, TrunkDegraded, "p2"}, // ratio 2/14 ≈ 0.14: still under 0.30
		{8 * time.Minute, TrunkDegraded, "p2"},  // 2/9.7 ≈ 0.21: above 0.15 but not 0.30
		{20 * time.Minute, TrunkUp, "p2"},       // 2/5.4 ≈ 0.37: recovered, still behind
		{2 * time.Hour, TrunkUp, "p1"},          // history gone: ties, policy order
	}
	for i, st := range steps {
		r.clock.add(st.wait)
		r.trunks.Refresh()
		r.board.Publish()
		ts, _ := r.trunks.Score("t1")
		if ts.State != st.state {
			t.Fatalf("step %d: t1 %s (asr %.2f), want %s", i, ts.State, ts.ASR, st.state)
		}
		if p1, _ := r.board.Score("p1"); strings.Contains(p1.Why, "degraded") != (st.state == TrunkDegraded) {
			t.Fatalf("step %d: p1 why %q with t1 %s", i, p1.Why, st.state)
		}
		// Equal ratios tie, and ties keep the policy's order.
		if got := r.board.Order([]string{"p1", "p2"}); got[0] != st.first {
			t.Fatalf("step %d: order %v, want %s first", i, got, st.first)
		}
	}
}

type countsFunc func(ctx context.Context) (map[string]pool.PoolCount, error)

func (f countsFunc) PoolCounts(ctx context.Context) (map[string]pool.PoolCount, error) { return f(ctx) }

func TestPoolBoardRefresh(t *testing.T) {
	r := newPoolRig()
	r.clock.add(time.Minute)
	err := r.board.Refresh(context.Background(), countsFunc(func(context.Context) (map[string]pool.PoolCount, error) {
		return map[string]pool.PoolCount{"p1": {Total: 9, Remaining: 1, Blocked: 8}}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := r.board.Score("p1")
	if s.Total != 9 || s.Remaining != 1 || s.Blocked != 8 || !s.At.Equal(r.clock.now()) {
		t.Errorf("p1 after refresh: %+v", s)
	}
	if s2, _ := r.board.Score("p2"); !s2.Counted || s2.Remaining != 0 || s2.Score != 0 {
		t.Errorf("p2 is not in the store: want counted with none remaining, got %+v", s2)
	}
	boom := errors.New("boom")
	err = r.board.Refresh(context.Background(), countsFunc(func(context.Context) (map[string]pool.PoolCount, error) { return nil, boom }))
	if !errors.Is(err, boom) {
		t.Errorf("refresh error %v, want it to wrap the store's", err)
	}
	if s, _ := r.board.Score("p1"); s.Remaining != 1 {
		t.Errorf("a failed refresh changed the scores: %+v", s)
	}
}

// Order runs on the binding path: it must not allocate beyond its result.
func BenchmarkPoolBoardOrder(b *testing.B) {
	r := newPoolRig()
	in := []string{"p1", "p2", "p3"}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.board.Order(in)
	}
}
