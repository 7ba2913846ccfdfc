package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"callgate/bench/internal/benchkit"
)

// agg is one (edge, step) over the repetitions.
type agg struct {
	peer  string
	calls int
	steps []stepResult // the repetitions that ran the step
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

// pass: the step passed in most repetitions.
func (a agg) pass() bool { return a.reps > 0 && 2*a.passed() > a.reps }

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
		out[i].reps++
		if !s.Skipped {
			out[i].steps = append(out[i].steps, s)
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

// peersOf lists the edges of as in the order they ran.
func peersOf(as []agg) []string {
	var out []string
	for _, a := range as {
		if !slices.Contains(out, a.peer) {
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
		if a.peer == peer && a.calls == calls && len(a.steps) > 0 {
			return a, true
		}
	}
	return agg{}, false
}

// num formats x with prec decimals, "–" for NaN.
func num(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

// nanIf returns NaN when cond holds (no samples), else v.
func nanIf(cond bool, v float64) float64 {
	if cond {
		return math.NaN()
	}
	return v
}

// window reports whether the step measured a window (its ramp did not fail).
func window(s stepResult) bool { return !s.RampFailed && s.Media.Sent > 0 }

func (a agg) medWin(f func(stepResult) float64) float64 {
	return a.med(func(s stepResult) float64 { return nanIf(!window(s), f(s)) })
}

const tableHeader = "| edge | concurrent calls | reps passed | failed calls | loss agent→carrier / back % | kernel UDP drops | CPU % of core | CPU µs / call·s | CPU ns / forwarded packet | one-way agent→carrier p50 / p99 µs | carrier→agent p50 / p99 µs | RSS MiB | RSS / call KiB | threads | goroutines | open fds | DTLS handshakes/s in the ramp | DTLS handshake p50 / p99 ms | edge CPU µs / agent set up | added post-dial delay p50 / p99 ms | dial→answer at the agent p50 / p99 ms | generators' CPU % | other processes on edge core % |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"

func tableRows(as []agg) string {
	var b strings.Builder
	for _, a := range as {
		if len(a.steps) == 0 {
			fmt.Fprintf(&b, "| %s | %d | not run: a lower step failed |%s\n", a.peer, a.calls, strings.Repeat(" |", 20))
			continue
		}
		v := fmt.Sprintf("%d/%d", a.passed(), a.reps)
		if a.pass() {
			v += " ✅"
		} else {
			v += " ❌"
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s / %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s / %s | %s / %s | %s | %s |\n",
			a.peer, a.calls, v,
			num(a.med(func(s stepResult) float64 { return float64(s.Media.CallsFailed + s.Ramp.Failed*boolInt(s.RampFailed)) }), 0),
			num(a.medWin(func(s stepResult) float64 { return s.Media.LossForward }), 3),
			num(a.medWin(func(s stepResult) float64 { return s.Media.LossReturn }), 3),
			num(a.medWin(func(s stepResult) float64 { return float64(s.Net.Drops()) }), 0),
			num(a.medWin(func(s stepResult) float64 { return s.CPUPct }), 1),
			num(a.medWin(func(s stepResult) float64 { return s.USPerCallSecond }), 1),
			num(a.medWin(func(s stepResult) float64 { return s.NSPerPacket }), 0),
			num(a.medWin(func(s stepResult) float64 { return nanIf(s.Media.Forward.N == 0, s.Media.Forward.P50) }), 0),
			num(a.medWin(func(s stepResult) float64 { return nanIf(s.Media.Forward.N == 0, s.Media.Forward.P99) }), 0),
			num(a.medWin(func(s stepResult) float64 { return nanIf(s.Media.Return.N == 0, s.Media.Return.P50) }), 0),
			num(a.medWin(func(s stepResult) float64 { return nanIf(s.Media.Return.N == 0, s.Media.Return.P99) }), 0),
			num(a.medWin(func(s stepResult) float64 { return float64(s.RSS) / (1 << 20) }), 0),
			num(a.medWin(func(s stepResult) float64 { return s.RSSPerCall / 1024 }), 1),
			num(a.medWin(func(s stepResult) float64 { return float64(s.Threads) }), 0),
			num(a.medWin(func(s stepResult) float64 { return nanIf(s.Goroutines == 0, float64(s.Goroutines)) }), 0),
			num(a.medWin(func(s stepResult) float64 { return float64(s.FDs) }), 0),
			num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.Ramp.HandshakesPerSec) }), 0),
			num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.Ramp.DTLSms.P50) }), 1),
			num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.Ramp.DTLSms.P99) }), 1),
			num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.CPUUSPerSetup) }), 0),
			num(a.med(func(s stepResult) float64 { return nanIf(s.PDD.Added.N == 0, s.PDD.Added.P50) }), 1),
			num(a.med(func(s stepResult) float64 { return nanIf(s.PDD.Added.N == 0, s.PDD.Added.P99) }), 1),
			num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DialAnswerms.N == 0, s.Ramp.DialAnswerms.P50) }), 1),
			num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DialAnswerms.N == 0, s.Ramp.DialAnswerms.P99) }), 1),
			num(a.medWin(func(s stepResult) float64 { return s.GenCPUPct }), 0),
			num(a.medWin(func(s stepResult) float64 { return s.OthersPct }), 0))
	}
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func callsOrNone(n int) string {
	if n == 0 {
		return "none of the steps tried"
	}
	return fmt.Sprintf("%d calls", n)
}

