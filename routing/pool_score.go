package routing

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"callgate/configs"
	"callgate/pool"
)

// This file scores number pools for allocation: a new binding takes its virtual
// number from the policy's pools in the order PoolBoard.Order gives them, best first.
// A pool's score is its manual weight × the answer-seizure ratio of the best of its
// trunks that takes calls (from the trunk Scoreboard, so decay, probes and
// hysteresis carry over) × how much room it has left (remaining numbers over
// remaining + reserve). A drained pool, or one whose weight is negative, gives no new
// bindings. Counts come from the store off the hot path (Refresh); Order reads an
// immutable snapshot and takes no lock.

// PoolDef is a pool as the board scores it.
type PoolDef struct {
	Name, Supplier string
	// Trunks carry the pool's calls; the best of them that takes calls lends the
	// pool its answer ratio.
	Trunks []string
	// Weight is the configured manual weight; 0 means 1; negative: no new bindings.
	Weight float64
}

// PoolControl is what an admin sets on a pool by hand (API).
type PoolControl struct {
	// Weight scales the pool's score; 0 means 1; negative: no new bindings.
	Weight float64
	// Drained pools give no new bindings; bindings they gave keep routing.
	Drained bool
}

// PoolScore is a pool's standing at one moment, and why.
type PoolScore struct {
	Pool     string `json:"pool"`
	Supplier string `json:"supplier,omitempty"`
	// Total, Remaining and Blocked count the pool's numbers (pool.PoolCount); Counted
	// is false until the store has been read.
	Total     int  `json:"total"`
	Remaining int  `json:"remaining"`
	Blocked   int  `json:"blocked"`
	Counted   bool `json:"counted"`
	// ASR is the answer ratio of the pool's best trunk that takes calls (Trunk); 0
	// when none does.
	ASR     float64 `json:"asr"`
	Trunk   string  `json:"trunk,omitempty"`
	Weight  float64 `json:"weight"`
	Drained bool    `json:"drained"`
	// Takes reports whether the pool gives new bindings at all.
	Takes bool `json:"takes_bindings"`
	// Score orders the pools of a policy: higher first.
	Score float64 `json:"score"`
	// Why says what decided Score, in words.
	Why string `json:"why"`
	// At is when the counts were read.
	At time.Time `json:"counted_at"`
}

// TrunkScoreReader reads trunk standings without blocking; *Scoreboard is one.
type TrunkScoreReader interface {
	Score(trunk string) (TrunkScore, bool)
}

var _ TrunkScoreReader = (*Scoreboard)(nil)

// PoolCounter counts the pools' numbers; *pool.SQLiteStore is one.
type PoolCounter interface {
	PoolCounts(ctx context.Context) (map[string]pool.PoolCount, error)
}

var _ PoolCounter = (*pool.SQLiteStore)(nil)

// DefaultPoolReserve is the number of remaining numbers at which a pool's room
// halves its score.
const DefaultPoolReserve = 10

// PoolBoard scores pools. Writers (SetPools, SetControl, SetCounts, Refresh,
// Publish) take a short lock and publish a snapshot; Order, Score and Scores read it
// without locking. Safe for concurrent use.
type PoolBoard struct {
	trunks  TrunkScoreReader
	now     func() time.Time
	reserve float64

	mu     sync.Mutex
	defs   []PoolDef
	ctl    map[string]PoolControl
	counts map[string]pool.PoolCount
	at     time.Time // counts read at

	snap atomic.Pointer[poolSnapshot]
}

// poolSnapshot is one published set of scores.
type poolSnapshot struct {
	byName map[string]PoolScore
	list   []PoolScore // in config order
}

// NewPoolBoard returns a board scoring pools with trunks' standings (nil: every
// pool's ratio is the neutral prior), the clock now (nil: time.Now) and reserve
// remaining numbers halving a pool's room score (0: DefaultPoolReserve).
func NewPoolBoard(trunks TrunkScoreReader, now func() time.Time, reserve int) *PoolBoard {
	if now == nil {
		now = time.Now
	}
	b := &PoolBoard{trunks: trunks, now: now, reserve: float64(cmp.Or(reserve, DefaultPoolReserve)),
		ctl: map[string]PoolControl{}}
	b.publishLocked()
	return b
}

// PoolDefsFrom returns the config's virtual pools, which bindings are allocated from.
func PoolDefsFrom(cfg *configs.Config) []PoolDef {
	var out []PoolDef
	for _, p := range cfg.Pools {
		if p.Type == "virtual" {
			out = append(out, PoolDef{Name: p.Name, Supplier: p.Supplier, Trunks: slices.Clone(p.Trunks), Weight: p.Weight})
		}
	}
	return out
}

// SetPools makes defs the scored pools, each at its configured weight; a control
// set by hand since is replaced by the config's (as trunks' are), a drain kept.
func (b *PoolBoard) SetPools(defs []PoolDef) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ctl := make(map[string]PoolControl, len(defs))
	for _, d := range defs {
		ctl[d.Name] = PoolControl{Weight: d.Weight, Drained: b.ctl[d.Name].Drained}
	}
	b.defs, b.ctl = slices.Clone(defs), ctl
	b.publishLocked()
}

// SetControl sets a pool's manual weight and drain; false for an unknown pool.
func (b *PoolBoard) SetControl(name string, c PoolControl) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.ctl[name]; !ok {
		return false
	}
	b.ctl[name] = c
	b.publishLocked()
	return true
}

// SetCounts records the pools' counts as read now.
func (b *PoolBoard) SetCounts(counts map[string]pool.PoolCount) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.counts, b.at = counts, b.now()
	b.publishLocked()
}

