// Command mediarelay runs the media-relay scenario of bench/media-relay.sh: carrier A
// (bench/cmd/rtpgen, a sipgo UAC streaming G.711 every 20 ms on each call) → the edge
// → carrier B (SIPp UAS for signalling, rtpgen's echo for media), with the number of
// concurrent calls stepped up. The edge is callgate, or (-peers) rtpengine in
// userspace behind Kamailio, in the same run with the same generator and echo. For
// each step it measures the edge's CPU per forwarded packet, memory per call, kernel
// UDP drops, packet loss, and the one-way latency the edge adds over a direct
// baseline (the same generator and echo with no edge in between). It prints a summary
// table, saves results.json and rewrites its section of docs/BENCHMARKS.md. Run
// bench/media-relay.sh rather than this.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"callgate/bench/internal/benchkit"
)

type settings struct {
	peers        []string
	steps        []int
	reps         int
	warm, hold   time.Duration
	baselineHold time.Duration
	cps          float64
	quick        bool
	quietWait    time.Duration
	out          string
	callgate     string
	rtpgen       string
	sipp         string
	kamailio     string
	kamailioCfg  string
	rtpengine    string
	// rtpengineThreads is rtpengine's --num-threads: its worker threads.
	rtpengineThreads int
	sutCore          int
	genCore          int
	profileCalls     int
	profileFor       time.Duration
	doc, command     string
}

func main() {
	var s settings
	var steps, peers string
	flag.StringVar(&peers, "peers", "callgate", "edges to measure, comma separated: "+strings.Join(peerNames(), ", "))
	flag.StringVar(&steps, "steps", "250,500,1000,1500,2000,2500", "concurrent calls at each step, ascending")
	flag.IntVar(&s.reps, "reps", 3, "repetitions (the median is reported)")
	flag.DurationVar(&s.warm, "warm", 10*time.Second, "settling time at each step")
	flag.DurationVar(&s.hold, "hold", 60*time.Second, "measured window at each step")
	flag.DurationVar(&s.baselineHold, "baseline-hold", 20*time.Second, "measured window of the direct baseline at each step")
	flag.Float64Var(&s.cps, "cps", 200, "call setup rate between steps")
	flag.BoolVar(&s.quick, "quick", false, "smoke run: label the results as such")
	flag.DurationVar(&s.quietWait, "quiet-wait", 30*time.Second, "before each repetition, wait up to this long for every core to be < 25% busy")
	flag.StringVar(&s.out, "out", "bench/out/media", "working directory")
	flag.StringVar(&s.callgate, "callgate", "bench/out/callgate", "callgate binary")
	flag.StringVar(&s.rtpgen, "rtpgen", "bench/out/rtpgen", "rtpgen binary")
	flag.StringVar(&s.sipp, "sipp", "sipp", "SIPp binary")
	flag.StringVar(&s.kamailio, "kamailio", "kamailio", "Kamailio binary (the rtpengine peer's SIP proxy)")
	flag.StringVar(&s.kamailioCfg, "kamailio-cfg", "bench/kamailio/kamailio-rtpengine.cfg", "Kamailio config template for the rtpengine peer")
	flag.StringVar(&s.rtpengine, "rtpengine", "rtpengine", "rtpengine binary")
	flag.IntVar(&s.rtpengineThreads, "rtpengine-threads", 1, "rtpengine's --num-threads (it shares one core with Kamailio)")
	flag.IntVar(&s.sutCore, "sut-core", 1, "CPU core of the edge (callgate; rtpengine and Kamailio)")
	flag.IntVar(&s.genCore, "gen-core", 0, "CPU core of the generators")
	flag.IntVar(&s.profileCalls, "profile-calls", 0, "after the steps, profile callgate relaying this many calls (0: no profile)")
	flag.DurationVar(&s.profileFor, "profile-for", 30*time.Second, "length of the profiled window")
	flag.StringVar(&s.doc, "doc", "docs/BENCHMARKS.md", "Markdown file whose section to rewrite (empty: none)")
	flag.StringVar(&s.command, "command", "bench/media-relay.sh", "the command line to record in the doc")
	flag.Parse()
	for _, f := range strings.Split(steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("bad step %q", f)
		}
		s.steps = append(s.steps, n)
	}
	for _, p := range strings.Split(peers, ",") {
		p = strings.TrimSpace(p)
		if !validPeer(p) {
			fatalf("unknown peer %q (%s)", p, strings.Join(peerNames(), ", "))
		}
		s.peers = append(s.peers, p)
	}
	benchkit.AbsPaths(&s.out, &s.callgate, &s.rtpgen, &s.kamailioCfg)
	if err := benchkit.UntilSignal(func(ctx context.Context) error { return run(ctx, s) }); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mediarelay: "+format+"\n", args...)
	os.Exit(1)
}

