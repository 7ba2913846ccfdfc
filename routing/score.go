package routing

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"callgate/configs"
)

// This file scores trunks for failover: each trunk's answer-seizure ratio from our
// own calls (exponentially decayed), its post-dial delay, its OPTIONS probe state and
// a manual weight. A trunk whose probes fail is down; one whose ratio collapses is
// degraded and recovers only once the ratio clears a higher threshold (hysteresis).
// Outcomes are folded in as they arrive; readers in call setup load an immutable
// snapshot and take no lock.

// TrunkState is what a trunk may be used for.
type TrunkState string

// The trunk states. Only up and degraded trunks take new calls; degraded ones only
// after every up one.
const (
	TrunkUp       TrunkState = "up"
	TrunkDegraded TrunkState = "degraded"
	TrunkDown     TrunkState = "down"     // probes fail
	TrunkDrained  TrunkState = "drained"  // by hand: calls in progress go on, no new ones
	TrunkDisabled TrunkState = "disabled" // by hand, or a negative weight in the config
)

// TakesCalls reports whether a trunk in state s may be offered a new call.
func (s TrunkState) TakesCalls() bool { return s == TrunkUp || s == TrunkDegraded }

// ProbeState is the last verdict of a trunk's OPTIONS probes.
type ProbeState string

// The probe states.
const (
	ProbeOff  ProbeState = "off" // the trunk is not probed
	ProbeUp   ProbeState = "up"
	ProbeDown ProbeState = "down"
)

// ScoreSettings are the thresholds of trunk scoring (configs.Scoring). Zero values
// take the defaults.
type ScoreSettings struct {
	// HalfLife: an outcome counts half after this long; default 10m.
	HalfLife time.Duration
	// MinSeizures is the decayed number of calls below which the ratio cannot
	// degrade a trunk; default 10.
	MinSeizures float64
	// DegradeBelow degrades a trunk whose ratio falls under it; default 0.15;
	// negative: never.
	DegradeBelow float64
	// RecoverAbove recovers a degraded trunk whose ratio rises over it; default 0.30.
	RecoverAbove float64
	// PDDTarget: a trunk whose post-dial delay is above it scores lower; default 5s.
	PDDTarget time.Duration
}

func (s *ScoreSettings) init() {
	s.HalfLife = cmp.Or(s.HalfLife, 10*time.Minute)
	s.MinSeizures = cmp.Or(s.MinSeizures, 10)
	s.DegradeBelow = cmp.Or(s.DegradeBelow, 0.15)
	s.RecoverAbove = cmp.Or(s.RecoverAbove, 0.30)
	s.PDDTarget = cmp.Or(s.PDDTarget, 5*time.Second)
}

// prior is the ratio assumed of a trunk with no history, and priorWeight how many
// calls that assumption is worth: a new trunk (or one whose history has faded) starts
// near the prior instead of at 0 or 1 after its first call.
const (
	prior       = 0.5
	priorWeight = 4.0
)

// Seizure is the outcome of one attempt to place a call on a trunk.
type Seizure struct {
	Trunk string
	At    time.Time
	// Answered: the callee answered (200).
	Answered bool
	// PDD is the post-dial delay, from the INVITE to the first ringing; 0 if the
	// attempt never rang.
	PDD time.Duration
}

// TrunkControl is what an admin sets on a trunk by hand (config or API).
type TrunkControl struct {
	// Weight scales the trunk's score; 0 means 1; negative disables the trunk.
	Weight   float64
	Drained  bool
	Disabled bool
}

// TrunkScore is a trunk's standing at one moment, and why.
type TrunkScore struct {
	Trunk string     `json:"trunk"`
	State TrunkState `json:"state"`
	// Score orders trunks of one state: higher is tried first.
	Score float64 `json:"score"`
	// ASR is the smoothed answer-seizure ratio of recent calls.
	ASR float64 `json:"asr"`
	// Seizures and Answers are the decayed counts behind ASR.
	Seizures float64       `json:"seizures"`
	Answers  float64       `json:"answers"`
	PDD      time.Duration `json:"-"`
	Weight   float64       `json:"weight"`
	Probe    ProbeState    `json:"probe"`
	Drained  bool          `json:"drained"`
	Disabled bool          `json:"disabled"`
	// Why says what decided State, in words.
	Why   string    `json:"why"`
	Since time.Time `json:"since"` // when State last changed
}

