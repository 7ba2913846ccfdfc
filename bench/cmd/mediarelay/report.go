package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"callgate/bench/internal/benchkit"
)

type agg struct {
	calls int
	steps []stepResult
	reps  int
}

func (a agg) med(f func(stepResult) float64) float64 {
	xs := make([]float64, 0, len(a.steps))
	for _, s := range a.steps {
		xs = append(xs, f(s))
	}
	return benchkit.Median(xs)
}

func (a agg) passed() int {
	n := 0
	for _, s := range a.steps {
		if s.Pass {
			n++
		}
	}
	return n
}

func (a agg) pass() bool { return a.reps > 0 && 2*a.passed() > a.reps }

func aggregate(steps []stepResult) []agg {
	idx := map[int]int{}
	var out []agg
	for _, s := range steps {
		if s.Rep == 0 {
			continue
		}
		i, ok := idx[s.Calls]
		if !ok {
			i = len(out)
			idx[s.Calls] = i
			out = append(out, agg{calls: s.Calls})
		}
		out[i].reps++
		if !s.Skipped {
			out[i].steps = append(out[i].steps, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].calls < out[j].calls })
	return out
}

func highestPassing(as []agg) int {
	best := 0
	for _, a := range as {
		if !a.pass() {
			break
		}
		best = a.calls
	}
	return best
}

func f0(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.0f", x)
}

func f1(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.1f", x)
}

