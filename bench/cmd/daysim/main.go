// Command daysim replays one seeded day of outbound calls over several suppliers'
// trunks twice: once ordering each call's trunks by callgate's trunk scoreboard
// (routing.Scoreboard, the one call setup reads), once in plain round-robin. Both
// fail over to the next trunk on a 503 and never on a callee's answer, as callgate
// does. The day has a supplier outage and a province where one supplier's answer rate
// collapses; the summary compares the answer rates.
//
//	go run ./bench/cmd/daysim               # seed 1, 20,000 calls
//	go run ./bench/cmd/daysim -seed 7 -calls 50000
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"callgate/routing"
)

func main() {
	seed := flag.Uint64("seed", 1, "random seed: the same seed replays the same day")
	calls := flag.Int("calls", 20000, "calls in the day")
	flag.Parse()
	report(os.Stdout, simulate(*seed, *calls))
}

// day is the simulated day's start.
var day = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// world is the day's suppliers: their trunks per province, each trunk's answer rate,
// and the two incidents.
type world struct {
	provinces []string
	suppliers []string
	base      map[string]float64 // supplier → answer rate when all is well
}

func newWorld() world {
	return world{
		provinces: []string{"guangdong", "beijing"},
		suppliers: []string{"a", "b", "c"},
		base:      map[string]float64{"a": 0.52, "b": 0.50, "c": 0.46},
	}
}

// Incidents: supplier a answers every INVITE 503 from 10:00 to 11:30; supplier b's
// numbers are labelled as spam in guangdong from 13:00 to 18:00 and its answer rate
// there drops to 0.08.
var (
	outageFrom, outageTo = day.Add(10 * time.Hour), day.Add(11*time.Hour + 30*time.Minute)
	spamFrom, spamTo     = day.Add(13 * time.Hour), day.Add(18 * time.Hour)
)

func trunkName(supplier, province string) string { return supplier + "-" + province }

// down reports whether supplier answers 503 at t.
func down(supplier string, t time.Time) bool {
	return supplier == "a" && !t.Before(outageFrom) && t.Before(outageTo)
}

// answerRate is the chance a call on supplier's trunk in province is answered at t.
func (w world) answerRate(supplier, province string, t time.Time) float64 {
	if supplier == "b" && province == "guangdong" && !t.Before(spamFrom) && t.Before(spamTo) {
		return 0.08
	}
	return w.base[supplier]
}

// call is one call of the day: when and to which province.
type call struct {
	at       time.Time
	province string
	luck     [4]float64 // the draws that decide its answer, one per attempt
}

// traffic draws the day's calls: between 08:00 and 21:00, more in the late morning
// and afternoon, 60% to guangdong.
func traffic(seed uint64, n int) []call {
	rng := rand.New(rand.NewPCG(seed, 0xCA11))
	out := make([]call, n)
	for i := range out {
		h := 8 + 13*rng.Float64()
		if rng.Float64() < 0.4 { // busy hours
			h = 10 + 6*rng.Float64()
		}
		c := call{at: day.Add(time.Duration(h * float64(time.Hour))), province: "beijing"}
		if rng.Float64() < 0.6 {
			c.province = "guangdong"
		}
		for j := range c.luck {
			c.luck[j] = rng.Float64()
		}
		out[i] = c
	}
	slices.SortFunc(out, func(a, b call) int { return a.at.Compare(b.at) })
	return out
}

// outcome is how one way of ordering trunks did over the day.
type outcome struct {
	name                   string
	calls, answered, tries int
	// in the two incidents' windows
	outageCalls, outageAnswered int
	spamCalls, spamAnswered     int
	// calls placed per supplier
	bySupplier map[string]int
}

func (o outcome) rate(a, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(a) / float64(n)
}

// orderer gives the trunks a call in province tries, in order.
type orderer interface {
	order(province string, at time.Time) []string
	observe(trunk string, at time.Time, answered bool)
}