// Scoreboard scores trunks. Its writers (Observe, SetProbe, SetControl, Refresh) take a
// short lock and publish a new snapshot; Score and Scores read the snapshot without
// locking. Safe for concurrent use.
type Scoreboard struct {
	set ScoreSettings
	now func() time.Time

	mu     sync.Mutex
	trunks map[string]*trunkStats

	snap atomic.Pointer[map[string]TrunkScore]
}

// trunkStats is a trunk's mutable history, guarded by Scoreboard.mu.
type trunkStats struct {
	seized, answered float64 // decayed to at
	pdd              float64 // decayed mean, seconds
	pddWeight        float64
	at               time.Time
	probe            ProbeState
	ctl              TrunkControl
	degraded         bool
	state            TrunkState
	since            time.Time
}

// NewScoreboard returns a scoreboard with settings set and clock now (nil:
// time.Now).
func NewScoreboard(set ScoreSettings, now func() time.Time) *Scoreboard {
	set.init()
	if now == nil {
		now = time.Now
	}
	b := &Scoreboard{set: set, now: now, trunks: map[string]*trunkStats{}}
	b.publishLocked(now())
	return b
}

// SetTrunks makes names the scored trunks, each with its configured control (a trunk
// missing from ctl gets weight 1). History of trunks that stay is kept; a control set
// by hand since is replaced by the config's.
func (b *Scoreboard) SetTrunks(names []string, ctl map[string]TrunkControl) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	keep := make(map[string]*trunkStats, len(names))
	for _, n := range names {
		st := b.trunks[n]
		if st == nil {
			st = &trunkStats{at: now, probe: ProbeOff, since: now}
		}
		st.ctl = ctl[n]
		keep[n] = st
	}
	b.trunks = keep
	b.publishLocked(now)
}

// Observe folds in the outcome of one attempt. Unknown trunks are ignored.
func (b *Scoreboard) Observe(s Seizure) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.trunks[s.Trunk]
	if st == nil {
		return
	}
	now := b.now()
	if s.At.IsZero() || s.At.After(now) {
		s.At = now
	}
	b.decay(st, now)
	w := b.weightAt(s.At, now)
	st.seized += w
	if s.Answered {
		st.answered += w
	}
	if s.PDD > 0 {
		// A decayed mean: recent delays count more.
		st.pdd = (st.pdd*st.pddWeight + s.PDD.Seconds()*w) / (st.pddWeight + w)
		st.pddWeight += w
	}
	b.publishLocked(now)
}

// SetProbe records the verdict of trunk's probes.
func (b *Scoreboard) SetProbe(trunk string, p ProbeState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.trunks[trunk]; st != nil && st.probe != p {
		st.probe = p
		b.publishLocked(b.now())
	}
}

// SetControl sets trunk's manual weight, drain and disable. It returns false for an
// unknown trunk.
func (b *Scoreboard) SetControl(trunk string, c TrunkControl) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.trunks[trunk]
	if st == nil {
		return false
	}
	st.ctl = c
	b.publishLocked(b.now())
	return true
}

// Refresh recomputes every score at the current time: outcomes fade, and a trunk
// whose bad history has faded recovers. Run it every few seconds.
func (b *Scoreboard) Refresh() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publishLocked(b.now())
}

// Score returns trunk's standing from the latest snapshot, without locking.
func (b *Scoreboard) Score(trunk string) (TrunkScore, bool) {
	s, ok := (*b.snap.Load())[trunk]
	return s, ok
}

// Scores returns every trunk's standing, by name.
func (b *Scoreboard) Scores() []TrunkScore {
	m := *b.snap.Load()
	out := make([]TrunkScore, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y TrunkScore) int { return cmp.Compare(x.Trunk, y.Trunk) })
	return out
}

// weightAt is how much an outcome at t counts at now.
func (b *Scoreboard) weightAt(t, now time.Time) float64 {
	return math.Exp2(-now.Sub(t).Seconds() / b.set.HalfLife.Seconds())
}

// decay ages st's counts to now.
func (b *Scoreboard) decay(st *trunkStats, now time.Time) {
	if !now.After(st.at) {
		return
	}
	f := b.weightAt(st.at, now)
	st.seized *= f
	st.answered *= f
	st.pddWeight *= f
	st.at = now
}