// genResult is rtpgen's JSON for one window.
type genResult struct {
	Calls, CallsFailed                     int
	Window                                 float64
	Sent, EchoReceived, EchoSent, Received int64
	LossForward, LossReturn                float64
	Forward, Return                        latency
	JitterMeanUS, JitterMaxUS              float64
}

type latency struct {
	N                                   int64
	Min, P50, P90, P99, P999, Max, Mean float64
	Over50ms                            int64
}

// stepResult is one step of one repetition on one edge: the relayed run and its
// baseline.
type stepResult struct {
	Peer       string `json:",omitempty"` // empty in results saved before peers: callgate
	Rep, Calls int
	Skipped    bool `json:",omitempty"`
	Relay      genResult
	Baseline   genResult

	CPUPct      float64 // the relay process (callgate; rtpengine), % of one core
	NSPerPacket float64 // the relay's CPU per forwarded packet
	Forwarded   int64   // packets the edge forwarded in the window (both directions)
	// SigCPUPct is the separate signalling proxy (Kamailio in front of rtpengine) in
	// the window, % of one core; SigUSPerSetup its CPU per call set up on the way to
	// the step. Zero for callgate, whose SIP work is in CPUPct.
	SigCPUPct     float64 `json:",omitempty"`
	SigUSPerSetup float64 `json:",omitempty"`
	// RSS is the edge's memory at the step (the relay's RSS, plus the signalling
	// proxy's PSS), RSSIdle before the first call.
	RSS, RSSIdle int64
	RSSPerCall   float64 // bytes
	Threads, FDs int
	Goroutines   int // from callgate's /metrics at the end of the window
	Net          benchkit.NetSample
	GenCorePct   float64
	GenCPUPct    float64 // rtpgen (A and the echo) + SIPp UAS, % of one core
	OthersPct    float64 // busy % of the edge's core not used by the edge (steal included)
	StealPct     float64
	Load1        float64
	Pass         bool
	Note         string `json:",omitempty"`
}

func (r *stepResult) judge() {
	failPct := 100 * float64(r.Relay.CallsFailed) / float64(max(r.Calls, 1))
	r.Pass = r.Relay.Sent > 0 && failPct < 0.1 && r.Net.Drops() == 0 && r.corePct() < 80 &&
		r.Relay.LossForward < 0.1 && r.Relay.LossReturn < 0.1
}

// corePct is what the edge used of its core: the relay and its signalling proxy.
func (r stepResult) corePct() float64 { return r.CPUPct + r.SigCPUPct }

func (r stepResult) overloaded() bool {
	return r.corePct() > 97 || r.Relay.LossForward > 5 || r.Relay.LossReturn > 5
}

// peerName is the edge of a result (callgate for results saved before peers).
func (r stepResult) peerName() string {
	if r.Peer == "" {
		return "callgate"
	}
	return r.Peer
}

type results struct {
	Settings map[string]any
	Machine  benchkit.Machine
	Steps    []stepResult
	Profile  string
	Started  time.Time
	Finished time.Time
}

