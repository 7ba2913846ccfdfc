// Command browserleg runs the browser-leg scenario of bench/browser-leg.sh: agents in
// browsers (bench/cmd/webrtcload: pion PeerConnections with AES-CM SRTP, one
// websocket each) → callgate → carrier B (SIPp UAS for signalling, webrtcload's RTP
// echo for media), with the number of concurrent calls stepped up. For each step it
// measures how fast the agents' DTLS handshakes go, the post-dial delay callgate adds
// (dial request → carrier INVITE, carrier 200 → answer event, from a loopback capture
// of carrier B's SIP and the agents' own times), callgate's CPU per call and per
// forwarded packet, memory per call, kernel UDP drops, loss and one-way latency. It
// prints a summary table, saves results.json and rewrites its section of
// docs/BENCHMARKS.md. Run bench/browser-leg.sh rather than this.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"callgate/bench/internal/benchkit"
)

type settings struct {
	peers      []string
	steps      []int
	reps       int
	warm, hold time.Duration
	rate       float64
	inflight   int
	quick      bool
	quietWait  time.Duration
	out        string
	callgate   string
	webrtcload string
	sipp       string
	tcpdump    string
	iceMux     string
	// The Janus peer: binary, templates (bench/janus), its libraries' folder and the
	// address its ICE (and the agents' ICE with it) runs on.
	janus          string
	janusTemplates string
	janusLib       string
	janusICE       netip.Addr
	sutCore        int
	genCore        int
	doc            string
	command        string
}

func main() {
	var s settings
	var steps, peers, janusICE string
	flag.StringVar(&peers, "peers", peerCallgate, "edges to measure in each repetition, comma separated: "+strings.Join(peerNames(), ", "))
	flag.StringVar(&s.janus, "janus", "janus", "Janus binary (-peers …,janus)")
	flag.StringVar(&s.janusTemplates, "janus-configs", "bench/janus", "folder of Janus's .jcfg templates")
	flag.StringVar(&s.janusLib, "janus-lib", "", "folder holding Janus's plugins/ and transports/ (default: found under /usr/lib)")
	flag.StringVar(&janusICE, "janus-ice", "", "address of Janus's ICE and the agents' with it (default: the first non-loopback IPv4 address; Janus cannot gather on loopback)")
	flag.StringVar(&steps, "steps", "100,300,600,900,1200,1500", "concurrent browser-leg calls at each step, ascending")
	flag.IntVar(&s.reps, "reps", 3, "repetitions (the median is reported)")
	flag.DurationVar(&s.warm, "warm", 10*time.Second, "settling time at each step")
	flag.DurationVar(&s.hold, "hold", 60*time.Second, "measured window at each step")
	flag.Float64Var(&s.rate, "rate", 100, "agent logins (websocket, PeerConnection, DTLS, dial) started per second during a ramp")
	flag.IntVar(&s.inflight, "inflight", 200, "most agent logins in progress at once")
	flag.BoolVar(&s.quick, "quick", false, "smoke run: label the results as such")
	flag.DurationVar(&s.quietWait, "quiet-wait", 30*time.Second, "before each repetition, wait up to this long for every core to be < 25% busy")
	flag.StringVar(&s.out, "out", "bench/out/browser", "working directory")
	flag.StringVar(&s.callgate, "callgate", "bench/out/callgate", "callgate binary")
	flag.StringVar(&s.webrtcload, "webrtcload", "bench/out/webrtcload", "webrtcload binary")
	flag.StringVar(&s.sipp, "sipp", "sipp", "SIPp binary")
	flag.StringVar(&s.tcpdump, "tcpdump", "tcpdump", "tcpdump binary (carrier B's SIP, for the post-dial delay)")
	flag.StringVar(&s.iceMux, "ice-mux", "", "callgate's media.ice_mux (one UDP port for every browser leg); default: a port per leg")
	flag.IntVar(&s.sutCore, "sut-core", 1, "CPU core of callgate")
	flag.IntVar(&s.genCore, "gen-core", 0, "CPU core of the load generators")
	flag.StringVar(&s.doc, "doc", "docs/BENCHMARKS.md", "Markdown file whose section to rewrite (empty: none)")
	flag.StringVar(&s.command, "command", "bench/browser-leg.sh", "the command line to record in the doc")
	flag.Parse()
	var err error
	if s.steps, err = benchkit.ParseSteps(steps); err != nil {
		fatalf("-steps: %v", err)
	}
	if s.reps < 1 {
		fatalf("-reps must be at least 1")
	}
	for _, p := range strings.Split(peers, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(peerNames(), p) || slices.Contains(s.peers, p) {
			fatalf("-peers: bad or repeated peer %q (%s)", p, strings.Join(peerNames(), ", "))
		}
		s.peers = append(s.peers, p)
	}
	if slices.Contains(s.peers, peerJanus) {
		if s.janusLib == "" {
			if s.janusLib, err = benchkit.JanusLibDir(); err != nil {
				fatalf("-peers janus: %v", err)
			}
		}
		if janusICE == "" {
			if s.janusICE, err = benchkit.NonLoopbackIPv4(); err != nil {
				fatalf("-peers janus: %v", err)
			}
		} else if s.janusICE, err = netip.ParseAddr(janusICE); err != nil {
			fatalf("-janus-ice: %v", err)
		}
	}
	benchkit.AbsPaths(&s.out, &s.callgate, &s.webrtcload, &s.janusTemplates)
	if err := benchkit.UntilSignal(func(ctx context.Context) error { return run(ctx, s) }); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "browserleg: "+format+"\n", args...)
	os.Exit(1)
}