// publishLocked re-judges every trunk at now and stores a new snapshot.
func (b *Scoreboard) publishLocked(now time.Time) {
	m := make(map[string]TrunkScore, len(b.trunks))
	for name, st := range b.trunks {
		b.decay(st, now)
		m[name] = b.judge(name, st, now)
	}
	b.snap.Store(&m)
}

// judge decides st's state (with hysteresis) and score.
func (b *Scoreboard) judge(name string, st *trunkStats, now time.Time) TrunkScore {
	asr := (st.answered + prior*priorWeight) / (st.seized + priorWeight)
	weight := st.ctl.Weight
	if weight == 0 {
		weight = 1
	}
	s := TrunkScore{Trunk: name, ASR: asr, Seizures: st.seized, Answers: st.answered, Weight: weight,
		Probe: st.probe, Drained: st.ctl.Drained, Disabled: st.ctl.Disabled}
	if st.pddWeight > 0 {
		s.PDD = time.Duration(st.pdd * float64(time.Second))
	}

	// The ratio's verdict is kept across the manual and probe states, so that a
	// trunk undrained with a collapsed ratio is still degraded.
	set := b.set
	switch {
	case !st.degraded && set.DegradeBelow > 0 && st.seized >= set.MinSeizures && asr < set.DegradeBelow:
		st.degraded = true
	case st.degraded && (asr > set.RecoverAbove || set.DegradeBelow <= 0):
		st.degraded = false
	}
	switch {
	case st.ctl.Disabled || weight < 0:
		s.State, s.Why = TrunkDisabled, "disabled by hand"
		if !st.ctl.Disabled {
			s.Why = fmt.Sprintf("weight %g is negative", weight)
		}
	case st.ctl.Drained:
		s.State, s.Why = TrunkDrained, "drained by hand"
	case st.probe == ProbeDown:
		s.State, s.Why = TrunkDown, "OPTIONS probes fail"
	case st.degraded:
		s.State = TrunkDegraded
		s.Why = fmt.Sprintf("answer ratio %.2f over %.1f recent calls fell below %.2f; recovers above %.2f",
			asr, st.seized, set.DegradeBelow, set.RecoverAbove)
	default:
		s.State, s.Why = TrunkUp, fmt.Sprintf("answer ratio %.2f over %.1f recent calls", asr, st.seized)
		if st.probe == ProbeUp {
			s.Why += "; probes answered"
		}
	}
	if st.state != s.State {
		st.state, st.since = s.State, now
	}
	s.Since = st.since
	if s.State.TakesCalls() {
		s.Score = weight * asr * pddFactor(s.PDD, set.PDDTarget)
	}
	return s
}

// pddFactor is 1 up to the target delay and shrinks beyond it: twice the target
// halves the score.
func pddFactor(pdd, target time.Duration) float64 {
	if pdd <= target || target <= 0 {
		return 1
	}
	return target.Seconds() / pdd.Seconds()
}

// ScoreboardFromConfig returns a scoreboard with sip.scoring's thresholds scoring the
// config's trunks at their configured weights.
func ScoreboardFromConfig(cfg *configs.Config, now func() time.Time) *Scoreboard {
	sc := cfg.SIP.Scoring
	b := NewScoreboard(ScoreSettings{HalfLife: sc.HalfLife.Std(), MinSeizures: sc.MinSeizures, DegradeBelow: sc.DegradeBelow,
		RecoverAbove: sc.RecoverAbove, PDDTarget: sc.PDDTarget.Std()}, now)
	b.SetTrunksFromConfig(cfg.Trunks)
	return b
}

// SetTrunksFromConfig scores trunks at their configured weights (see SetTrunks).
func (b *Scoreboard) SetTrunksFromConfig(trunks []configs.Trunk) {
	names := make([]string, 0, len(trunks))
	ctl := make(map[string]TrunkControl, len(trunks))
	for _, t := range trunks {
		names = append(names, t.Name)
		ctl[t.Name] = TrunkControl{Weight: t.Weight}
	}
	b.SetTrunks(names, ctl)
}

// Run refreshes the scores every interval (default 5s) until ctx ends.
func (b *Scoreboard) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			b.Refresh()
		}
	}
}