func summary(res *results) string {
	as := aggregate(res.Steps)
	var b strings.Builder
	b.WriteString("\nBrowser leg: median of the repetitions\n\n")
	b.WriteString(tableHeader)
	b.WriteString(tableRows(as))
	b.WriteString("\n")
	for _, p := range peersOf(as) {
		fmt.Fprintf(&b, "%s: highest concurrent browser-leg calls at the pass line: %s\n", p, callsOrNone(highestPassing(as, p)))
	}
	if len(peersOf(as)) > 1 {
		b.WriteString("\n")
		b.WriteString(peerTable(as))
	}
	for _, s := range res.Steps {
		if s.Note != "" {
			fmt.Fprintf(&b, "%s, rep %d, %d calls: %s\n", s.peerName(), s.Rep, s.Calls, s.Note)
		}
	}
	return b.String()
}

// peerTable sets callgate against each peer at every step both ran: CPU per call and
// per forwarded packet, memory per call, the ramp's DTLS handshakes/s and the
// post-dial delay each adds, and callgate's figure as a share of the peer's (below
// 1× callgate uses less) where both pass.
func peerTable(as []agg) string {
	var b strings.Builder
	for _, peer := range peersOf(as) {
		if peer == peerCallgate {
			continue
		}
		fmt.Fprintf(&b, "| concurrent calls | CPU µs / call·s callgate / %[1]s | callgate ÷ %[1]s | CPU ns / packet callgate / %[1]s | callgate ÷ %[1]s | RSS / call KiB callgate / %[1]s | callgate ÷ %[1]s | DTLS handshakes/s callgate / %[1]s | added post-dial delay p50 / p99 ms callgate | %[1]s |\n"+
			"|---|---|---|---|---|---|---|---|---|---|\n", peer)
		var steps []int
		for _, a := range as {
			if !slices.Contains(steps, a.calls) {
				steps = append(steps, a.calls)
			}
		}
		sort.Ints(steps)
		for _, n := range steps {
			c, ok1 := find(as, peerCallgate, n)
			p, ok2 := find(as, peer, n)
			if !ok1 || !ok2 {
				continue
			}
			cell := func(f func(stepResult) float64, prec int) (string, string) {
				cv, pv := c.medWin(f), p.medWin(f)
				both := num(cv, prec) + " / " + num(pv, prec)
				switch {
				case !c.pass() && !p.pass():
					return both, "– (neither passes)"
				case !c.pass():
					return both, "– (callgate fails)"
				case !p.pass():
					return both, "– (" + peer + " fails)"
				case math.IsNaN(cv) || math.IsNaN(pv) || pv == 0:
					return both, "–"
				}
				return both, fmt.Sprintf("%.2f×", cv/pv)
			}
			cpu, cpuR := cell(func(s stepResult) float64 { return s.USPerCallSecond }, 1)
			pkt, pktR := cell(func(s stepResult) float64 { return s.NSPerPacket }, 0)
			mem, memR := cell(func(s stepResult) float64 { return s.RSSPerCall / 1024 }, 1)
			hs := func(a agg) string {
				return num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.Ramp.HandshakesPerSec) }), 0)
			}
			pdd := func(a agg) string {
				return num(a.med(func(s stepResult) float64 { return nanIf(s.PDD.Added.N == 0, s.PDD.Added.P50) }), 2) + " / " +
					num(a.med(func(s stepResult) float64 { return nanIf(s.PDD.Added.N == 0, s.PDD.Added.P99) }), 2)
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n", n, cpu, cpuR, pkt, pktR, mem, memR,
				hs(c), hs(p), pdd(c), pdd(p))
		}
		fmt.Fprintf(&b, "\nHighest concurrent browser-leg calls at the pass line on one core: callgate %s, %s %s.\n",
			callsOrNone(highestPassing(as, peerCallgate)), peer, callsOrNone(highestPassing(as, peer)))
	}
	return b.String()
}

