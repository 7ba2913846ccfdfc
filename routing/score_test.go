package routing

import (
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// scoreStep is one thing that happens to trunk "a" in a scoring scenario, and what
// its standing must be afterwards.
type scoreStep struct {
	wait     time.Duration // the clock moves first
	calls    int           // then this many attempts end
	answered int           // of which this many answered
	pdd      time.Duration
	probe    ProbeState // "" leaves it
	ctl      *TrunkControl
	refresh  bool

	state    TrunkState
	asrMin   float64 // checked when asrMax > 0
	asrMax   float64
	scoreMax float64 // checked when > 0
}

func TestScoreboard(t *testing.T) {
	set := ScoreSettings{HalfLife: 10 * time.Minute, MinSeizures: 10, DegradeBelow: 0.15, RecoverAbove: 0.30, PDDTarget: 5 * time.Second}
	tests := []struct {
		name  string
		steps []scoreStep
	}{
		{"new trunk starts up at the prior", []scoreStep{
			{state: TrunkUp, asrMin: 0.5, asrMax: 0.5},
		}},
		{"good calls keep it up", []scoreStep{
			{calls: 20, answered: 12, state: TrunkUp, asrMin: 0.55, asrMax: 0.62},
		}},
		{"ratio collapses: degraded", []scoreStep{
			{calls: 20, answered: 0, state: TrunkDegraded, asrMax: 0.1},
		}},
		{"too few calls to judge", []scoreStep{
			{calls: 8, answered: 0, state: TrunkUp, asrMax: 0.2},
		}},
		{"hysteresis: between the thresholds it stays degraded", []scoreStep{
			{calls: 20, answered: 0, state: TrunkDegraded},
			// 6/40 (+prior) ≈ 0.18: above degrade_below, below recover_above.
			{calls: 20, answered: 6, state: TrunkDegraded, asrMin: 0.15, asrMax: 0.30},
		}},
		{"hysteresis: above recover_above it recovers", []scoreStep{
			{calls: 20, answered: 0, state: TrunkDegraded},
			{calls: 30, answered: 30, state: TrunkUp, asrMin: 0.30, asrMax: 1},
		}},
		{"hysteresis: up between the thresholds stays up", []scoreStep{
			{calls: 40, answered: 9, state: TrunkUp, asrMin: 0.15, asrMax: 0.30},
		}},
		{"decay: a bad hour fades and the trunk recovers", []scoreStep{
			{calls: 30, answered: 0, state: TrunkDegraded},
			{wait: 10 * time.Minute, refresh: true, state: TrunkDegraded, asrMax: 0.15},
			// After 6 half-lives 30 calls count as ~0.5: the prior dominates again.
			{wait: 50 * time.Minute, refresh: true, state: TrunkUp, asrMin: 0.30},
		}},
		{"decay: old answers count less than new failures", []scoreStep{
			{calls: 20, answered: 20, state: TrunkUp},
			{wait: 40 * time.Minute, calls: 20, answered: 0, state: TrunkDegraded, asrMax: 0.15},
		}},
		{"probe down: down, whatever the ratio", []scoreStep{
			{calls: 10, answered: 10, probe: ProbeDown, state: TrunkDown},
			{probe: ProbeUp, state: TrunkUp},
		}},
		{"probe down on a degraded trunk, up again: still degraded", []scoreStep{
			{calls: 20, answered: 0, probe: ProbeDown, state: TrunkDown},
			{probe: ProbeUp, state: TrunkDegraded},
		}},
		{"drain and disable by hand", []scoreStep{
			{ctl: &TrunkControl{Drained: true}, state: TrunkDrained},
			{ctl: &TrunkControl{Disabled: true, Drained: true}, state: TrunkDisabled},
			{ctl: &TrunkControl{}, state: TrunkUp},
			{ctl: &TrunkControl{Weight: -1}, state: TrunkDisabled},
		}},
		{"slow to ring: lower score", []scoreStep{
			{calls: 10, answered: 5, pdd: 20 * time.Second, state: TrunkUp, scoreMax: 0.5 * 0.26},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
			b := NewScoreboard(set, clk.now)
			b.SetTrunks([]string{"a", "b"}, nil)
			for i, st := range tc.steps {
				clk.add(st.wait)
				for n := 0; n < st.calls; n++ {
					b.Observe(Seizure{Trunk: "a", At: clk.now(), Answered: n < st.answered, PDD: st.pdd})
				}
				if st.probe != "" {
					b.SetProbe("a", st.probe)
				}
				if st.ctl != nil {
					b.SetControl("a", *st.ctl)
				}
				if st.refresh {
					b.Refresh()
				}
				got, ok := b.Score("a")
				if !ok {
					t.Fatalf("step %d: no score for a", i)
				}
				if got.State != st.state {
					t.Errorf("step %d: state %s (%s), want %s", i, got.State, got.Why, st.state)
				}
				if st.asrMax > 0 && (got.ASR < st.asrMin || got.ASR > st.asrMax) {
					t.Errorf("step %d: asr %.3f, want %.2f..%.2f", i, got.ASR, st.asrMin, st.asrMax)
				}
				if st.scoreMax > 0 && got.Score > st.scoreMax {
					t.Errorf("step %d: score %.3f, want at most %.3f", i, got.Score, st.scoreMax)
				}
				if got.State.TakesCalls() != (got.Score > 0) {
					t.Errorf("step %d: state %s with score %g", i, got.State, got.Score)
				}
				if got.Why == "" {
					t.Errorf("step %d: no reason given", i)
				}
			}
			// The other trunk saw none of it.
			if other, _ := b.Score("b"); other.State != TrunkUp || other.Seizures != 0 {
				t.Errorf("trunk b: %+v", other)
			}
		})
	}
}

func TestScoreboardWeightOrdersTrunks(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	b := NewScoreboard(ScoreSettings{}, clk.now)
	b.SetTrunks([]string{"a", "b"}, map[string]TrunkControl{"b": {Weight: 3}})
	a, _ := b.Score("a")
	bb, _ := b.Score("b")
	if !(bb.Score > a.Score) || math.Abs(bb.Score-3*a.Score) > 1e-9 {
		t.Errorf("score a %g, b %g: want b = 3a", a.Score, bb.Score)
	}
	if !b.SetControl("b", TrunkControl{Weight: 0.5}) || b.SetControl("nope", TrunkControl{}) {
		t.Error("SetControl: known trunk refused or unknown accepted")
	}
	if bb, _ = b.Score("b"); bb.Score >= a.Score {
		t.Errorf("after weight 0.5: b %g, a %g", bb.Score, a.Score)
	}
	// A reload keeps history, drops removed trunks and resets manual controls.
	for i := 0; i < 20; i++ {
		b.Observe(Seizure{Trunk: "a", Answered: false})
	}
	b.SetTrunks([]string{"a"}, nil)
	if a, _ = b.Score("a"); a.State != TrunkDegraded {
		t.Errorf("a after reload: %s", a.State)
	}
	if _, ok := b.Score("b"); ok || len(b.Scores()) != 1 {
		t.Errorf("removed trunk still scored: %+v", b.Scores())
	}
	b.Observe(Seizure{Trunk: "ghost"}) // ignored, no panic
}

func TestScoreboardConcurrent(t *testing.T) {
	b := NewScoreboard(ScoreSettings{}, nil)
	b.SetTrunks([]string{"a", "b"}, nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				b.Observe(Seizure{Trunk: "a", Answered: i%2 == 0})
				b.Refresh()
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if s, ok := b.Score("a"); !ok || s.Trunk != "a" {
					t.Error("lost trunk a")
					return
				}
			}
		}()
	}
	wg.Wait()
}
