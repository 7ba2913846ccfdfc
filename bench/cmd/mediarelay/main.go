// Command mediarelay runs the media-relay scenario of bench/media-relay.sh: carrier A
// (bench/cmd/rtpgen, a sipgo UAC streaming G.711 every 20 ms on each call) → callgate
// → carrier B (SIPp UAS for signalling, rtpgen's echo for media), with the number of
// concurrent calls stepped up. For each step it measures callgate's CPU per forwarded
// packet, memory per call, kernel UDP drops, packet loss, and the one-way latency
// callgate adds over a direct baseline (the same generator and echo with no edge in
// between). It prints a summary table, saves results.json and rewrites its section of
// docs/BENCHMARKS.md. Run bench/media-relay.sh rather than this.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"callgate/bench/internal/benchkit"
)

type settings struct {
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
	sutCore      int
	genCore      int
	profileCalls int
	profileFor   time.Duration
	doc, command string
}

func main() {
	var s settings
	var steps string
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
	flag.IntVar(&s.sutCore, "sut-core", 1, "CPU core of callgate")
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
	for _, p := range []*string{&s.out, &s.callgate, &s.rtpgen} {
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s); err != nil {
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

// stepResult is one step of one repetition: the relayed run and its baseline.
type stepResult struct {
	Rep, Calls int
	Skipped    bool `json:",omitempty"`
	Relay      genResult
	Baseline   genResult

	CPUPct       float64
	NSPerPacket  float64 // callgate CPU per forwarded packet
	Forwarded    int64   // packets callgate forwarded in the window (both directions)
	RSS, RSSIdle int64
	RSSPerCall   float64 // bytes
	Threads, FDs int
	Goroutines   int // from callgate's /metrics at the end of the window
	Net          benchkit.NetSample
	GenCorePct   float64
	GenCPUPct    float64 // rtpgen (A and the echo) + SIPp UAS, % of one core
	OthersPct    float64 // busy % of callgate's core not used by callgate (steal included)
	StealPct     float64
	Load1        float64
	Pass         bool
	Note         string `json:",omitempty"`
}

func (r *stepResult) judge() {
	failPct := 100 * float64(r.Relay.CallsFailed) / float64(max(r.Calls, 1))
	r.Pass = r.Relay.Sent > 0 && failPct < 0.1 && r.Net.Drops() == 0 && r.CPUPct < 80 &&
		r.Relay.LossForward < 0.1 && r.Relay.LossReturn < 0.1
}

func (r stepResult) overloaded() bool {
	return r.CPUPct > 97 || r.Relay.LossForward > 5 || r.Relay.LossReturn > 5
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
	}}
	res.Machine = benchkit.DescribeMachine(s.callgate)
	res.Machine.AddTool("sipp", s.sipp, "-v")
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
		fmt.Printf("rep %d: through callgate …\n", rep)
		steps, err := runRelay(ctx, s, rep, base, s.steps, s.hold, "")
		res.Steps = append(res.Steps, steps...)
		save()
		if err != nil {
			return err
		}
	}
	if s.profileCalls > 0 {
		dir := filepath.Join(s.out, "profile")
		_ = os.MkdirAll(dir, 0o755)
		prof := filepath.Join(dir, fmt.Sprintf("callgate-%dcalls.pprof", s.profileCalls))
		fmt.Printf("profile: callgate relaying %d calls for %s …\n", s.profileCalls, s.profileFor)
		steps, err := runRelay(ctx, s, 0, map[int]genResult{}, []int{s.profileCalls}, s.profileFor, prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mediarelay: profile:", err)
		} else {
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
		if err := benchkit.ReplaceSection(s.doc, "bench/media-relay.sh", "bench/setup-rate.sh", report(res, s)); err != nil {
			return err
		}
		fmt.Printf("\nrewrote the media-relay section of %s; raw results in %s\n", s.doc, filepath.Join(s.out, "results.json"))
	}
	return nil
}

var lineRE = regexp.MustCompile(`^window-(start|close|end) (\d+)(?: (.*))?$`)