// targets is the table of the figures, at callgate's highest passing step
// (or, for the ramp figures, the highest step that ran).
func targets(all []agg) string {
	var as []agg
	for _, a := range all {
		if a.peer == peerCallgate {
			as = append(as, a)
		}
	}
	var b strings.Builder
	b.WriteString("| figure (callgate) | target | measured |\n|---|---|---|\n")
	hp := highestPassing(as, peerCallgate)
	fmt.Fprintf(&b, "| concurrent browser-leg calls at the pass line, callgate on one core | ≥ 900 | %s |\n", callsOrNone(hp))
	at := hp
	if at == 0 {
		for _, a := range as {
			if len(a.steps) > 0 {
				at = a.calls
				break
			}
		}
	}
	a, ok := find(as, peerCallgate, at)
	if !ok {
		return b.String()
	}
	label := fmt.Sprintf("at %d calls", at)
	if hp == 0 {
		label += " (failed step)"
	}
	fmt.Fprintf(&b, "| memory per browser-leg call %s (RSS growth / calls) | ≤ 0.3 MB | %s KiB |\n", label,
		num(a.medWin(func(s stepResult) float64 { return s.RSSPerCall / 1024 }), 1))
	fmt.Fprintf(&b, "| DTLS handshakes/s the ramp to %d sustained (offered: see method); handshake time p50 / p99 | — | %s/s; %s / %s ms |\n", at,
		num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.Ramp.HandshakesPerSec) }), 0),
		num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.Ramp.DTLSms.P50) }), 1),
		num(a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.Ramp.DTLSms.P99) }), 1))
	fmt.Fprintf(&b, "| post-dial delay callgate adds %s: dial request → carrier INVITE p50 / p99 | — | %s / %s ms |\n", label,
		num(a.med(func(s stepResult) float64 { return nanIf(s.PDD.ToInvite.N == 0, s.PDD.ToInvite.P50) }), 2),
		num(a.med(func(s stepResult) float64 { return nanIf(s.PDD.ToInvite.N == 0, s.PDD.ToInvite.P99) }), 2))
	fmt.Fprintf(&b, "| post-dial delay callgate adds %s: carrier 200 → answer event at the agent p50 / p99 | — | %s / %s ms |\n", label,
		num(a.med(func(s stepResult) float64 { return nanIf(s.PDD.FromAnswer.N == 0, s.PDD.FromAnswer.P50) }), 2),
		num(a.med(func(s stepResult) float64 { return nanIf(s.PDD.FromAnswer.N == 0, s.PDD.FromAnswer.P99) }), 2))
	fmt.Fprintf(&b, "| CPU per browser-leg call %s | — | %s µs per call-second (%s%% of the core) |\n", label,
		num(a.medWin(func(s stepResult) float64 { return s.USPerCallSecond }), 1),
		num(a.medWin(func(s stepResult) float64 { return s.CPUPct }), 1))
	fmt.Fprintf(&b, "| CPU per forwarded packet %s (SRTP ↔ RTP) | — | %s ns |\n", label,
		num(a.medWin(func(s stepResult) float64 { return s.NSPerPacket }), 0))
	perSetup := a.med(func(s stepResult) float64 { return nanIf(s.Ramp.DTLSms.N == 0, s.CPUUSPerSetup) })
	fmt.Fprintf(&b, "| CPU per agent set up (login, DTLS, call) during the ramp to %d | — | %s µs (a whole core: ~%s setups/s) |\n", at,
		num(perSetup, 0), num(1e6/perSetup, 0))
	return b.String()
}