type results struct {
	Settings map[string]any
	Machine  benchkit.Machine
	Steps    []stepResult
	Started  time.Time
	Finished time.Time
}

func run(ctx context.Context, s settings) error {
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	res := &results{Started: time.Now().UTC(), Settings: map[string]any{
		"steps": s.steps, "reps": s.reps, "warm": s.warm.String(), "hold": s.hold.String(), "rate": s.rate,
		"inflight": s.inflight, "ice_mux": s.iceMux, "quick": s.quick, "sched": benchkit.SchedDescription(),
		"peers": s.peers,
	}}
	res.Machine = benchkit.DescribeMachine(s.callgate)
	res.Machine.AddTool("sipp", s.sipp, "-v")
	if slices.Contains(s.peers, peerJanus) {
		res.Machine.AddTool("janus", s.janus, "--help")
		res.Settings["janus_ice"] = s.janusICE.String()
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
		for i, peer := range s.peers {
			if i > 0 && s.quietWait > 0 {
				if busy := benchkit.WaitQuiet(ctx, 0.25, s.quietWait); busy >= 0.25 {
					fmt.Printf("(machine still busy: a core at %.0f%%)\n", 100*busy)
				}
			}
			fmt.Printf("rep %d: agents through %s …\n", rep, peer)
			steps, err := runRep(ctx, s, peer, rep)
			res.Steps = append(res.Steps, steps...)
			save()
			if err != nil {
				return err
			}
		}
	}
	save()
	fmt.Print(summary(res))
	if s.doc != "" {
		if _, err := os.Stat(s.doc); os.IsNotExist(err) {
			// A scratch doc (DOC=/tmp/…): start it.
			if err := os.WriteFile(s.doc, []byte("# Benchmarks\n"), 0o644); err != nil {
				return err
			}
		}
		if err := benchkit.ReplaceSection(s.doc, "bench/browser-leg.sh", "bench/media-relay.sh", report(res, s)); err != nil {
			return err
		}
		fmt.Printf("\nrewrote the browser-leg section of %s; raw results in %s\n", s.doc, filepath.Join(s.out, "results.json"))
	}
	return nil
}

// agentsFor is how many agents (and seats, caller numbers) a run configures: the last
// step's calls and some spare for agents that fail and are replaced.
func agentsFor(steps []int) int {
	n := steps[len(steps)-1]
	return n + n/10 + 20
}

// repDir is the working directory of a repetition on an edge: repN for callgate (as
// before peers), janus-repN for Janus.
func repDir(s settings, peer string, rep int) string {
	if peer == peerCallgate {
		return filepath.Join(s.out, fmt.Sprintf("rep%d", rep))
	}
	return filepath.Join(s.out, fmt.Sprintf("%s-rep%d", peer, rep))
}

