package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"callgate/bench/internal/benchkit"
)

// agg is one (edge, rate) over its repetitions.
type agg struct {
	peer string
	rate int
	benchkit.Repeated[stepResult]
}

func passed(s stepResult) bool { return s.Pass }

func (a agg) med(f func(stepResult) float64) float64 { return a.Median(f) }

// pass: a majority of the repetitions passed.
func (a agg) pass() bool { return a.Pass(passed) }

func aggregate(steps []stepResult) []agg {
	idx := map[string]int{}
	var out []agg
	for _, s := range steps {
		if s.Rep == 0 {
			continue
		}
		k := fmt.Sprintf("%s/%d", s.Peer, s.Rate)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, agg{peer: s.Peer, rate: s.Rate})
		}
		out[i].Add(s, s.Skipped)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].peer != out[j].peer {
			return out[i].peer < out[j].peer
		}
		return out[i].rate < out[j].rate
	})
	return out
}

func find(as []agg, peer string, rate int) (agg, bool) {
	for _, a := range as {
		if a.peer == peer && a.rate == rate && len(a.Runs) > 0 {
			return a, true
		}
	}
	return agg{}, false
}

// highestPassing is the highest rate that passed with every lower rate passing too.
func highestPassing(as []agg, peer string) int {
	best := 0
	for _, a := range as {
		if a.peer != peer {
			continue
		}
		if !a.pass() {
			break
		}
		best = a.rate
	}
	return best
}

func fPct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	if x > 0 && x < 0.01 {
		return fmt.Sprintf("%.3f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func mib(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.0f", x/(1<<20))
}

const tableHeader = "| edge | offered calls/s | achieved | reps passed | failed % | kernel UDP drops | CPU % of core | CPU µs/call | INVITE→INVITE p50 / p99 µs | 200→200 p50 / p99 µs | memory (PSS) MiB | threads | goroutines | open fds | SIPp CPU % | other processes on edge core % |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"

func tableRows(as []agg) string {
	var b strings.Builder
	for _, a := range as {
		if len(a.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | %d | not run: a lower rate overloaded the edge | | | | | | | | | | | | | |\n", a.peer, a.rate)
			continue
		}
		verdict := a.Verdict(passed)
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s | %s | %s |\n",
			a.peer, a.rate, benchkit.F0(a.med(func(s stepResult) float64 { return s.Achieved })), verdict,
			fPct(a.med(func(s stepResult) float64 { return s.failPct() })),
			benchkit.F0(a.med(func(s stepResult) float64 { return float64(s.Net.Drops()) })),
			fmt.Sprintf("%.1f", a.med(func(s stepResult) float64 { return s.CPUPct })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.CPUPerCall })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.Invite.P50 })), benchkit.F0(a.med(func(s stepResult) float64 { return s.Invite.P99 })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.Answer.P50 })), benchkit.F0(a.med(func(s stepResult) float64 { return s.Answer.P99 })),
			mib(a.med(func(s stepResult) float64 { return float64(s.RSSMax) })),
			benchkit.F0(a.med(func(s stepResult) float64 { return float64(s.ThreadsMax) })),
			goroutines(a),
			benchkit.F0(a.med(func(s stepResult) float64 { return float64(s.FDsMax) })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.GenCPUPct })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.SUTCoreOthersPc })))
	}
	return b.String()
}

func summaryTable(res *results) string {
	as := aggregate(res.Steps)
	var b strings.Builder
	b.WriteString("\nSetup rate: median of the repetitions\n\n")
	b.WriteString(tableHeader)
	b.WriteString(tableRows(as))
	for _, p := range peersOf(as) {
		fmt.Fprintf(&b, "\n%s: highest rate at the pass line: %s\n", p, rateOrNone(highestPassing(as, p)))
	}
	if res.Soak != nil {
		fmt.Fprintf(&b, "soak: %s\n", soakLine(res.Soak))
	}
	return b.String()
}

func peersOf(as []agg) []string {
	var out []string
	for _, a := range as {
		if !contains(out, a.peer) {
			out = append(out, a.peer)
		}
	}
	return out
}

func rateOrNone(r int) string {
	if r == 0 {
		return "none of the rates tried"
	}
	return fmt.Sprintf("%d calls/s", r)
}

