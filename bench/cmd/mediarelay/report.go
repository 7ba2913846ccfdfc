package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"callgate/bench/internal/benchkit"
)

// agg is one (edge, concurrent calls) step over its repetitions.
type agg struct {
	peer  string
	calls int
	benchkit.Repeated[stepResult]
	note string // why a step was not reached, if the ramp gave up on the way to it
}

func passed(s stepResult) bool { return s.Pass }

func (a agg) med(f func(stepResult) float64) float64 { return a.Median(f) }

func (a agg) pass() bool { return a.Pass(passed) }

func (a agg) ran() bool { return len(a.Runs) > 0 }

// aggregate groups the repetitions by edge (in the order the edges ran) and step.
func aggregate(steps []stepResult) []agg {
	idx := map[string]int{}
	order := map[string]int{}
	var out []agg
	for _, s := range steps {
		if s.Rep == 0 {
			continue
		}
		p := s.peerName()
		if _, ok := order[p]; !ok {
			order[p] = len(order)
		}
		k := fmt.Sprintf("%s/%d", p, s.Calls)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, agg{peer: p, calls: s.Calls})
		}
		out[i].Add(s, s.Skipped)
		if s.Skipped && strings.HasPrefix(s.Note, "not reached") {
			out[i].note = s.Note
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].peer != out[j].peer {
			return order[out[i].peer] < order[out[j].peer]
		}
		return out[i].calls < out[j].calls
	})
	return out
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

// highestPassing is the highest step of peer that passed with every lower one too.
func highestPassing(as []agg, peer string) int {
	best := 0
	for _, a := range as {
		if a.peer != peer {
			continue
		}
		if !a.pass() {
			break
		}
		best = a.calls
	}
	return best
}

func find(as []agg, peer string, calls int) (agg, bool) {
	for _, a := range as {
		if a.peer == peer && a.calls == calls && a.ran() {
			return a, true
		}
	}
	return agg{}, false
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

func p50(l latency) float64 { return l.P50 }
func p99(l latency) float64 { return l.P99 }

func nsPerPacket(s stepResult) float64 { return s.NSPerPacket }

const tableHeader = "| edge | concurrent calls | reps passed | setup failures | loss A→B / B→A % | kernel UDP drops | CPU % of core | CPU ns / forwarded packet | separate SIP proxy (Kamailio) CPU % / µs per call set up | one-way A→B p50 / p99 µs | direct baseline p50 / p99 µs | added p50 / p99 µs | jitter at A mean µs | memory MiB | memory / call KiB | threads | goroutines | open fds | generators' CPU % | other processes on edge core % |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"

func tableRows(as []agg) string {
	var b strings.Builder
	for _, a := range as {
		if !a.ran() {
			note := a.note
			if note == "" {
				note = "not run: a lower step overloaded " + a.peer
			}
			fmt.Fprintf(&b, "| %s | %d | %s | | | | | | | | | | | | | | | | | |\n", a.peer, a.calls, mdCell(note))
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s / %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			a.peer, a.calls, a.Verdict(passed),
			benchkit.F0(a.med(func(s stepResult) float64 { return float64(s.Relay.CallsFailed) })),
			benchkit.F3(a.med(func(s stepResult) float64 { return s.Relay.LossForward })),
			benchkit.F3(a.med(func(s stepResult) float64 { return s.Relay.LossReturn })),
			benchkit.F0(a.med(func(s stepResult) float64 { return float64(s.Net.Drops()) })),
			benchkit.F1(a.med(func(s stepResult) float64 { return s.CPUPct })),
			benchkit.F0(a.med(nsPerPacket)),
			sigCell(a),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.Relay.Forward.P50 })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.Relay.Forward.P99 })),
			benchkit.F0(a.med(func(s stepResult) float64 { return nanIfZero(s.Baseline.Forward.N, s.Baseline.Forward.P50) })),
			benchkit.F0(a.med(func(s stepResult) float64 { return nanIfZero(s.Baseline.Forward.N, s.Baseline.Forward.P99) })),
			benchkit.F0(addedAt(a, p50)),
			benchkit.F0(addedAt(a, p99)),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.Relay.JitterMeanUS })),
			benchkit.F0(a.med(func(s stepResult) float64 { return float64(s.RSS) / (1 << 20) })),
			benchkit.F1(a.med(func(s stepResult) float64 { return s.RSSPerCall / 1024 })),
			benchkit.F0(a.med(func(s stepResult) float64 { return float64(s.Threads) })),
			goroutines(a),
			benchkit.F0(a.med(func(s stepResult) float64 { return float64(s.FDs) })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.GenCPUPct })),
			benchkit.F0(a.med(func(s stepResult) float64 { return s.OthersPct })))
	}
	return b.String()
}