func repRows(steps []stepResult) string {
	var b strings.Builder
	b.WriteString("| edge | rep | calls | pass | new agents / failed | ramp s | DTLS/s | DTLS p50/p99 ms | ramp CPU % | packets forwarded | CPU % | ns/packet | loss → / ← % | drops | → p50/p99 µs | ← p50/p99 µs | PDD → INVITE p50/p99 ms | 200 → answer p50/p99 ms | others / steal on edge core % | load avg | note |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range steps {
		if r.Rep == 0 {
			continue
		}
		if r.Skipped {
			fmt.Fprintf(&b, "| %s | %d | %d | not run |%s %s |\n", r.peerName(), r.Rep, r.Calls, strings.Repeat(" |", 16), r.Note)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %v | %d / %d | %.1f | %.0f | %.1f/%.1f | %.0f | %d | %.1f | %s | %.3f / %.3f | %d | %.0f/%.0f | %.0f/%.0f | %.2f/%.2f | %.2f/%.2f | %.0f / %.0f | %.1f | %s |\n",
			r.peerName(), r.Rep, r.Calls, r.Pass, r.Ramp.Started, r.Ramp.Failed, r.Ramp.Seconds, r.Ramp.HandshakesPerSec,
			r.Ramp.DTLSms.P50, r.Ramp.DTLSms.P99, r.RampCPUPct, r.Forwarded, r.CPUPct, num(r.NSPerPacket, 0),
			r.Media.LossForward, r.Media.LossReturn, r.Net.Drops(), r.Media.Forward.P50, r.Media.Forward.P99,
			r.Media.Return.P50, r.Media.Return.P99, r.PDD.ToInvite.P50, r.PDD.ToInvite.P99,
			r.PDD.FromAnswer.P50, r.PDD.FromAnswer.P99, r.OthersPct, r.StealPct, r.Load1, strings.ReplaceAll(r.Note, "|", "/"))
	}
	return b.String()
}