func run(ctx context.Context, s settings) error {
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	res := &results{Started: time.Now().UTC(), Settings: map[string]any{
		"steps": s.steps, "reps": s.reps, "warm": s.warm.String(), "hold": s.hold.String(),
		"baseline_hold": s.baselineHold.String(), "cps": s.cps, "quick": s.quick, "sched": benchkit.SchedDescription(),
		"peers": s.peers, "command": s.command,
	}}
	res.Machine = benchkit.DescribeMachine(s.callgate)
	res.Machine.AddTool("sipp", s.sipp, "-v")
	if contains(s.peers, "rtpengine") {
		res.Settings["rtpengine_threads"] = s.rtpengineThreads
		res.Settings["rtpengine_args"] = strings.Join(rtpengineArgs(s.rtpengineThreads), " ")
		res.Machine.AddTool("kamailio", s.kamailio, "-v")
		res.Machine.AddTool("rtpengine", s.rtpengine, "--version")
	}
	save := func() {
		res.Finished = time.Now().UTC()
		b, _ := json.MarshalIndent(res, "", "  ")
		_ = os.WriteFile(filepath.Join(s.out, "results.json"), b, 0o644)
	}
	for rep := 1; rep <= s.reps; rep++ {
		if s.quietWait > 0 {
			if busy := benchkit.WaitQuiet(ctx, 0.25, s.quietWait); busy >= 0.25 {
				fmt.Printf("(machine still busy: a core at %.0f%%)\n", 100*busy)
			}
		}
		fmt.Printf("rep %d: direct baseline …\n", rep)
		base, err := runBaseline(ctx, s, rep)
		if err != nil {
			return err
		}
		for i, peer := range s.peers {
			if i > 0 && s.quietWait > 0 {
				if busy := benchkit.WaitQuiet(ctx, 0.25, s.quietWait); busy >= 0.25 {
					fmt.Printf("(machine still busy: a core at %.0f%%)\n", 100*busy)
				}
			}
			fmt.Printf("rep %d: through %s …\n", rep, peer)
			steps, err := runRelay(ctx, s, peer, rep, base, s.steps, s.hold, "")
			res.Steps = append(res.Steps, steps...)
			save()
			if err != nil {
				return err
			}
		}
	}
	if s.profileCalls > 0 && contains(s.peers, "callgate") {
		dir := filepath.Join(s.out, "profile")
		_ = os.MkdirAll(dir, 0o755)
		prof := filepath.Join(dir, fmt.Sprintf("callgate-%dcalls.pprof", s.profileCalls))
		fmt.Printf("profile: callgate relaying %d calls for %s …\n", s.profileCalls, s.profileFor)
		steps, err := runRelay(ctx, s, "callgate", 0, map[int]genResult{}, []int{s.profileCalls}, s.profileFor, prof)
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, "mediarelay: profile:", err)
		case len(steps) == 0 || steps[0].Skipped:
			fmt.Fprintln(os.Stderr, "mediarelay: profile: the profiled step did not run")
		default:
			out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", s.callgate, prof).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "mediarelay: pprof: %v: %s\n", err, out)
			} else {
				res.Profile = fmt.Sprintf("profiled step: %s\n\n%s", oneLine(steps[0]), out)
				_ = os.WriteFile(filepath.Join(dir, "top.txt"), []byte(res.Profile), 0o644)
			}
		}
		save()
	}
	save()
	fmt.Print(summary(res))
	if s.doc != "" {
		// A doc of one's own (DOC=/tmp/…) may not exist yet: start it empty.
		if _, err := os.Stat(s.doc); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(s.doc, nil, 0o644); err != nil {
				return err
			}
		}
		if err := benchkit.ReplaceSection(s.doc, "bench/media-relay.sh", "bench/setup-rate.sh", report(res, s)); err != nil {
			return err
		}
		fmt.Printf("\nrewrote the media-relay section of %s; raw results in %s\n", s.doc, filepath.Join(s.out, "results.json"))
	}
	return nil
}

// runBaseline runs rtpgen straight into its echo, no edge.
func runBaseline(ctx context.Context, s settings, rep int) (map[int]genResult, error) {
	out := map[int]genResult{}
	cmd := benchkit.Pinned(s.genCore, s.rtpgen, "-mode", "direct", "-steps", benchkit.JoinInts(s.steps),
		"-warm", "3s", "-hold", s.baselineHold.String())
	err := follow(ctx, cmd, filepath.Join(s.out, fmt.Sprintf("baseline-rep%d.log", rep)), func(kind string, n int, js string) bool {
		if kind == "end" {
			var g genResult
			if json.Unmarshal([]byte(js), &g) == nil {
				out[n] = g
				fmt.Printf("  baseline %d calls: one-way p50/p99 %.0f/%.0f µs, loss %.3f%%\n", n, g.Forward.P50, g.Forward.P99, g.LossForward)
			}
		}
		return true
	})
	return out, err
}

// follow runs rtpgen's cmd, copying its output to logPath, and calls fn for each
// window line (kind start, close or end), and with kind "note" for each "# …" line
// (failed call setups); fn returning false stops cmd.
func follow(ctx context.Context, cmd *exec.Cmd, logPath string, fn func(kind string, n int, js string) bool) error {
	return benchkit.FollowSteps(ctx, cmd, logPath, func(l benchkit.StepLine) bool {
		kind, ok := strings.CutPrefix(l.Kind, "window-")
		if !ok && l.Kind != "note" {
			return true // another generator line: not ours
		}
		if !ok {
			kind = l.Kind
		}
		return fn(kind, l.N, l.Rest)
	})
}

