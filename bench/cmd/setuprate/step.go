package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"callgate/bench/internal/benchkit"
)

// stepResult is one rate of one repetition on one edge.
type stepResult struct {
	Peer    string
	Rep     int
	Rate    int
	Skipped bool `json:",omitempty"`

	Window   float64 // seconds measured
	Calls    float64 // calls created in the window
	Achieved float64 // calls/s in the window

	Created, Successful, Failed int64 // whole step, from SIPp's UAC
	FailKinds                   string
	Retrans                     int64
	UASFailed                   int64

	CPUPerCall float64 // µs
	CPUPct     float64 // of one core
	RSSMax     int64   // PSS (= RSS for one process), bytes
	RSSEnd     int64
	ThreadsMax int
	Goroutines int // at the end of the window, from the edge's /metrics (0: none)
	FDsMax     int
	Net        benchkit.NetSample // growth over the window

	Invite, Answer  benchkit.LatencySummary // µs
	CaptureDropped  int64
	LatencyOrphans  int
	GenCorePct      float64 // busy % of the generators' core in the window
	GenCPUPct       float64 // CPU % of one core used by SIPp UAC + UAS (tcpdump not included)
	SUTCoreOthersPc float64 // busy % of the edge's core not used by the edge (steal included)
	SUTCoreStealPc  float64 // % of the edge's core the hypervisor stole
	Load1           float64

	Pass bool
	Note string `json:",omitempty"`
}

func (r stepResult) failPct() float64 {
	if r.Created == 0 {
		return math.NaN()
	}
	return 100 * float64(r.Failed) / float64(r.Created)
}

// judge applies the pass line: < 0.1% failed, zero kernel UDP drops, < 80% of the
// core; and notes a generator that fell short of the rate.
func (r *stepResult) judge() {
	r.Pass = r.Created > 0 && r.failPct() < 0.1 && r.Net.Drops() == 0 && r.CPUPct < 80
	if r.Achieved < 0.97*float64(r.Rate) {
		r.Pass = false
		r.Note = fmt.Sprintf("offered %.0f/s, below the target", r.Achieved)
	}
}

// overloaded says a higher rate would only fail harder.
func (r stepResult) overloaded() bool {
	return r.failPct() > 5 || r.CPUPct > 97
}

// runRamp starts the edge and the callee once, then runs each rate in turn.
func runRamp(ctx context.Context, s settings, p peer, rep int) ([]stepResult, error) {
	dir := filepath.Join(s.out, fmt.Sprintf("%s-rep%d", p.Name(), rep))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	edge, err := p.Start(dir, "")
	if err != nil {
		return nil, err
	}
	defer edge.Stop()
	uas, err := startUAS(s, dir)
	if err != nil {
		return nil, err
	}
	defer benchkit.Stop(uas, syscall.SIGTERM, 5*time.Second)

	var out []stepResult
	skip := false
	for _, rate := range s.rates {
		if skip {
			out = append(out, stepResult{Peer: p.Name(), Rep: rep, Rate: rate, Skipped: true, Note: "not run: a lower rate overloaded"})
			continue
		}
		// The edge is idle between steps: wait (a while) for other work on the machine
		// to calm down, so that the step measures the edge rather than the neighbours.
		if s.quietWait > 0 {
			if busy := benchkit.WaitQuiet(ctx, 0.25, s.quietWait); busy >= 0.25 {
				fmt.Printf("  (machine still busy: a core at %.0f%% before the step)\n", 100*busy)
			}
		}
		fmt.Printf("%s rep %d: %d calls/s for %s + %s …\n", p.Name(), rep, rate, s.warm, s.hold)
		r, err := runStep(ctx, s, p.Name(), edge, uas.Process.Pid, dir, rep, rate, s.capture, s.warm, s.hold)
		if err != nil {
			return out, err
		}
		r.judge()
		out = append(out, r)
		fmt.Printf("  %s\n", oneLine(r))
		if s.stopOnFail && r.overloaded() {
			skip = true
		}
		// Let calls end, the callee's timewait expire and RTP ports cool down.
		if err := benchkit.Sleep(ctx, s.callHold+6*time.Second); err != nil {
			return out, err
		}
		if !benchkit.Alive(edge.Cmd.Process.Pid) {
			return out, fmt.Errorf("%s died during the %d calls/s step: see %s", p.Name(), rate, edge.Log)
		}
	}
	return out, nil
}