func report(res *results, s settings) string {
	as := aggregate(res.Steps)
	withJanus := slices.Contains(peersOf(as), peerJanus)
	var b strings.Builder
	if withJanus {
		b.WriteString("## Browser leg: WebRTC agents through callgate to a SIP carrier, and through Janus's SIP plugin\n\n")
	} else {
		b.WriteString("## Browser leg: WebRTC agents through callgate to a SIP carrier\n\n")
	}
	if s.quick {
		b.WriteString("**Smoke run (QUICK=1): short holds, one repetition. Not the published figures.**\n\n")
	}
	fmt.Fprintf(&b, "Command: `%s`\n\n", s.command)
	b.WriteString(res.Machine.Markdown())
	fmt.Fprintf(&b, " pion/webrtc %s, pion/dtls %s, pion/srtp %s.", res.Machine.Module("github.com/pion/webrtc/v4"),
		res.Machine.Module("github.com/pion/dtls/v3"), res.Machine.Module("github.com/pion/srtp/v3"))
	fmt.Fprintf(&b, " Took %s.\n\n", res.Finished.Sub(res.Started).Round(time.Second))
	ice := "its own UDP port per browser leg (media.ice_port_min/max) and one host candidate, on its bind address " +
		edgeIP + ", which the script lists on lo for the run"
	if s.iceMux != "" {
		ice = fmt.Sprintf("one UDP port for every browser leg (media.ice_mux %s)", s.iceMux)
	}
	fmt.Fprintf(&b, "Method: `bench/cmd/webrtcload` plays the agents' browsers, all in one process: for each new agent "+
		"it opens callgate's agent websocket, logs in with a token, creates a pion PeerConnection (PCMU, PCMA and "+
		"telephone-event only; no mDNS; host candidates on 127.0.0.1 over 4 shared ICE UDP mux sockets; no NACK, "+
		"TWCC or RTCP-report interceptors; SRTP profile AES_CM_128_HMAC_SHA1_80, the one Chrome uses), sends its offer, "+
		"applies callgate's answer, waits for ICE and DTLS, dials a callee of its own and waits for the `connected` "+
		"event. Agents start at %.0f per second, at most %d in progress at once, until the step's number of calls is "+
		"up. callgate (core %d, ICE on %s) places each call over a SIP trunk to carrier B: SIPp (`bench/sipp/"+
		"uas_media.xml`) answers at once with webrtcload's RTP echo (%s, SO_REUSEPORT sockets, "+
		"recvmmsg/sendmmsg; `bench/internal/rtpecho`) as media address. Every call then sends a 172-byte PCMU packet "+
		"every 20 ms over SRTP; callgate decrypts it and relays it as RTP to the echo, which sends it back, and "+
		"callgate encrypts it to the agent: it forwards every packet twice. The payload carries the send time, the "+
		"echo's arrival time and the call: one-way latency agent → carrier and back is measured on one monotonic "+
		"clock. DTLS handshake time is ICE connected → DTLS connected at the agent (callgate is the DTLS client); "+
		"handshakes/s is the handshakes completed over the ramp's length (first login started → last call answered), "+
		"and callgate's CPU over the ramp, less what the calls already up cost at the previous window's rate, "+
		"divided by the agents set up gives its cost per login+handshake+call (coarse: /proc counts CPU in 10 ms "+
		"ticks and a ramp lasts seconds). "+
		"Post-dial delay callgate adds is (carrier B's INVITE on the wire − the agent's dial request) + (the agent "+
		"reading `connected` − carrier B's 200 on the wire), from a loopback capture of carrier B's SIP (tcpdump) "+
		"and webrtcload's wall-clock times; it includes the websocket's loopback hops and the load generator's own "+
		"scheduling. Each step: %s to settle, %s measured; %d repetition(s), median reported. CPU is callgate's "+
		"utime+stime over the window; per call it is divided by the calls, per packet by the packets it forwarded "+
		"(arrived at the echo + arrived back at the agents); on loopback the kernel's delivery of callgate's sends "+
		"is charged to callgate. RSS per call is (RSS at the step − RSS before the first agent) / calls: an agent's "+
		"session and PeerConnection included. Every generator (webrtcload with the echo, SIPp, tcpdump) runs on "+
		"core %d under %s like callgate; the machine is shared with other work. Pass line: < 0.1%% failed calls, "+
		"zero kernel UDP drops, < 0.1%% loss each way, < 80%% of the core; the ramp stops after the first step "+
		"below it (or where more than 5%% of a step's new agents cannot connect).\n\n",
		s.rate, s.inflight, s.sutCore, ice, carrierIP, s.warm, s.hold, s.reps, s.genCore, benchkit.SchedDescription())
	if withJanus {
		b.WriteString(janusMethod(res, s))
	}
	b.WriteString(tableHeader)
	b.WriteString(tableRows(as))
	b.WriteString("\n")
	b.WriteString(targets(as))
	if withJanus && slices.Contains(peersOf(as), peerCallgate) {
		b.WriteString("\nAgainst Janus (same run, same agents, carrier and echo; medians of the windows):\n\n")
		b.WriteString(peerTable(as))
	}
	b.WriteString("\n<details><summary>Every repetition</summary>\n\n")
	b.WriteString(repRows(res.Steps))
	b.WriteString("\n</details>\n")
	return b.String()
}