func f3(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

// addedAt is the median over repetitions of (relay − baseline) at a quantile.
func addedAt(a agg, q func(latency) float64) float64 {
	return a.med(func(s stepResult) float64 {
		if s.Baseline.Forward.N == 0 || s.Relay.Forward.N == 0 {
			return math.NaN()
		}
		return q(s.Relay.Forward) - q(s.Baseline.Forward)
	})
}

const tableHeader = "| concurrent calls | reps passed | setup failures | loss A→B / B→A % | kernel UDP drops | CPU % of core | CPU ns / forwarded packet | one-way A→B p50 / p99 µs | direct baseline p50 / p99 µs | added p50 / p99 µs | jitter at A mean µs | RSS MiB | RSS / call KiB | threads | goroutines | open fds | generators' CPU % | other processes on edge core % |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"

func tableRows(as []agg) string {
	var b strings.Builder
	for _, a := range as {
		if len(a.steps) == 0 {
			fmt.Fprintf(&b, "| %d | not run: a lower step overloaded callgate | | | | | | | | | | | | | | | |\n", a.calls)
			continue
		}
		v := fmt.Sprintf("%d/%d", a.passed(), a.reps)
		if a.pass() {
			v += " ✅"
		} else {
			v += " ❌"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s / %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			a.calls, v,
			f0(a.med(func(s stepResult) float64 { return float64(s.Relay.CallsFailed) })),
			f3(a.med(func(s stepResult) float64 { return s.Relay.LossForward })),
			f3(a.med(func(s stepResult) float64 { return s.Relay.LossReturn })),
			f0(a.med(func(s stepResult) float64 { return float64(s.Net.Drops()) })),
			f1(a.med(func(s stepResult) float64 { return s.CPUPct })),
			f0(a.med(func(s stepResult) float64 { return s.NSPerPacket })),
			f0(a.med(func(s stepResult) float64 { return s.Relay.Forward.P50 })),
			f0(a.med(func(s stepResult) float64 { return s.Relay.Forward.P99 })),
			f0(a.med(func(s stepResult) float64 { return nanIfZero(s.Baseline.Forward.N, s.Baseline.Forward.P50) })),
			f0(a.med(func(s stepResult) float64 { return nanIfZero(s.Baseline.Forward.N, s.Baseline.Forward.P99) })),
			f0(addedAt(a, func(l latency) float64 { return l.P50 })),
			f0(addedAt(a, func(l latency) float64 { return l.P99 })),
			f0(a.med(func(s stepResult) float64 { return s.Relay.JitterMeanUS })),
			f0(a.med(func(s stepResult) float64 { return float64(s.RSS) / (1 << 20) })),
			f1(a.med(func(s stepResult) float64 { return s.RSSPerCall / 1024 })),
			f0(a.med(func(s stepResult) float64 { return float64(s.Threads) })),
			f0(a.med(func(s stepResult) float64 { return float64(s.Goroutines) })),
			f0(a.med(func(s stepResult) float64 { return float64(s.FDs) })),
			f0(a.med(func(s stepResult) float64 { return s.GenCPUPct })),
			f0(a.med(func(s stepResult) float64 { return s.OthersPct })))
	}
	return b.String()
}

func nanIfZero(n int64, v float64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return v
}

func summary(res *results) string {
	as := aggregate(res.Steps)
	var b strings.Builder
	b.WriteString("\nMedia relay: median of the repetitions\n\n")
	b.WriteString(tableHeader)
	b.WriteString(tableRows(as))
	fmt.Fprintf(&b, "\nhighest concurrent calls at the pass line: %s\n", callsOrNone(highestPassing(as)))
	return b.String()
}

func callsOrNone(n int) string {
	if n == 0 {
		return "none of the steps tried"
	}
	return fmt.Sprintf("%d calls", n)
}

func find(as []agg, calls int) (agg, bool) {
	for _, a := range as {
		if a.calls == calls && len(a.steps) > 0 {
			return a, true
		}
	}
	return agg{}, false
}

func report(res *results, s settings) string {
	as := aggregate(res.Steps)
	var b strings.Builder
	b.WriteString("## Media relay: SIP ↔ SIP G.711 through callgate\n\n")
	if s.quick {
		b.WriteString("**Smoke run (QUICK=1): short holds, one repetition. Not the published figures.**\n\n")
	}
	fmt.Fprintf(&b, "Command: `%s`\n\n", s.command)
	b.WriteString(res.Machine.Markdown())
	fmt.Fprintf(&b, " Took %s.\n\n", res.Finished.Sub(res.Started).Round(time.Second))
	fmt.Fprintf(&b, "Method: `bench/cmd/rtpgen` plays carrier A: a sipgo UAC on 127.0.0.2 calls a virtual "+
		"number bound AXN to B, at %.0f calls/s, until the step's number of calls is up; every call then sends a 172-byte "+
		"PCMU packet every 20 ms (phases spread over the 20 ms, batched with sendmmsg) from 4 sockets. callgate (core %d) "+
		"relays each call's RTP between its A-leg and B-leg sockets. Carrier B is a SIPp UAS for signalling that "+
		"answers with rtpgen's echo (127.0.0.3, SO_REUSEPORT sockets, recvmmsg/sendmmsg) as its media address; the echo "+
		"sends each packet back, so callgate forwards every packet twice. The payload carries the send time, the "+
		"echo's arrival time and the call: one-way A→B latency is measured on one monotonic clock. The direct baseline is "+
		"the same generator and echo with no edge between them, at the same number of streams, in the same repetition. "+
		"Each step: %s to settle, %s measured (baseline %s); %d repetition(s), median reported. CPU is callgate's "+
		"utime+stime over the window divided by the packets it forwarded in the window (arrived at the echo + arrived back "+
		"at A); on loopback the kernel's delivery of callgate's sends to the receiving socket is charged to callgate. "+
		"RSS per call is (RSS at the step − RSS before the first call) / calls. Every generator runs on core %d, under "+
		"%s like callgate: the machine is shared with other work, which then only soaks up idle time (the last "+
		"column). Pass line: < 0.1%% failed setups, zero kernel drops, < 0.1%% loss each way, < 80%% of "+
		"the core.\n\n", s.cps, s.sutCore, s.warm, s.hold, s.baselineHold, s.reps, s.genCore, benchkit.SchedDescription())
	b.WriteString(tableHeader)
	b.WriteString(tableRows(as))
	b.WriteString("\n| figure (callgate) | target | measured |\n|---|---|---|\n")
	hp := highestPassing(as)
	fmt.Fprintf(&b, "| concurrent SIP↔SIP relayed calls at the pass line | ≥ 1,800 | %s |\n", callsOrNone(hp))
	if a, ok := find(as, hp); ok {
		fmt.Fprintf(&b, "| CPU per forwarded packet at %d calls | ≤ 4 µs | %s ns |\n", hp, f0(a.med(func(s stepResult) float64 { return s.NSPerPacket })))
		fmt.Fprintf(&b, "| memory per relayed call at %d calls | ≤ 0.1 MB | %s KiB |\n", hp, f1(a.med(func(s stepResult) float64 { return s.RSSPerCall / 1024 })))
	}
	if a, ok := find(as, 1000); ok {
		fmt.Fprintf(&b, "| added one-way latency p99 at 1,000 calls | ≤ 0.5 ms | %s µs (p50 %s µs) |\n",
			f0(addedAt(a, func(l latency) float64 { return l.P99 })), f0(addedAt(a, func(l latency) float64 { return l.P50 })))
	} else {
		b.WriteString("| added one-way latency p99 at 1,000 calls | ≤ 0.5 ms | not reached |\n")
	}
	b.WriteString("\n<details><summary>Every repetition</summary>\n\n| rep | calls | pass | packets forwarded | CPU % | ns/packet | loss A→B / B→A % | drops | A→B p50/p99 µs | baseline p50/p99 µs | B→A p50/p99 µs | others / steal on edge core % | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Steps {
		if r.Rep == 0 {
			continue
		}
		if r.Skipped {
			fmt.Fprintf(&b, "| %d | %d | not run | | | | | | | | | | |\n", r.Rep, r.Calls)
			continue
		}
		fmt.Fprintf(&b, "| %d | %d | %v | %d | %.1f | %.0f | %.3f / %.3f | %d | %.0f/%.0f | %.0f/%.0f | %.0f/%.0f | %.0f / %.0f | %.1f |\n",
			r.Rep, r.Calls, r.Pass, r.Forwarded, r.CPUPct, r.NSPerPacket, r.Relay.LossForward, r.Relay.LossReturn, r.Net.Drops(),
			r.Relay.Forward.P50, r.Relay.Forward.P99, r.Baseline.Forward.P50, r.Baseline.Forward.P99,
			r.Relay.Return.P50, r.Relay.Return.P99, r.OthersPct, r.StealPct, r.Load1)
	}
	b.WriteString("\n</details>\n")
	if res.Profile != "" {
		lines := strings.Split(res.Profile, "\n")
		if len(lines) > 40 {
			lines = lines[:40]
		}
		fmt.Fprintf(&b, "\nCPU profile of callgate relaying %d calls (`callgate serve --cpuprofile`, separate run, %s window; `go tool pprof -top`):\n\n```\n%s\n```\n",
			s.profileCalls, s.profileFor, strings.TrimRight(strings.Join(lines, "\n"), "\n"))
	}
	return b.String()
}