// sigCell is the signalling proxy's CPU: callgate has none apart (its SIP work is
// in its own figure).
func sigCell(a agg) string {
	if a.peer == "callgate" {
		return "– (in its CPU)"
	}
	return benchkit.F1(a.med(func(s stepResult) float64 { return s.SigCPUPct })) + " / " +
		benchkit.F0(a.med(func(s stepResult) float64 { return nanIfZero(int64(s.SigUSPerSetup), s.SigUSPerSetup) }))
}

func goroutines(a agg) string {
	g := a.med(func(s stepResult) float64 { return float64(s.Goroutines) })
	if math.IsNaN(g) || g == 0 {
		return "–"
	}
	return benchkit.F0(g)
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
	b.WriteString("\n")
	for _, p := range peersOf(as) {
		fmt.Fprintf(&b, "%s: highest concurrent calls at the pass line: %s\n", p, callsOrNone(highestPassing(as, p)))
	}
	if contains(peersOf(as), "rtpengine") && contains(peersOf(as), "callgate") {
		b.WriteString("\n")
		b.WriteString(peerTable(as))
	}
	return b.String()
}

func callsOrNone(n int) string {
	if n == 0 {
		return "none of the steps tried"
	}
	return fmt.Sprintf("%d calls", n)
}

// peerTable sets callgate against rtpengine at every step both ran: the ratio of
// their CPU per forwarded packet where both pass, and the latency each adds.
func peerTable(as []agg) string {
	var b strings.Builder
	b.WriteString("| concurrent calls | callgate ns/packet | rtpengine ns/packet | callgate ÷ rtpengine | added p99 µs callgate | added p99 µs rtpengine | Kamailio µs per call set up |\n|---|---|---|---|---|---|---|\n")
	var steps []int
	for _, a := range as {
		if !contains(steps, a.calls) {
			steps = append(steps, a.calls)
		}
	}
	sort.Ints(steps)
	for _, n := range steps {
		c, ok1 := find(as, "callgate", n)
		r, ok2 := find(as, "rtpengine", n)
		if !ok1 || !ok2 {
			continue
		}
		cn, rn := c.med(nsPerPacket), r.med(nsPerPacket)
		ratio := fmt.Sprintf("%.2f×", cn/rn)
		switch {
		case !c.pass() && !r.pass():
			ratio = "– (neither passes)"
		case !c.pass():
			ratio = "– (callgate fails the pass line)"
		case !r.pass():
			ratio = "– (rtpengine fails the pass line)"
		case math.IsNaN(cn) || math.IsNaN(rn) || rn == 0:
			ratio = "–"
		}
		fmt.Fprintf(&b, "| %d | %s%s | %s%s | %s | %s | %s | %s |\n", n,
			benchkit.F0(cn), overloadNote(c), benchkit.F0(rn), overloadNote(r), ratio,
			benchkit.F0(addedAt(c, p99)), benchkit.F0(addedAt(r, p99)),
			benchkit.F0(r.med(func(s stepResult) float64 { return nanIfZero(int64(s.SigUSPerSetup), s.SigUSPerSetup) })))
	}
	fmt.Fprintf(&b, "\nHighest concurrent calls at the pass line: callgate %s, rtpengine %s.\n",
		callsOrNone(highestPassing(as, "callgate")), callsOrNone(highestPassing(as, "rtpengine")))
	return b.String()
}

func overloadNote(a agg) string {
	if a.pass() {
		return ""
	}
	return " (fails)"
}