// play runs the day's calls with o: each call tries its trunks in order, moving on
// only after a 503 (a supplier that is down); the callee's answer or not is final.
func play(w world, name string, calls []call, o orderer) outcome {
	res := outcome{name: name, bySupplier: map[string]int{}}
	for _, c := range calls {
		res.calls++
		inOutage := !c.at.Before(outageFrom) && c.at.Before(outageTo)
		inSpam := c.province == "guangdong" && !c.at.Before(spamFrom) && c.at.Before(spamTo)
		answered := false
		for i, trunk := range o.order(c.province, c.at) {
			if i == len(c.luck) {
				break
			}
			res.tries++
			supplier := trunk[:1]
			at := c.at.Add(time.Duration(i) * 200 * time.Millisecond)
			if down(supplier, at) {
				o.observe(trunk, at, false)
				continue // 503: the next trunk
			}
			res.bySupplier[supplier]++
			answered = c.luck[i] < w.answerRate(supplier, c.province, at)
			o.observe(trunk, at, answered)
			break // answered or not, the callee decided
		}
		if answered {
			res.answered++
		}
		if inOutage {
			res.outageCalls++
			if answered {
				res.outageAnswered++
			}
		}
		if inSpam {
			res.spamCalls++
			if answered {
				res.spamAnswered++
			}
		}
	}
	return res
}

// scored orders trunks as callgate's failover does: trunks that take calls, up before
// degraded, then by score.
type scored struct {
	board *routing.Scoreboard
	clock *time.Time
	w     world
}

func newScored(w world) *scored {
	var now time.Time
	s := &scored{clock: &now, w: w}
	s.board = routing.NewScoreboard(routing.ScoreSettings{}, func() time.Time { return *s.clock })
	var names []string
	for _, p := range w.provinces {
		for _, sup := range w.suppliers {
			names = append(names, trunkName(sup, p))
		}
	}
	s.board.SetTrunks(names, nil)
	return s
}

func (s *scored) order(province string, at time.Time) []string {
	*s.clock = at
	s.board.Refresh()
	type cand struct {
		name  string
		up    bool
		score float64
	}
	var cs []cand
	for _, sup := range s.w.suppliers {
		n := trunkName(sup, province)
		sc, _ := s.board.Score(n)
		if !sc.State.TakesCalls() {
			continue
		}
		cs = append(cs, cand{n, sc.State == routing.TrunkUp, sc.Score})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.up != b.up {
			if a.up {
				return -1
			}
			return 1
		}
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

func (s *scored) observe(trunk string, at time.Time, answered bool) {
	*s.clock = at
	s.board.Observe(routing.Seizure{Trunk: trunk, At: at, Answered: answered, PDD: 2 * time.Second})
}

// roundRobin starts each call on the next trunk of the province in turn.
type roundRobin struct {
	w    world
	next map[string]int
}

func (r *roundRobin) order(province string, _ time.Time) []string {
	i := r.next[province]
	r.next[province] = i + 1
	n := len(r.w.suppliers)
	out := make([]string, n)
	for j := range n {
		out[j] = trunkName(r.w.suppliers[(i+j)%n], province)
	}
	return out
}

func (r *roundRobin) observe(string, time.Time, bool) {}

// simulate plays the seeded day with callgate's scoring and with round-robin.
func simulate(seed uint64, n int) []outcome {
	w := newWorld()
	calls := traffic(seed, n)
	return []outcome{
		play(w, "callgate scoring", calls, newScored(w)),
		play(w, "round-robin", calls, &roundRobin{w: w, next: map[string]int{}}),
	}
}

func report(out io.Writer, res []outcome) {
	fmt.Fprintln(out, "| ordering | calls | answered | answer rate | INVITEs per call | during a's outage | b's spam window in guangdong | calls on a / b / c |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|")
	for _, r := range res {
		fmt.Fprintf(out, "| %s | %d | %d | %.1f%% | %.3f | %.1f%% of %d | %.1f%% of %d | %d / %d / %d |\n",
			r.name, r.calls, r.answered, 100*r.rate(r.answered, r.calls), float64(r.tries)/float64(r.calls),
			100*r.rate(r.outageAnswered, r.outageCalls), r.outageCalls,
			100*r.rate(r.spamAnswered, r.spamCalls), r.spamCalls,
			r.bySupplier["a"], r.bySupplier["b"], r.bySupplier["c"])
	}
}