// Refresh reads the counts from counter and rescores every pool (the trunks'
// standings move on their own). Run it every few seconds, and after a supplier
// changes a number's state.
func (b *PoolBoard) Refresh(ctx context.Context, counter PoolCounter) error {
	counts, err := counter.PoolCounts(ctx)
	if err != nil {
		return fmt.Errorf("routing: refresh pool scores: %w", err)
	}
	b.SetCounts(counts)
	return nil
}

// Publish rescores every pool with the counts it has.
func (b *PoolBoard) Publish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publishLocked()
}

// Run refreshes the scores every interval (default 5s) until ctx ends; failures go
// to onErr (nil: ignored) and the last scores stay.
func (b *PoolBoard) Run(ctx context.Context, counter PoolCounter, every time.Duration, onErr func(error)) {
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := b.Refresh(ctx, counter); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Order returns pools ordered for allocation: pools that give bindings by score,
// highest first (scores are compared to two decimals, and ties keep the given
// order, so that noise does not reorder a policy), without drained pools and pools of
// negative weight. Pools the board does not know keep their place among the others'
// scores as if scored by the neutral prior. It takes no lock; the result is new.
func (b *PoolBoard) Order(pools []string) []string {
	snap := b.snap.Load()
	type ranked struct {
		name  string
		score float64
	}
	rs := make([]ranked, 0, len(pools))
	for _, n := range pools {
		s, ok := snap.byName[n]
		switch {
		case !ok:
			rs = append(rs, ranked{n, orderKey(prior)})
		case s.Takes:
			rs = append(rs, ranked{n, orderKey(s.Score)})
		}
	}
	slices.SortStableFunc(rs, func(x, y ranked) int { return cmp.Compare(y.score, x.score) })
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.name
	}
	return out
}

// orderKey is score rounded to two decimals.
func orderKey(score float64) float64 { return math.Round(score*100) / 100 }

// Score returns one pool's standing.
func (b *PoolBoard) Score(name string) (PoolScore, bool) {
	s, ok := b.snap.Load().byName[name]
	return s, ok
}

// Scores returns every pool's standing, in config order.
func (b *PoolBoard) Scores() []PoolScore { return slices.Clone(b.snap.Load().list) }

// publishLocked scores every pool and stores a new snapshot.
func (b *PoolBoard) publishLocked() {
	snap := &poolSnapshot{byName: make(map[string]PoolScore, len(b.defs)), list: make([]PoolScore, 0, len(b.defs))}
	for _, d := range b.defs {
		s := b.judge(d)
		snap.byName[d.Name] = s
		snap.list = append(snap.list, s)
	}
	b.snap.Store(snap)
}

// judge scores one pool.
func (b *PoolBoard) judge(d PoolDef) PoolScore {
	c := b.ctl[d.Name]
	w := c.Weight
	if w == 0 {
		w = 1
	}
	s := PoolScore{Pool: d.Name, Supplier: d.Supplier, Weight: w, Drained: c.Drained}
	if cnt, ok := b.counts[d.Name]; ok {
		s.Total, s.Remaining, s.Blocked, s.Counted, s.At = cnt.Total, cnt.Remaining, cnt.Blocked, true, b.at
	} else if b.counts != nil {
		s.Counted, s.At = true, b.at // counted, and the store has no number of it
	}
	asr, trunk, why := b.poolASR(d)
	s.ASR, s.Trunk = asr, trunk
	room := 1.0
	if s.Counted {
		room = float64(s.Remaining) / (float64(s.Remaining) + b.reserve)
	}
	switch {
	case c.Drained:
		s.Why = "drained by hand: no new bindings"
	case w < 0:
		s.Why = fmt.Sprintf("weight %g is negative: no new bindings", w)
	case s.Counted && s.Remaining == 0:
		s.Takes = true
		s.Why = fmt.Sprintf("no remaining numbers (%d in all, %d blocked)", s.Total, s.Blocked)
	case trunk == "":
		s.Takes = true
		s.Why = "no trunk takes calls: " + why
	default:
		s.Takes = true
		s.Score = w * asr * room
		s.Why = fmt.Sprintf("weight %g × answer ratio %.2f (%s) × room %.2f", w, asr, why, room)
		if s.Counted {
			s.Why += fmt.Sprintf(" for %d remaining of %d (%d blocked)", s.Remaining, s.Total, s.Blocked)
		} else {
			s.Why += " (numbers not counted yet)"
		}
	}
	if math.IsNaN(s.Score) {
		s.Score = 0
	}
	return s
}

// poolASR returns the answer ratio of d's best trunk that takes calls and its name,
// or "" and why none does.
func (b *PoolBoard) poolASR(d PoolDef) (float64, string, string) {
	if len(d.Trunks) == 0 {
		return 0, "", "the pool has no trunks"
	}
	var best TrunkScore
	var not []string
	for _, t := range d.Trunks {
		ts := TrunkScore{Trunk: t, State: TrunkUp, ASR: prior}
		if b.trunks != nil {
			var ok bool
			if ts, ok = b.trunks.Score(t); !ok {
				ts = TrunkScore{Trunk: t, State: TrunkUp, ASR: prior}
			}
		}
		switch {
		case !ts.State.TakesCalls():
			not = append(not, t+" "+string(ts.State))
		case best.Trunk == "" || rankState(ts.State) < rankState(best.State) ||
			rankState(ts.State) == rankState(best.State) && ts.ASR > best.ASR:
			best = ts
		}
	}
	if best.Trunk == "" {
		return 0, "", strings.Join(not, ", ")
	}
	why := "trunk " + best.Trunk
	if best.State == TrunkDegraded {
		why += ", degraded"
	}
	return best.ASR, best.Trunk, why
}

// rankState orders trunk states that take calls: up before degraded.
func rankState(s TrunkState) int {
	if s == TrunkUp {
		return 0
	}
	return 1
}