// janusMethod says how the Janus peer ran and what differs in its measurement.
func janusMethod(res *results, s settings) string {
	ice, _ := res.Settings["janus_ice"].(string)
	if ice == "" {
		ice = "the machine's non-loopback address"
	}
	return fmt.Sprintf("The peer, in the same run (after callgate in each repetition, with the same webrtcload, "+
		"SIPp, echo, capture, steps and pass line): Janus 1.1.2 (Debian package `janus`) with its SIP plugin, "+
		"started on core %d under %s from `bench/janus/*.jcfg` rendered into the repetition's folder (`janus -F`; "+
		"nothing in /etc/janus is read): only `janus.plugin.sip` and the websockets transport load (127.0.0.1:8188, "+
		"compact JSON), no event handlers, no loggers, no recordings (every folder protected), no STUN, TURN or 1:1 NAT, "+
		"warnings-level log, DTLS and SRTP at their defaults (self-signed certificate made at start), ICE on "+
		"30000-49999 and the SIP plugin's RTP to the carrier on 10000-29999 from 127.0.0.1, one Sofia-SIP stack per "+
		"session, default threading (a loop thread per handle). Each agent opens a Janus API websocket, creates a "+
		"session, attaches the plugin and registers as a guest (no REGISTER sent: the \"login\"); once all of a step's "+
		"new agents are logged in (the plugin handles every request on one thread and a guest registration holds it "+
		"for 100 ms or more, polling for its new Sofia stack, so Janus logs in at most ~10 agents/s and dials "+
		"interleaved with logins would queue behind them), each, at the same rate, makes its offer and "+
		"sends `call` (sip:CALLEE@%s:%d) with it; Janus sends the INVITE straight to carrier B, and its answer comes in "+
		"the `accepted` event (the agent checks it holds PCMU; Janus passes carrier B's PCMU and telephone-event on); "+
		"ICE and DTLS then run (Janus is the DTLS client, as callgate is) and the media flows as through callgate. "+
		"A keepalive every 25 s keeps each session; at the end each agent sends `hangup` and closes its websocket. "+
		"Janus's CPU is its process's utime+stime (all its threads), its memory its RSS. Differences: Janus 1.1.2 "+
		"never gathers ICE candidates on a loopback interface, so its ICE, and the agents' with it, runs on %s "+
		"(an address of this machine: the packets still cross only the loopback device, but the sockets are not "+
		"loopback-only); the agents' DTLS handshake comes after the dial through Janus and before it through "+
		"callgate, so Janus's dial → answer excludes ICE and DTLS as callgate's does, and its CPU per agent set up "+
		"covers the same work (login, ICE, DTLS, call); its DTLS handshakes/s are over the dial pass (the logins "+
		"went before); it has no Prometheus endpoint (goroutines: –). "+
		"The post-dial delay it adds is measured as callgate's: (carrier B's INVITE on the wire − the `call` "+
		"request sent) + (the `accepted` event read − carrier B's 200 on the wire).\n\n",
		s.sutCore, benchkit.SchedDescription(), carrierIP, carrierPort, ice)
}