// runRelay starts the edge and carrier B, then rtpgen through the edge at the steps.
func runRelay(ctx context.Context, s settings, peer string, rep int, base map[int]genResult, steps []int, hold time.Duration, profile string) ([]stepResult, error) {
	dir := filepath.Join(s.out, fmt.Sprintf("%s-rep%d", peer, rep))
	if profile != "" {
		dir = filepath.Dir(profile)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e, err := startEdge(s, peer, dir, profile)
	if err != nil {
		return nil, err
	}
	defer e.stop()

	uasXML, err := uasScenario(dir, e.sig != nil)
	if err != nil {
		return nil, err
	}
	uas := benchkit.Pinned(s.genCore, s.sipp, "-sf", uasXML, "-i", addrB.Addr().String(), "-p", strconv.Itoa(int(addrB.Port())),
		"-key", "echo_ip", addrEcho.Addr().String(), "-key", "echo_port", strconv.Itoa(int(addrEcho.Port())),
		"-nostdin", "-buff_size", "8388608", "-trace_stat", "-stf", filepath.Join(dir, "uas-stat.csv"), "-fd", "5")
	uas.Dir = dir
	if err := benchkit.StartLogged(uas, filepath.Join(dir, "uas.log")); err != nil {
		return nil, err
	}
	defer benchkit.Stop(uas, syscall.SIGTERM, 5*time.Second)
	time.Sleep(500 * time.Millisecond)

	idle, err := e.sample()
	if err != nil {
		return nil, err
	}
	var out []stepResult
	var cur stepResult
	var p0 edgeSample
	var n0 benchkit.NetSample
	var c0 benchkit.CPUTimes
	var g0 benchkit.ProcSample
	var mu sync.Mutex
	var stopSampling chan struct{}
	var samplingDone chan struct{}
	// The signalling proxy's CPU while calls are set up: from the end of the previous
	// step (or start-up) to the next window, over the calls added.
	ramp0, rampCalls := idle, 0
	setupNote := "" // rtpgen's last word on failed call setups
	done := map[int]bool{}
	gen := benchkit.Pinned(s.genCore, s.rtpgen, "-mode", "relay", "-steps", benchkit.JoinInts(steps),
		"-edge", addrEdge.String(), "-local", addrA.String(), "-echo", addrEcho.String(),
		"-cps", fmt.Sprint(s.cps), "-warm", s.warm.String(), "-hold", hold.String())
	err = follow(ctx, gen, filepath.Join(dir, "rtpgen.log"), func(kind string, n int, js string) bool {
		switch kind {
		case "note":
			setupNote = js
		case "start":
			cur = stepResult{Peer: peer, Rep: rep, Calls: n, RSSIdle: idle.Mem}
			p0, _ = e.sample()
			if e.sig != nil && n > rampCalls {
				cur.SigUSPerSetup = benchkit.Micros(p0.SigCPU-ramp0.SigCPU) / float64(n-rampCalls)
			}
			n0, _ = benchkit.SampleNet()
			c0 = benchkit.SampleCPUs()
			g0, _ = benchkit.SampleProcs([]int{gen.Process.Pid, uas.Process.Pid})
			stopSampling, samplingDone = make(chan struct{}), make(chan struct{})
			go func(stop, done chan struct{}) {
				defer close(done)
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						if ps, err := e.sample(); err == nil {
							mu.Lock()
							cur.RSS = max(cur.RSS, ps.Mem)
							cur.Threads = max(cur.Threads, ps.Threads)
							cur.FDs = max(cur.FDs, ps.FDs)
							mu.Unlock()
						}
					}
				}
			}(stopSampling, samplingDone)
		case "close":
			p1, err := e.sample()
			n1, _ := benchkit.SampleNet()
			c1 := benchkit.SampleCPUs()
			g1, gerr := benchkit.SampleProcs([]int{gen.Process.Pid, uas.Process.Pid})
			close(stopSampling)
			<-samplingDone
			if err != nil {
				cur.Note = e.name + " is gone"
				return false
			}
			w := p1.At.Sub(p0.At)
			cur.CPUPct = 100 * float64(p1.CPU-p0.CPU) / float64(w)
			cur.SigCPUPct = 100 * float64(p1.SigCPU-p0.SigCPU) / float64(w)
			cur.RSS = max(cur.RSS, p1.Mem)
			cur.Net = n1.Sub(n0)
			cur.GenCorePct = 100 * c1.BusyFraction(c0, s.genCore)
			if gerr == nil {
				cur.GenCPUPct = 100 * float64(g1.CPU-g0.CPU) / float64(w)
			}
			cur.OthersPct = max(0, 100*c1.BusyFraction(c0, s.sutCore)-cur.CPUPct-cur.SigCPUPct)
			cur.StealPct = 100 * c1.StealFraction(c0, s.sutCore)
			cur.Load1 = benchkit.LoadAvg()
			cur.RSSPerCall = float64(cur.RSS-cur.RSSIdle) / float64(n)
			cur.NSPerPacket = float64(p1.CPU - p0.CPU) // divided once the counts are in
			if e.metrics != "" {
				cur.Goroutines, _ = benchkit.Goroutines(e.metrics)
			}
		case "end":
			if err := json.Unmarshal([]byte(js), &cur.Relay); err != nil {
				cur.Note = "unreadable rtpgen result"
			}
			cur.Forwarded = cur.Relay.EchoReceived + cur.Relay.Received
			if cur.Forwarded > 0 {
				cur.NSPerPacket /= float64(cur.Forwarded)
			} else {
				cur.NSPerPacket = math.NaN()
			}
			cur.Baseline = base[n]
			cur.judge()
			out = append(out, cur)
			done[n] = true
			ramp0, _ = e.sample()
			rampCalls = n
			fmt.Printf("  %s\n", oneLine(cur))
			if cur.overloaded() {
				return false
			}
		}
		return true
	})
	// rtpgen gives up when too many calls fail to set up on the way to a step: the
	// edge is overloaded (or down, which the check below tells).
	gaveUp := ""
	if err != nil && ctx.Err() == nil && e.gone() == "" {
		gaveUp = setupNote
	}
	missing := notRun(peer, rep, steps, done, gaveUp)
	for _, r := range missing {
		if strings.HasPrefix(r.Note, "not reached") {
			fmt.Printf("  %s, %d calls: %s\n", peer, r.Calls, r.Note)
		}
	}
	out = append(out, missing...)
	if err != nil && gaveUp == "" {
		if why := e.gone(); why != "" {
			return out, fmt.Errorf("%w; %s", err, why)
		}
		return out, err
	}
	if why := e.gone(); why != "" {
		return out, errors.New(why)
	}
	return out, nil
}