// runRep starts the edge, carrier B's SIPp and a capture of its SIP, then webrtcload
// through the steps.
func runRep(ctx context.Context, s settings, peer string, rep int) ([]stepResult, error) {
	dir := repDir(s, peer, rep)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e, err := startEdge(s, peer, dir)
	if err != nil {
		return nil, err
	}
	defer e.proc.Stop()
	pid := e.pid()

	uas := benchkit.Pinned(s.genCore, s.sipp, "-sf", benchkit.SIPpScenario("uas_media.xml"), "-i", carrierIP, "-p", fmt.Sprint(carrierPort),
		"-key", "echo_ip", carrierIP, "-key", "echo_port", fmt.Sprint(echoPort), "-nostdin", "-buff_size", "8388608",
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

	pcap := filepath.Join(dir, "carrier-sip.pcap")
	capture := benchkit.Pinned(s.genCore, s.tcpdump, "-i", "lo", "-n", "-s", "0", "-B", "16384", "-U", "-w", pcap,
		"udp", "port", fmt.Sprint(carrierPort), "and", "host", carrierIP)
	capLog, err := os.Create(filepath.Join(dir, "tcpdump.log"))
	if err != nil {
		return nil, err
	}
	defer capLog.Close()
	capture.Stdout, capture.Stderr = capLog, capLog
	if err := capture.Start(); err != nil {
		return nil, fmt.Errorf("tcpdump: %w", err)
	}
	go func() { _ = capture.Wait() }()
	captureStopped := false
	stopCapture := func() {
		if !captureStopped {
			captureStopped = true
			benchkit.Stop(capture, syscall.SIGINT, 5*time.Second)
		}
	}
	defer stopCapture()
	time.Sleep(time.Second)

	idle, err := benchkit.SampleProc(pid)
	if err != nil {
		return nil, err
	}
	dialLog := filepath.Join(dir, "dials.csv")
	gen := benchkit.Pinned(s.genCore, s.webrtcload, append(e.genArgs,
		"-steps", benchkit.JoinInts(s.steps), "-callee", fmt.Sprint(calleeBase), "-echo", fmt.Sprintf("%s:%d", carrierIP, echoPort),
		"-rate", fmt.Sprint(s.rate), "-inflight", fmt.Sprint(s.inflight), "-warm", s.warm.String(), "-hold", s.hold.String(),
		"-dial-log", dialLog)...)
	sm := &stepMeter{peer: peer, pid: pid, metrics: e.metrics, sutCore: s.sutCore, genCore: s.genCore, idle: idle, rep: rep}
	err = benchkit.FollowSteps(ctx, gen, filepath.Join(dir, "webrtcload.log"), func(l benchkit.StepLine) bool {
		genPIDs := []int{uas.Process.Pid, capture.Process.Pid}
		if gen.Process != nil {
			genPIDs = append(genPIDs, gen.Process.Pid)
		}
		return sm.line(l, genPIDs)
	})
	stopCapture()
	out := sm.out
	if perr := addPostDialDelay(out, pcap, dialLog); perr != nil {
		fmt.Fprintln(os.Stderr, "browserleg: post-dial delay:", perr)
	}
	done := map[int]bool{}
	for _, r := range out {
		done[r.Calls] = true
	}
	for _, n := range s.steps {
		if !done[n] {
			out = append(out, stepResult{Peer: sm.peerField(), Rep: rep, Calls: n, Skipped: true, Note: "not run: a lower step failed"})
		}
	}
	if err != nil {
		return out, err
	}
	if !benchkit.Alive(pid) {
		return out, fmt.Errorf("%s died: see %s", peer, e.proc.Log)
	}
	return out, nil
}

// stepMeter samples the edge and the machine at webrtcload's step lines.
type stepMeter struct {
	peer             string
	pid              int // the edge's process: its CPU counts every thread
	metrics          string
	sutCore, genCore int
	idle             benchkit.ProcSample
	rep              int

	out []stepResult
	cur stepResult

	rampP0 benchkit.ProcSample
	p0     benchkit.ProcSample
	g0     benchkit.ProcSample
	n0     benchkit.NetSample
	rampN0 benchkit.NetSample
	c0     benchkit.CPUTimes
	// lastCPUPct is callgate's CPU in the previous step's window: the calls already up.
	lastCPUPct float64

	mu       sync.Mutex
	stopPeak chan struct{}
	peakDone chan struct{}
}

func (m *stepMeter) line(l benchkit.StepLine, genPIDs []int) bool {
	switch l.Kind {
	case "ramp-start":
		m.cur = stepResult{Peer: m.peerField(), Rep: m.rep, Calls: l.N, RSSIdle: m.idle.RSS}
		m.rampP0, _ = benchkit.SampleProc(m.pid)
		m.rampN0, _ = benchkit.SampleNet()
	case "ramp-end":
		p1, err := benchkit.SampleProc(m.pid)
		n1, _ := benchkit.SampleNet()
		if err != nil {
			m.cur.Note = m.peer + " is gone"
			m.finish()
			return false
		}
		if err := json.Unmarshal([]byte(l.Rest), &m.cur.Ramp); err != nil {
			m.cur.Note = "unreadable ramp result"
		}
		m.cur.RampNetDrops = n1.Sub(m.rampN0).Drops()
		w := p1.At.Sub(m.rampP0.At)
		if w > 0 {
			m.cur.RampCPUPct = 100 * float64(p1.CPU-m.rampP0.CPU) / float64(w)
		}
		if ok := m.cur.Ramp.Started - m.cur.Ramp.Failed; ok > 0 {
			// Less what the calls already up cost meanwhile, at the previous window's rate.
			setup := p1.CPU - m.rampP0.CPU - time.Duration(m.lastCPUPct/100*float64(w))
			m.cur.CPUUSPerSetup = max(0, benchkit.Micros(setup)) / float64(ok)
		}
		fmt.Printf("  %d calls: ramp %s\n", l.N, rampLine(m.cur))
	case "step-failed":
		m.cur.Note = "agents could not connect: " + l.Rest
		m.cur.RampFailed = true
		m.finish()
		fmt.Printf("  %d calls: STEP FAILED: %s\n", l.N, l.Rest)
	case "window-start":
		m.p0, _ = benchkit.SampleProc(m.pid)
		m.n0, _ = benchkit.SampleNet()
		m.c0 = benchkit.SampleCPUs()
		m.g0, _ = benchkit.SampleProcs(genPIDs)
		m.stopPeak, m.peakDone = make(chan struct{}), make(chan struct{})
		go m.peaks(m.stopPeak, m.peakDone)
	case "window-close":
		p1, err := benchkit.SampleProc(m.pid)
		n1, _ := benchkit.SampleNet()
		c1 := benchkit.SampleCPUs()
		g1, gerr := benchkit.SampleProcs(genPIDs)
		close(m.stopPeak)
		<-m.peakDone
		if err != nil {
			m.cur.Note = m.peer + " is gone"
			m.finish()
			return false
		}
		w := p1.At.Sub(m.p0.At)
		m.cur.CPUPct = 100 * float64(p1.CPU-m.p0.CPU) / float64(w)
		m.lastCPUPct = m.cur.CPUPct
		m.cur.cpu = p1.CPU - m.p0.CPU
		m.cur.RSS = max(m.cur.RSS, p1.RSS)
		m.cur.Threads = max(m.cur.Threads, p1.Threads)
		m.cur.FDs = max(m.cur.FDs, p1.FDs)
		m.cur.Net = n1.Sub(m.n0)
		m.cur.GenCorePct = 100 * c1.BusyFraction(m.c0, m.genCore)
		if gerr == nil {
			m.cur.GenCPUPct = 100 * float64(g1.CPU-m.g0.CPU) / float64(w)
		}
		m.cur.OthersPct = max(0, 100*c1.BusyFraction(m.c0, m.sutCore)-m.cur.CPUPct)
		m.cur.StealPct = 100 * c1.StealFraction(m.c0, m.sutCore)
		m.cur.Load1 = benchkit.LoadAvg()
		if m.metrics != "" {
			m.cur.Goroutines, _ = benchkit.Goroutines(m.metrics)
		}
	case "window-end":
		if err := json.Unmarshal([]byte(l.Rest), &m.cur.Media); err != nil {
			m.cur.Note = "unreadable webrtcload result"
		}
		m.cur.derive()
		m.finish()
		fmt.Printf("  %s\n", oneLine(m.out[len(m.out)-1]))
		if !m.out[len(m.out)-1].Pass {
			fmt.Printf("  %d calls: below the pass line: the ramp stops here\n", l.N)
			return false
		}
	}
	return true
}

// peerField is the Peer of the meter's results: empty for callgate, as in results
// saved before peers.
func (m *stepMeter) peerField() string {
	if m.peer == peerCallgate {
		return ""
	}
	return m.peer
}

func (m *stepMeter) finish() {
	m.cur.judge()
	m.out = append(m.out, m.cur)
}

// peaks samples callgate's RSS, threads and fds every second of the window.
func (m *stepMeter) peaks(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if ps, err := benchkit.SampleProc(m.pid); err == nil {
				m.mu.Lock()
				m.cur.RSS = max(m.cur.RSS, ps.RSS)
				m.cur.Threads = max(m.cur.Threads, ps.Threads)
				m.cur.FDs = max(m.cur.FDs, ps.FDs)
				m.mu.Unlock()
			}
		}
	}
}