func oneLine(r stepResult) string {
	lat := "no capture"
	if r.Invite.N > 0 {
		lat = fmt.Sprintf("INVITE→INVITE p50/p99 %.0f/%.0f µs, 200→200 %.0f/%.0f µs", r.Invite.P50, r.Invite.P99, r.Answer.P50, r.Answer.P99)
	}
	return fmt.Sprintf("achieved %.0f/s, failed %.3f%% (%d of %d%s), drops %d, CPU %.1f%% = %.0f µs/call, PSS %.0f MiB, threads %d, goroutines %d, fds %d, %s, pass=%v %s",
		r.Achieved, r.failPct(), r.Failed, r.Created, parenthesized(r.FailKinds), r.Net.Drops(), r.CPUPct, r.CPUPerCall,
		float64(r.RSSMax)/(1<<20), r.ThreadsMax, r.Goroutines, r.FDsMax, lat, r.Pass, r.Note)
}

func parenthesized(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// startUAS runs carrier B: SIPp answering every call.
func startUAS(s settings, dir string) (*exec.Cmd, error) {
	cmd := benchkit.Pinned(s.genCore, s.sipp, "-sf", benchkit.SIPpScenario("uas_setup.xml"),
		"-i", addrB, "-p", strconv.Itoa(portB), "-nostdin", "-buff_size", "8388608",
		"-trace_stat", "-stf", filepath.Join(dir, "uas-stat.csv"), "-fd", "1")
	cmd.Dir = dir
	logf, err := os.Create(filepath.Join(dir, "uas.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	time.Sleep(500 * time.Millisecond)
	if !benchkit.Alive(cmd.Process.Pid) {
		return nil, fmt.Errorf("SIPp UAS exited: see %s", filepath.Join(dir, "uas.log"))
	}
	return cmd, nil
}

// runStep offers rate calls/s for warm+hold and measures the hold window.
func runStep(ctx context.Context, s settings, peerName string, edge *benchkit.Proc, uasPid int, dir string, rep, rate int,
	capture, warm, hold time.Duration) (stepResult, error) {
	r := stepResult{Peer: peerName, Rep: rep, Rate: rate}
	tag := fmt.Sprintf("r%d", rate)
	statPath := filepath.Join(dir, "uac-"+tag+".csv")
	_ = os.Remove(statPath)
	uasRows0, _ := benchkit.ReadSIPpStats(filepath.Join(dir, "uas-stat.csv"))
	calls := int(float64(rate) * (warm + hold).Seconds())
	uac := benchkit.Pinned(s.genCore, s.sipp, "-sf", benchkit.SIPpScenario("uac_setup.xml"), "-inf", s.inf,
		"-i", addrA, "-p", strconv.Itoa(portA), fmt.Sprintf("%s:%d", addrEdge, portEdge),
		"-r", strconv.Itoa(rate), "-rp", "1000", "-m", strconv.Itoa(calls),
		"-l", strconv.Itoa(rate*int(s.callHold.Seconds()+10)+1000),
		"-recv_timeout", "8000", "-buff_size", "8388608", "-nostdin",
		"-trace_stat", "-stf", statPath, "-fd", "1")
	uac.Dir = dir
	uacLog, err := os.Create(filepath.Join(dir, "uac-"+tag+".log"))
	if err != nil {
		return r, err
	}
	defer uacLog.Close()
	uac.Stdout, uac.Stderr = uacLog, uacLog
	if err := uac.Start(); err != nil {
		return r, err
	}
	uacDone := make(chan error, 1)
	go func() { uacDone <- uac.Wait() }()
	start := time.Now()

	if err := benchkit.Sleep(ctx, warm); err != nil {
		_ = uac.Process.Kill()
		return r, err
	}
	p0, err := benchkit.SampleProcs(edge.Pids())
	if err != nil {
		_ = uac.Process.Kill()
		return r, fmt.Errorf("%s is gone: %w (see %s)", peerName, err, edge.Log)
	}
	n0, _ := benchkit.SampleNet()
	c0 := benchkit.SampleCPUs()
	g0, _ := benchkit.SampleProcs([]int{uac.Process.Pid, uasPid})

	// Memory, threads, files: the maximum over the window, sampled every second.
	var mu sync.Mutex
	stopSampling := make(chan struct{})
	samplingDone := make(chan struct{})
	go func() {
		defer close(samplingDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if ps, err := benchkit.SampleProcs(edge.Pids()); err == nil {
					mu.Lock()
					r.RSSMax = max(r.RSSMax, ps.PSS)
					r.ThreadsMax = max(r.ThreadsMax, ps.Threads)
					r.FDsMax = max(r.FDsMax, ps.FDs)
					mu.Unlock()
				}
			}
		}
	}()

	// Capture the middle of the window for latency.
	var capErr error
	capPath := filepath.Join(dir, "cap-"+tag+".pcap")
	capture = min(capture, hold)
	var capWG sync.WaitGroup
	if capture > 0 {
		capWG.Add(1)
		go func() {
			defer capWG.Done()
			if err := benchkit.Sleep(ctx, (hold-capture)/2); err != nil {
				return
			}
			r.CaptureDropped, capErr = captureLoopback(s, capPath, capture)
		}()
	}

	if err := benchkit.Sleep(ctx, hold); err != nil {
		_ = uac.Process.Kill()
		close(stopSampling)
		return r, err
	}
	p1, err := benchkit.SampleProcs(edge.Pids())
	if err != nil {
		_ = uac.Process.Kill()
		close(stopSampling)
		return r, fmt.Errorf("%s is gone: %w (see %s)", peerName, err, edge.Log)
	}
	n1, _ := benchkit.SampleNet()
	c1 := benchkit.SampleCPUs()
	g1, gerr := benchkit.SampleProcs([]int{uac.Process.Pid, uasPid})
	if edge.Metrics != "" {
		r.Goroutines, _ = benchkit.Goroutines(edge.Metrics)
	}
	r.Load1 = benchkit.LoadAvg()
	close(stopSampling)
	<-samplingDone
	capWG.Wait()

	window := p1.At.Sub(p0.At)
	r.Window = window.Seconds()
	r.CPUPct = 100 * float64(p1.CPU-p0.CPU) / float64(window)
	r.RSSEnd = p1.PSS
	r.RSSMax = max(r.RSSMax, p0.PSS, p1.PSS)
	r.ThreadsMax = max(r.ThreadsMax, p0.Threads, p1.Threads)
	r.FDsMax = max(r.FDsMax, p0.FDs, p1.FDs)
	r.Net = n1.Sub(n0)
	r.GenCorePct = 100 * c1.BusyFraction(c0, s.genCore)
	r.SUTCoreOthersPc = max(0, 100*c1.BusyFraction(c0, s.sutCore)-r.CPUPct)
	r.SUTCoreStealPc = 100 * c1.StealFraction(c0, s.sutCore)
	if gerr == nil {
		r.GenCPUPct = 100 * float64(g1.CPU-g0.CPU) / float64(window)
	}

	// SIPp stops creating calls after warm+hold; wait for the last ones to end.
	select {
	case <-uacDone:
	case <-time.After(s.callHold + 20*time.Second):
		_ = uac.Process.Signal(syscall.SIGUSR1) // SIPp: stop creating calls, finish
		select {
		case <-uacDone:
		case <-time.After(15 * time.Second):
			_ = uac.Process.Kill()
			<-uacDone
		}
	}
	rows, err := benchkit.ReadSIPpStats(statPath)
	if err != nil {
		return r, fmt.Errorf("SIPp UAC statistics: %w (see %s)", err, uacLog.Name())
	}
	last := rows[len(rows)-1]
	r.Created = last.Int("OutgoingCall(C)")
	r.Successful = last.Int("SuccessfulCall(C)")
	r.Failed = last.Int("FailedCall(C)")
	r.FailKinds = last.FailureSummary()
	r.Retrans = last.Int("Retransmissions(C)")
	r.Calls = benchkit.CallsAt(rows, p1.At) - benchkit.CallsAt(rows, p0.At)
	r.Achieved = r.Calls / r.Window
	if r.Calls > 0 {
		r.CPUPerCall = benchkit.Micros(p1.CPU-p0.CPU) / r.Calls
	}
	if uasRows, err := benchkit.ReadSIPpStats(filepath.Join(dir, "uas-stat.csv")); err == nil {
		var before int64
		if len(uasRows0) > 0 {
			before = uasRows0[len(uasRows0)-1].Int("FailedCall(C)")
		}
		r.UASFailed = uasRows[len(uasRows)-1].Int("FailedCall(C)") - before
	}
	_ = start

	if capture > 0 {
		if capErr != nil {
			r.Note = "capture failed: " + capErr.Error()
		} else if err := measureLatency(s, capPath, &r); err != nil {
			r.Note = "latency: " + err.Error()
		}
		if os.Getenv("KEEP_PCAP") == "" {
			_ = os.Remove(capPath)
		}
	}
	return r, nil
}

var droppedRE = regexp.MustCompile(`(\d+) packets dropped by kernel`)

// captureLoopback records the INVITEs and 200s between the carriers and the edge
// for d. The filter keeps requests starting "INVI" and responses starting
// "SIP/2.0 200 ", so the capture stays small at thousands of calls a second.
func captureLoopback(s settings, path string, d time.Duration) (dropped int64, err error) {
	filter := fmt.Sprintf("udp and (host %s or host %s) and (udp[8:4] = 0x494e5649 or (udp[8:4] = 0x5349502f and udp[16:4] = 0x32303020))", addrA, addrB)
	cmd := benchkit.Pinned(s.genCore, "tcpdump", "-i", "lo", "-n", "-s", "0", "-B", "65536", "-w", path, filter)
	errPath := path + ".log"
	ef, err := os.Create(errPath)
	if err != nil {
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = ef, ef
	if err := cmd.Start(); err != nil {
		ef.Close()
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	ef.Close()
	b, _ := os.ReadFile(errPath)
	if m := droppedRE.FindSubmatch(b); m != nil {
		dropped, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	return dropped, nil
}

func measureLatency(s settings, capPath string, r *stepResult) error {
	pairs, err := loadPairs(s.inf)
	if err != nil {
		return err
	}
	lat := &benchkit.SetupLatency{A: netip.MustParseAddr(addrA), B: netip.MustParseAddr(addrB), Pairs: pairs}
	if err := benchkit.ReadPcapFile(capPath, lat.Add); err != nil {
		return err
	}
	r.Invite, r.Answer = lat.Results()
	r.LatencyOrphans = lat.Orphans + lat.UnknownPair
	if r.Invite.N == 0 {
		return errors.New("no call matched in the capture")
	}
	return nil
}

var (
	pairsOnce sync.Once
	pairsMap  benchkit.Pairs
	pairsErr  error
)

func loadPairs(path string) (benchkit.Pairs, error) {
	pairsOnce.Do(func() { pairsMap, pairsErr = benchkit.ReadPairs(path) })
	return pairsMap, pairsErr
}