// notRun records the steps of a ramp that did not run: the first one as not reached
// when rtpgen gave up setting its calls up (gaveUp: its last word on it), every
// other as skipped because a lower step overloaded the edge.
func notRun(peer string, rep int, steps []int, done map[int]bool, gaveUp string) []stepResult {
	var out []stepResult
	for _, n := range steps {
		if done[n] {
			continue
		}
		note := "not run: a lower step overloaded " + peer
		if gaveUp != "" {
			note = fmt.Sprintf("not reached: call setups failed on the way (%s)", gaveUp)
			gaveUp = "" // the steps above were not tried
		}
		out = append(out, stepResult{Peer: peer, Rep: rep, Calls: n, Skipped: true, Note: note})
	}
	return out
}

func oneLine(r stepResult) string {
	sig := ""
	if r.SigCPUPct != 0 || r.SigUSPerSetup != 0 {
		sig = fmt.Sprintf(" (+ Kamailio %.1f%%, %.0f µs per call set up)", r.SigCPUPct, r.SigUSPerSetup)
	}
	return fmt.Sprintf("%s, %d calls: CPU %.1f%% = %.0f ns/packet (%d forwarded)%s, loss %.3f%%/%.3f%%, drops %d, one-way p50/p99 %.0f/%.0f µs (baseline %.0f/%.0f), jitter %.0f µs, RSS %.0f MiB (%.1f KiB/call), threads %d, goroutines %d, fds %d, setup failures %d, pass=%v",
		r.peerName(), r.Calls, r.CPUPct, r.NSPerPacket, r.Forwarded, sig, r.Relay.LossForward, r.Relay.LossReturn, r.Net.Drops(),
		r.Relay.Forward.P50, r.Relay.Forward.P99, r.Baseline.Forward.P50, r.Baseline.Forward.P99, r.Relay.JitterMeanUS,
		float64(r.RSS)/(1<<20), r.RSSPerCall/1024, r.Threads, r.Goroutines, r.FDs, r.Relay.CallsFailed, r.Pass)
}
