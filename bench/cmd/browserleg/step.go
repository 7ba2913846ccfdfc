package main

import (
	"fmt"
	"math"
	"time"

	"callgate/bench/internal/benchkit"
)

// rampResult is webrtcload's "ramp-end" JSON: bringing a step's new agents up.
type rampResult struct {
	Calls, Started, Failed int
	Failures               map[string]int
	Seconds                float64
	HandshakesPerSec       float64
	DTLSms, ICEms, Loginms benchkit.Dist
	Connectms              benchkit.Dist
	DialAnswerms           benchkit.Dist
}

// windowResult is webrtcload's "window-end" JSON: the media of a measured window.
type windowResult struct {
	Calls, CallsFailed, CallsDropped       int
	Window                                 float64
	Sent, EchoReceived, EchoSent, Received int64
	LossForward, LossReturn                float64
	Forward, Return                        benchkit.Latency
}

// postDialDelay is callgate's part of the post-dial delay of a step's new calls, in
// ms: from the agent's dial request to callgate's INVITE reaching the carrier, and
// from the carrier's 200 to the agent's "connected" event.
type postDialDelay struct {
	ToInvite   benchkit.Dist // dial sent by the agent → INVITE on the wire to carrier B
	FromAnswer benchkit.Dist // 200 on the wire from carrier B → "connected" read by the agent
	Added      benchkit.Dist // the sum, per call
	Unmatched  int           `json:",omitempty"` // answered calls with no INVITE or 200 in the capture
}

// stepResult is one step of one repetition on one edge.
type stepResult struct {
	Peer       string `json:",omitempty"` // the edge; empty: callgate (as in results saved before peers)
	Rep, Calls int
	Skipped    bool `json:",omitempty"`
	RampFailed bool `json:",omitempty"` // too many agents could not connect: no window measured

	Ramp  rampResult
	Media windowResult
	PDD   postDialDelay

	// The edge is callgate or the peer (Janus: its process, every thread).
	RampCPUPct float64 // the edge's CPU during the ramp, % of one core
	// CPUUSPerSetup is the edge's CPU during the ramp, less the previous window's rate
	// for the calls already up, per agent set up (login, DTLS, call), µs.
	CPUUSPerSetup float64
	RampNetDrops  int64

	CPUPct          float64 // the edge's CPU in the window, % of one core
	cpu             time.Duration
	USPerCallSecond float64 // the edge's CPU per call, µs per second of call
	NSPerPacket     float64 // the edge's CPU per forwarded packet
	Forwarded       int64   // packets the edge forwarded in the window (both directions)
	RSS, RSSIdle    int64
	RSSPerCall      float64 // bytes
	Threads, FDs    int
	Goroutines      int
	Net             benchkit.NetSample
	GenCorePct      float64
	GenCPUPct       float64 // webrtcload (agents and echo), SIPp and tcpdump, % of one core
	OthersPct       float64 // busy % of the edge's core not used by the edge (steal included)
	StealPct        float64
	Load1           float64
	Pass            bool
	Note            string `json:",omitempty"`
}

// peerName is the edge of a result.
func (r stepResult) peerName() string {
	if r.Peer == "" {
		return peerCallgate
	}
	return r.Peer
}

// derive computes the per-call and per-packet figures once the window's media is in.
func (r *stepResult) derive() {
	r.Forwarded = r.Media.EchoReceived + r.Media.Received
	r.NSPerPacket = math.NaN()
	if r.Forwarded > 0 {
		r.NSPerPacket = float64(r.cpu) / float64(r.Forwarded)
	}
	calls := r.Media.Calls
	if calls <= 0 {
		return
	}
	r.USPerCallSecond = r.CPUPct / 100 * 1e6 / float64(calls)
	r.RSSPerCall = float64(r.RSS-r.RSSIdle) / float64(calls)
}

// failPct is the share of the step's calls that failed to come up or dropped.
func (r stepResult) failPct() float64 {
	return 100 * float64(r.Media.CallsFailed) / float64(max(r.Calls, 1))
}

// judge applies the pass line: < 0.1% failed calls, zero kernel UDP drops, < 0.1%
// loss each way, < 80% of the core.
func (r *stepResult) judge() {
	r.Pass = !r.Skipped && !r.RampFailed && r.Media.Sent > 0 && r.Media.Calls >= r.Calls && r.failPct() < 0.1 &&
		r.Net.Drops() == 0 && r.CPUPct < 80 && r.Media.LossForward < 0.1 && r.Media.LossReturn < 0.1
}

func rampLine(r stepResult) string {
	return fmt.Sprintf("%d new agents (%d failed) in %.1f s: %.0f DTLS handshakes/s, DTLS p50/p99 %.1f/%.1f ms, dial→answer p50/p99 %.1f/%.1f ms, %s CPU %.0f%% (%.0f µs per agent set up)",
		r.Ramp.Started, r.Ramp.Failed, r.Ramp.Seconds, r.Ramp.HandshakesPerSec, r.Ramp.DTLSms.P50, r.Ramp.DTLSms.P99,
		r.Ramp.DialAnswerms.P50, r.Ramp.DialAnswerms.P99, r.peerName(), r.RampCPUPct, r.CPUUSPerSetup)
}

func oneLine(r stepResult) string {
	return fmt.Sprintf("%s, %d calls: CPU %.1f%% = %.0f µs/call·s = %.0f ns/packet (%d forwarded), loss %.3f%%/%.3f%%, drops %d, one-way p50/p99 %.0f/%.0f µs (back %.0f/%.0f), RSS %.0f MiB (%.1f KiB/call), threads %d, goroutines %d, fds %d, failed calls %d, pass=%v",
		r.peerName(), r.Calls, r.CPUPct, r.USPerCallSecond, r.NSPerPacket, r.Forwarded, r.Media.LossForward, r.Media.LossReturn, r.Net.Drops(),
		r.Media.Forward.P50, r.Media.Forward.P99, r.Media.Return.P50, r.Media.Return.P99,
		float64(r.RSS)/(1<<20), r.RSSPerCall/1024, r.Threads, r.Goroutines, r.FDs, r.Media.CallsFailed, r.Pass)
}