func soakLine(s *soakResult) string {
	if len(s.RSS) == 0 {
		return "no samples"
	}
	first, last := s.RSS[0], s.RSS[len(s.RSS)-1]
	peak := first
	for _, v := range s.RSS {
		peak = max(peak, v)
	}
	return fmt.Sprintf("%d calls/s for %.0f s: RSS %.0f MiB after 10 s, %.0f MiB at the end, peak %.0f MiB; failed %.3f%%; %.0f µs/call",
		s.Step.Rate, s.Step.Window, float64(first)/(1<<20), float64(last)/(1<<20), float64(peak)/(1<<20), s.Step.failPct(), s.Step.CPUPerCall)
}

// report is the Markdown section of docs/BENCHMARKS.md.
func report(res *results, s settings) string {
	as := aggregate(res.Steps)
	var b strings.Builder
	b.WriteString("## Setup rate: carrier → A-V-B lookup among 1,000,000 bindings → carrier\n\n")
	if s.quick {
		b.WriteString("**Smoke run (QUICK=1): 10-second holds, one repetition. Not the published figures.**\n\n")
	}
	fmt.Fprintf(&b, "Command: `%s`\n\n", s.command)
	b.WriteString(res.Machine.Markdown())
	fmt.Fprintf(&b, " Took %s.\n\n", res.Finished.Sub(res.Started).Round(time.Second))
	fmt.Fprintf(&b, "Method: SIPp UAC as carrier A (%s) calls virtual numbers through the edge on %s:%d, which "+
		"looks up the AXB binding of (caller, number) among 1,000,000 (10,000 virtual numbers × 100 callers, in SQLite) "+
		"and calls B, a SIPp UAS (%s:%d) that rings and answers at once; A hangs up after %s. No media. "+
		"Callers and numbers come from a %s-line `-inf` file of bound pairs. The edge runs alone on core %d (`taskset`), SIPp "+
		"and tcpdump on core %d. Each rate runs %s of warm-up, then a %s measured window; %d repetition(s) of the whole "+
		"ramp, median reported. CPU is utime+stime from /proc/PID/stat over the window divided by calls created in it; "+
		"memory (PSS: RSS with shared pages split among the processes sharing them, as Kamailio's workers share "+
		"its shared memory), threads and open fds are the maximum of 1-second samples, summed over the edge's processes; drops are the growth of /proc/net/snmp "+
		"`Udp: InErrors` plus softnet backlog drops, system wide. Setup latency comes from a %s loopback capture in the "+
		"middle of the window (tcpdump, INVITEs and 200s only): B's INVITE leaving minus A's INVITE arriving, and A's 200 "+
		"leaving minus B's 200 arriving. Pass line: < 0.1%% failed calls (SIPp UAC), zero kernel drops, < 80%% of the core, "+
		"and SIPp actually offering the rate. The edge and every generator run under %s: the machine is shared "+
		"with other work, which then only soaks up idle time (the last column: what other processes, or the "+
		"hypervisor, used of the edge's core). Goroutines are callgate's `go_goroutines` from its /metrics at the end of the window; setup "+
		"latency comes from the capture, not from callgate's own histograms. callgate's SIP guard is left on with its "+
		"per-trunk-address rate raised (its default, 2,000 messages/s, would cap one carrier at ~650 calls/s).\n\n",
		addrA, addrEdge, portEdge, addrB, portB, s.callHold, countLines(s.inf), s.sutCore, s.genCore, s.warm, s.hold,
		s.reps, s.capture, benchkit.SchedDescription())
	b.WriteString(tableHeader)
	b.WriteString(tableRows(as))
	b.WriteString("\n")

	// Headline figures against the targets of issue 9.
	b.WriteString("| figure (callgate) | target | measured |\n|---|---|---|\n")
	hp := highestPassing(as, "callgate")
	fmt.Fprintf(&b, "| setup rate at the pass line | ≥ 2,000 calls/s | %s |\n", rateOrNone(hp))
	for _, rate := range []int{500, 1000} {
		if a, ok := find(as, "callgate", rate); ok {
			fmt.Fprintf(&b, "| CPU per call at %d calls/s | ≤ 250 µs | %s µs%s |\n", rate,
				benchkit.F0(a.med(func(s stepResult) float64 { return s.CPUPerCall })), overloadNote(a))
		} else {
			fmt.Fprintf(&b, "| CPU per call at %d calls/s | ≤ 250 µs | not reached (a lower rate overloaded callgate) |\n", rate)
		}
	}
	if a, ok := find(as, "callgate", 1000); ok {
		fmt.Fprintf(&b, "| added setup latency p99 at 1,000 calls/s | ≤ 2 ms | INVITE→INVITE %s µs, 200→200 %s µs%s |\n",
			benchkit.F0(a.med(func(s stepResult) float64 { return s.Invite.P99 })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.Answer.P99 })), overloadNote(a))
	} else {
		b.WriteString("| added setup latency p99 at 1,000 calls/s | ≤ 2 ms | not reached |\n")
	}
	if res.Soak != nil {
		fmt.Fprintf(&b, "| RSS over a long hold | – | %s |\n", soakLine(res.Soak))
	} else {
		b.WriteString("| RSS at 1,000 calls/s over a 10-minute hold | – | not measured in this run (SOAK=1) |\n")
	}
	if contains(s.peers, "kamailio") {
		b.WriteString("\nAgainst Kamailio (same run, same store, same SIPp):\n\n| rate | callgate µs/call | Kamailio µs/call | ratio |\n|---|---|---|---|\n")
		for _, rate := range s.rates {
			c, ok1 := find(as, "callgate", rate)
			k, ok2 := find(as, "kamailio", rate)
			if !ok1 || !ok2 {
				continue
			}
			cu := c.med(func(s stepResult) float64 { return s.CPUPerCall })
			ku := k.med(func(s stepResult) float64 { return s.CPUPerCall })
			fmt.Fprintf(&b, "| %d | %s%s | %s%s | %.1f× |\n", rate, benchkit.F0(cu), overloadNote(c), benchkit.F0(ku), overloadNote(k), cu/ku)
		}
		fmt.Fprintf(&b, "\nHighest rate at the pass line: callgate %s, Kamailio %s.\n",
			rateOrNone(hp), rateOrNone(highestPassing(as, "kamailio")))
	}

	b.WriteString("\n<details><summary>Every repetition</summary>\n\n| edge | rep | calls/s | achieved | created | failed (kinds) | retrans | drops | CPU % | µs/call | INVITE→INVITE p50/p99 | 200→200 p50/p99 | others / steal on edge core % | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Steps {
		if r.Rep == 0 {
			continue
		}
		if r.Skipped {
			fmt.Fprintf(&b, "| %s | %d | %d | not run | | | | | | | | | | |\n", r.Peer, r.Rep, r.Rate)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %d | %d (%s) | %d | %d | %.1f | %.0f | %s/%s | %s/%s | %.0f / %.0f | %.1f |\n",
			r.Peer, r.Rep, r.Rate, r.Achieved, r.Created, r.Failed, r.FailKinds, r.Retrans, r.Net.Drops(), r.CPUPct, r.CPUPerCall,
			benchkit.F0(r.Invite.P50), benchkit.F0(r.Invite.P99), benchkit.F0(r.Answer.P50), benchkit.F0(r.Answer.P99), r.SUTCoreOthersPc, r.SUTCoreStealPc, r.Load1)
	}
	b.WriteString("\n</details>\n")
	if res.Profile != "" {
		lines := strings.Split(res.Profile, "\n")
		if len(lines) > 40 {
			lines = lines[:40]
		}
		fmt.Fprintf(&b, "\nCPU profile of callgate (`callgate serve --cpuprofile`, a separate run at %d calls/s for %s, "+
			"start-up included; `go tool pprof -top`; the profile and `top-cum.txt` are in `bench/out/setup/profile/`):\n\n```\n%s\n```\n",
			s.profileRate, s.profileFor, strings.TrimRight(strings.Join(lines, "\n"), "\n"))
		if cum, err := os.ReadFile(filepath.Join(s.out, "profile", "top-cum.txt")); err == nil {
			cl := strings.Split(string(cum), "\n")
			if len(cl) > 50 {
				cl = cl[:50]
			}
			fmt.Fprintf(&b, "\nThe same profile by cumulative time (`go tool pprof -top -cum`):\n\n```\n%s\n```\n",
				strings.TrimRight(strings.Join(cl, "\n"), "\n"))
		}
	}
	return b.String()
}

func goroutines(a agg) string {
	g := a.med(func(s stepResult) float64 { return float64(s.Goroutines) })
	if math.IsNaN(g) || g == 0 {
		return "–"
	}
	return benchkit.F0(g)
}

func overloadNote(a agg) string {
	if a.pass() {
		return ""
	}
	return " (fails the pass line)"
}

func countLines(path string) string {
	pairs, err := loadPairs(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%d", len(pairs))
}