// runBaseline runs rtpgen straight into its echo, no edge.
func runBaseline(ctx context.Context, s settings, rep int) (map[int]genResult, error) {
	out := map[int]genResult{}
	cmd := benchkit.Pinned(s.genCore, s.rtpgen, "-mode", "direct", "-steps", joinInts(s.steps),
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

// follow runs cmd, copying its output to logPath, and calls fn for each window line;
// fn returning false stops cmd.
func follow(ctx context.Context, cmd *exec.Cmd, logPath string, fn func(kind string, n int, js string) bool) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return err
	}
	stopped := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		m := lineRE.FindStringSubmatch(line)
		if m == nil || stopped {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		if !fn(m[1], n, m[3]) {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		if ctx.Err() != nil {
			_ = cmd.Process.Kill()
		}
	}
	err = cmd.Wait()
	if stopped || ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("%s: %w (see %s)", filepath.Base(cmd.Args[len(cmd.Args)-1]), err, logPath)
	}
	return nil
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

// callgateConfig: carrier A may call virtual number V, bound AXN to B on carrier B;
// no trunk limits; RTP on 10000-49999 (the script moves the ephemeral range above).
const callgateConfig = `# Generated by bench/cmd/mediarelay.
listen:
  sip_udp: 127.0.0.1:5060
  sip_tcp: "off"
  public_http: 127.0.0.1:18081
  internal_http: "off"
sip:
  shutdown_grace: 2s
  limits:
    trunk_rate: 100000
    trunk_burst: 200000
media:
  bind_address: 127.0.0.1
  port_min: 10000
  port_max: 49999
storage:
  sqlite:
    path: %s
log:
  level: info
tenants:
  - name: acme
trunks:
  - name: carrier-a
    host: 127.0.0.2
    port: 5061
    inbound_cidrs: [127.0.0.2/32]
    max_concurrent_calls: -1
    max_calls_per_second: -1
  - name: carrier-b
    host: 127.0.0.3
    port: 5090
    inbound_cidrs: [127.0.0.3/32]
    max_concurrent_calls: -1
    max_calls_per_second: -1
pools:
  - name: bench-virtual
    supplier: b
    type: virtual
    tenant: acme
    trunks: [carrier-b]
    numbers: ["+8675500000001"]
bindings:
  - mode: AXN
    tenant: acme
    virtual: "+8675500000001"
    b: "+8613900000002"
`

// runRelay starts callgate and carrier B, then rtpgen through callgate at the steps.
func runRelay(ctx context.Context, s settings, rep int, base map[int]genResult, steps []int, hold time.Duration, profile string) ([]stepResult, error) {
	dir := filepath.Join(s.out, fmt.Sprintf("relay-rep%d", rep))
	if profile != "" {
		dir = filepath.Dir(profile)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "callgate.db")
	for _, suf := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(db + suf)
	}
	cfg := filepath.Join(dir, "callgate.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(callgateConfig, db)), 0o644); err != nil {
		return nil, err
	}
	args := []string{"serve", "--config", cfg}
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	cg := benchkit.Pinned(s.sutCore, s.callgate, args...)
	cgLog := filepath.Join(dir, "callgate.log")
	if _, err := benchkit.StartWaitLine(cg, cgLog, regexp.MustCompile(`SIP on udp`), 30*time.Second); err != nil {
		return nil, err
	}
	defer benchkit.Stop(cg, syscall.SIGTERM, 30*time.Second)
	pid := cg.Process.Pid

	uas := benchkit.Pinned(s.genCore, s.sipp, "-sf", scenario("uas_media.xml"), "-i", "127.0.0.3", "-p", "5090",
		"-key", "echo_ip", "127.0.0.3", "-key", "echo_port", "40000", "-nostdin", "-buff_size", "8388608",
		"-trace_stat", "-stf", filepath.Join(dir, "uas-stat.csv"), "-fd", "5")
	uas.Dir = dir
	uasLog, err := os.Create(filepath.Join(dir, "uas.log"))
	if err != nil {
		return nil, err
	}
	defer uasLog.Close()
	uas.Stdout, uas.Stderr = uasLog, uasLog
	if err := uas.Start(); err != nil {
		return nil, err
	}
	go func() { _ = uas.Wait() }()
	defer benchkit.Stop(uas, syscall.SIGTERM, 5*time.Second)
	time.Sleep(500 * time.Millisecond)

	idle, err := benchkit.SampleProc(pid)
	if err != nil {
		return nil, err
	}
	var out []stepResult
	var cur stepResult
	var p0 benchkit.ProcSample
	var n0 benchkit.NetSample
	var c0 benchkit.CPUTimes
	var g0 benchkit.ProcSample
	var mu sync.Mutex
	var stopSampling chan struct{}
	var samplingDone chan struct{}
	done := map[int]bool{}
	gen := benchkit.Pinned(s.genCore, s.rtpgen, "-mode", "relay", "-steps", joinInts(steps),
		"-cps", fmt.Sprint(s.cps), "-warm", s.warm.String(), "-hold", hold.String())
	err = follow(ctx, gen, filepath.Join(dir, "rtpgen.log"), func(kind string, n int, js string) bool {
		switch kind {
		case "start":
			cur = stepResult{Rep: rep, Calls: n, RSSIdle: idle.RSS}
			p0, _ = benchkit.SampleProc(pid)
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
						if ps, err := benchkit.SampleProc(pid); err == nil {
							mu.Lock()
							cur.RSS = max(cur.RSS, ps.RSS)
							cur.Threads = max(cur.Threads, ps.Threads)
							cur.FDs = max(cur.FDs, ps.FDs)
							mu.Unlock()
						}
					}
				}
			}(stopSampling, samplingDone)
		case "close":
			p1, err := benchkit.SampleProc(pid)
			n1, _ := benchkit.SampleNet()
			c1 := benchkit.SampleCPUs()
			g1, gerr := benchkit.SampleProcs([]int{gen.Process.Pid, uas.Process.Pid})
			close(stopSampling)
			<-samplingDone
			if err != nil {
				cur.Note = "callgate is gone"
				return false
			}
			w := p1.At.Sub(p0.At)
			cur.CPUPct = 100 * float64(p1.CPU-p0.CPU) / float64(w)
			cur.RSS = max(cur.RSS, p1.RSS)
			cur.Net = n1.Sub(n0)
			cur.GenCorePct = 100 * c1.BusyFraction(c0, s.genCore)
			if gerr == nil {
				cur.GenCPUPct = 100 * float64(g1.CPU-g0.CPU) / float64(w)
			}
			cur.OthersPct = max(0, 100*c1.BusyFraction(c0, s.sutCore)-cur.CPUPct)
			cur.StealPct = 100 * c1.StealFraction(c0, s.sutCore)
			cur.Load1 = benchkit.LoadAvg()
			cur.RSSPerCall = float64(cur.RSS-cur.RSSIdle) / float64(n)
			cur.NSPerPacket = float64(p1.CPU - p0.CPU) // divided once the counts are in
			cur.Goroutines, _ = benchkit.Goroutines("http://127.0.0.1:18081/metrics")
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
			fmt.Printf("  %s\n", oneLine(cur))
			if cur.overloaded() {
				return false
			}
		}
		return true
	})
	for _, n := range steps {
		if !done[n] {
			out = append(out, stepResult{Rep: rep, Calls: n, Skipped: true, Note: "not run: a lower step overloaded callgate"})
		}
	}
	if err != nil {
		return out, err
	}
	if !benchkit.Alive(pid) {
		return out, fmt.Errorf("callgate died: see %s", cgLog)
	}
	return out, nil
}

func scenario(name string) string {
	p, _ := filepath.Abs(filepath.Join("bench", "sipp", name))
	return p
}

func oneLine(r stepResult) string {
	return fmt.Sprintf("%d calls: CPU %.1f%% = %.0f ns/packet (%d forwarded), loss %.3f%%/%.3f%%, drops %d, one-way p50/p99 %.0f/%.0f µs (baseline %.0f/%.0f), jitter %.0f µs, RSS %.0f MiB (%.1f KiB/call), threads %d, goroutines %d, fds %d, setup failures %d, pass=%v",
		r.Calls, r.CPUPct, r.NSPerPacket, r.Forwarded, r.Relay.LossForward, r.Relay.LossReturn, r.Net.Drops(),
		r.Relay.Forward.P50, r.Relay.Forward.P99, r.Baseline.Forward.P50, r.Baseline.Forward.P99, r.Relay.JitterMeanUS,
		float64(r.RSS)/(1<<20), r.RSSPerCall/1024, r.Threads, r.Goroutines, r.FDs, r.Relay.CallsFailed, r.Pass)
}