// contains reports whether xs holds x.
func contains[T comparable](xs []T, x T) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func report(res *results, s settings) string {
	as := aggregate(res.Steps)
	peers := peersOf(as)
	withPeer := contains(peers, "rtpengine")
	var b strings.Builder
	if withPeer {
		b.WriteString("## Media relay: SIP ↔ SIP G.711 through callgate, and through rtpengine behind Kamailio\n\n")
	} else {
		b.WriteString("## Media relay: SIP ↔ SIP G.711 through callgate\n\n")
	}
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
		"sends each packet back, so the edge forwards every packet twice. The payload carries the send time, the "+
		"echo's arrival time and the call: one-way A→B latency is measured on one monotonic clock. The direct baseline is "+
		"the same generator and echo with no edge between them, at the same number of streams, in the same repetition. "+
		"Each step: %s to settle, %s measured (baseline %s); %d repetition(s), median reported. CPU is the relay's "+
		"utime+stime over the window divided by the packets it forwarded in the window (arrived at the echo + arrived back "+
		"at A); on loopback the kernel's delivery of the relay's sends to the receiving socket is charged to the relay. "+
		"Memory per call is (memory at the step − memory before the first call) / calls; callgate's memory is its RSS. "+
		"Every generator runs on core %d, under "+
		"%s like the edge: the machine is shared with other work, which then only soaks up idle time (the last "+
		"column). Pass line: < 0.1%% failed setups, zero kernel drops, < 0.1%% loss each way, < 80%% of "+
		"the core.\n\n", s.cps, s.sutCore, s.warm, s.hold, s.baselineHold, s.reps, s.genCore, benchkit.SchedDescription())
	if withPeer {
		fmt.Fprintf(&b, "The peer, in the same run (after callgate in each repetition, with the same generator, echo, SIPp "+
			"and baseline): rtpengine in userspace (`%s`: no kernel forwarding, which these kernels cannot load; %d worker "+
			"thread(s), as it has one core, shared with Kamailio) with Kamailio as the SIP proxy on callgate's address "+
			"(127.0.0.1:5060; TLSF allocator, 4 workers), both pinned to core %d. Kamailio is a stateful proxy that routes "+
			"every INVITE from carrier A to carrier B statically — no binding lookup, where callgate looks the number up "+
			"on each call — with Record-Route for in-dialog requests, and calls `rtpengine_manage()` over the NG protocol "+
			"on loopback: offer on the INVITE, answer on the 200, delete on the BYE (`bench/kamailio/kamailio-rtpengine.cfg`). "+
			"Carrier B's scenario echoes the Record-Route behind the proxy. The CPU column of the rtpengine rows is "+
			"rtpengine's process (all its threads) per forwarded packet; Kamailio's CPU is a separate column (%% of the "+
			"core in the window, and µs per call over the ramp up to the step, when the calls are set up). callgate's CPU "+
			"includes its own SIP work (the window itself sets no calls up). rtpengine's memory is its RSS plus Kamailio's "+
			"PSS (its workers share Kamailio's shared memory; PSS counts it once). For the pass line the edge's share of "+
			"the core is rtpengine's plus Kamailio's.\n\n",
			strings.Join(rtpengineArgs(s.rtpengineThreads), " "), s.rtpengineThreads, s.sutCore)
	}
	b.WriteString(tableHeader)
	b.WriteString(tableRows(as))
	b.WriteString("\n| figure (callgate) | target | measured |\n|---|---|---|\n")
	hp := highestPassing(as, "callgate")
	fmt.Fprintf(&b, "| concurrent SIP↔SIP relayed calls at the pass line | ≥ 1,800 | %s |\n", callsOrNone(hp))
	if a, ok := find(as, "callgate", hp); ok {
		fmt.Fprintf(&b, "| CPU per forwarded packet at %d calls | ≤ 4 µs | %s ns |\n", hp, benchkit.F0(a.med(nsPerPacket)))
		fmt.Fprintf(&b, "| memory per relayed call at %d calls | ≤ 0.1 MB | %s KiB |\n", hp, benchkit.F1(a.med(func(s stepResult) float64 { return s.RSSPerCall / 1024 })))
	}
	if a, ok := find(as, "callgate", 1000); ok {
		fmt.Fprintf(&b, "| added one-way latency p99 at 1,000 calls | ≤ 0.5 ms | %s µs (p50 %s µs) |\n",
			benchkit.F0(addedAt(a, p99)), benchkit.F0(addedAt(a, p50)))
	} else {
		b.WriteString("| added one-way latency p99 at 1,000 calls | ≤ 0.5 ms | not reached |\n")
	}
	if withPeer && contains(peers, "callgate") {
		b.WriteString("\nAgainst rtpengine behind Kamailio (same run, same generator and echo):\n\n")
		b.WriteString(peerTable(as))
	}
	b.WriteString("\n<details><summary>Every repetition</summary>\n\n| edge | rep | calls | pass | packets forwarded | CPU % | ns/packet | separate SIP proxy (Kamailio) CPU % / µs per call set up | loss A→B / B→A % | drops | A→B p50/p99 µs | baseline p50/p99 µs | B→A p50/p99 µs | others / steal on edge core % | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Steps {
		if r.Rep == 0 {
			continue
		}
		if r.Skipped {
			what := "not run"
			if strings.HasPrefix(r.Note, "not reached") {
				what = mdCell(r.Note)
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %s | | | | | | | | | | | |\n", r.peerName(), r.Rep, r.Calls, what)
			continue
		}
		sig := "–"
		if r.peerName() != "callgate" {
			sig = fmt.Sprintf("%.1f / %.0f", r.SigCPUPct, r.SigUSPerSetup)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %v | %d | %.1f | %.0f | %s | %.3f / %.3f | %d | %.0f/%.0f | %.0f/%.0f | %.0f/%.0f | %.0f / %.0f | %.1f |\n",
			r.peerName(), r.Rep, r.Calls, r.Pass, r.Forwarded, r.CPUPct, r.NSPerPacket, sig, r.Relay.LossForward, r.Relay.LossReturn, r.Net.Drops(),
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

// mdCell makes text safe in a Markdown table cell.
func mdCell(text string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", "").Replace(text)
}
