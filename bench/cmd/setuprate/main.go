// Command setuprate runs the setup-rate scenario of bench/setup-rate.sh: SIPp UAC
// (carrier A) → edge under test → SIPp UAS (carrier B), every call an A-V-B lookup
// among the seeded bindings, at a ramp of call rates. It measures the edge's CPU per
// call, memory, threads, open files, kernel UDP drops, failed calls and the setup
// latency it adds (from a loopback capture), prints a summary table, saves
// results.json and rewrites its section of docs/BENCHMARKS.md.
//
// It expects the machine prepared by the shell script (socket buffers, ulimit, port
// ranges, binaries built, store seeded); run bench/setup-rate.sh rather than this.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"callgate/bench/internal/benchkit"
)

type settings struct {
	peers      []string
	rates      []int
	reps       int
	warm, hold time.Duration
	capture    time.Duration
	callHold   time.Duration
	quick      bool
	stopOnFail bool

	out, seedDB, inf string
	callgate, sipp   string
	kamailio         string
	kamailioCfg      string
	sutCore, genCore int

	quietWait time.Duration

	profileRate int
	profileFor  time.Duration
	soakRate    int
	soakFor     time.Duration

	doc, command string
}

func main() {
	var s settings
	var peers, rates string
	flag.StringVar(&peers, "peers", "callgate", "edges to measure, comma separated: callgate, kamailio")
	flag.StringVar(&rates, "rates", "100,200,500,1000,1500,2000", "call rates (calls/s), ascending")
	flag.IntVar(&s.reps, "reps", 3, "repetitions of the whole ramp (the median is reported)")
	flag.DurationVar(&s.warm, "warm", 10*time.Second, "time at each rate before the measured window")
	flag.DurationVar(&s.hold, "hold", 60*time.Second, "measured window at each rate")
	flag.DurationVar(&s.capture, "capture", 15*time.Second, "loopback capture for latency, in the middle of the window (0: none)")
	flag.BoolVar(&s.quick, "quick", false, "smoke run: label the results as such")
	flag.BoolVar(&s.stopOnFail, "stop-on-overload", true, "skip higher rates in a repetition once a step fails >5% of calls or saturates the core")
	flag.StringVar(&s.out, "out", "bench/out/setup", "working directory for logs, captures, results")
	flag.StringVar(&s.seedDB, "seed-db", "bench/out/setup/seed.db", "seeded store, copied for each run")
	flag.StringVar(&s.inf, "inf", "bench/out/setup/pairs.csv", "SIPp -inf file (A;V;B)")
	flag.StringVar(&s.callgate, "callgate", "bench/out/callgate", "callgate binary")
	flag.StringVar(&s.sipp, "sipp", "sipp", "SIPp binary")
	flag.StringVar(&s.kamailio, "kamailio", "kamailio", "Kamailio binary")
	flag.StringVar(&s.kamailioCfg, "kamailio-cfg", "bench/kamailio/kamailio.cfg", "Kamailio config template")
	flag.IntVar(&s.sutCore, "sut-core", 1, "CPU core of the edge under test")
	flag.IntVar(&s.genCore, "gen-core", 0, "CPU core of SIPp and tcpdump")
	flag.DurationVar(&s.quietWait, "quiet-wait", 30*time.Second, "before each step, wait up to this long for every core to be < 25% busy (0: don't)")
	flag.IntVar(&s.profileRate, "profile-rate", 0, "after the ramp, profile callgate at this rate (0: no profile)")
	flag.DurationVar(&s.profileFor, "profile-for", 30*time.Second, "length of the profiled run")
	flag.IntVar(&s.soakRate, "soak-rate", 0, "after the ramp, hold this rate for -soak-for and track memory (0: no soak)")
	flag.DurationVar(&s.soakFor, "soak-for", 10*time.Minute, "length of the soak")
	flag.StringVar(&s.doc, "doc", "docs/BENCHMARKS.md", "Markdown file whose section to rewrite (empty: none)")
	flag.StringVar(&s.command, "command", "bench/setup-rate.sh", "the command line to record in the doc")
	reportOnly := flag.Bool("report-only", false, "run nothing: rewrite the doc from -out's results.json (after changing the report)")
	flag.Parse()
	s.callHold = time.Second // bench/sipp/uac_setup.xml holds every call 1 s
	s.peers = strings.Split(peers, ",")
	for _, r := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			fatalf("bad rate %q", r)
		}
		s.rates = append(s.rates, n)
	}
	// SIPp runs in the output directory: every path it gets must be absolute.
	benchkit.AbsPaths(&s.out, &s.seedDB, &s.inf, &s.callgate, &s.kamailioCfg)
	if *reportOnly {
		if err := rewriteReport(s); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if err := benchkit.UntilSignal(func(ctx context.Context) error { return run(ctx, s) }); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "setuprate: "+format+"\n", args...)
	os.Exit(1)
}

// results is everything one invocation measured; it is saved as results.json.
type results struct {
	Settings map[string]any
	Machine  benchkit.Machine
	Steps    []stepResult
	Profile  string // go tool pprof -top output
	Soak     *soakResult
	Started  time.Time
	Finished time.Time
}

func run(ctx context.Context, s settings) error {
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	res := &results{Started: time.Now().UTC(), Settings: map[string]any{
		"peers": s.peers, "rates": s.rates, "reps": s.reps, "warm": s.warm.String(), "hold": s.hold.String(),
		"capture": s.capture.String(), "call_hold": s.callHold.String(), "quick": s.quick,
		"sched": benchkit.SchedDescription(), "command": s.command, "profile_rate": s.profileRate,
		"profile_for": s.profileFor.String(), "quiet_wait": s.quietWait.String(),
	}}
	res.Machine = benchkit.DescribeMachine(s.callgate)
	res.Machine.AddTool("sipp", s.sipp, "-v")
	res.Machine.AddTool("tcpdump", "tcpdump", "--version")
	for _, p := range s.peers {
		if p == "kamailio" {
			res.Machine.AddTool("kamailio", s.kamailio, "-v")
		}
	}
	save := func() {
		res.Finished = time.Now().UTC()
		b, _ := json.MarshalIndent(res, "", "  ")
		_ = os.WriteFile(filepath.Join(s.out, "results.json"), b, 0o644)
	}
	for rep := 1; rep <= s.reps; rep++ {
		for _, name := range s.peers {
			p, err := newPeer(name, s)
			if err != nil {
				return err
			}
			steps, err := runRamp(ctx, s, p, rep)
			res.Steps = append(res.Steps, steps...)
			save()
			if err != nil {
				return err
			}
		}
	}
	if s.profileRate > 0 && contains(s.peers, "callgate") {
		prof, err := runProfile(ctx, s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "setuprate: profile:", err)
		}
		res.Profile = prof
		save()
	}
	if s.soakRate > 0 && contains(s.peers, "callgate") {
		soak, err := runSoak(ctx, s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "setuprate: soak:", err)
		}
		res.Soak = soak
		save()
	}
	save()
	fmt.Print(summaryTable(res))
	if s.doc != "" {
		if err := benchkit.ReplaceSection(s.doc, "bench/setup-rate.sh", "", report(res, s)); err != nil {
			return err
		}
		fmt.Printf("\nrewrote the setup-rate section of %s; raw results in %s\n", s.doc, filepath.Join(s.out, "results.json"))
	}
	return nil
}

// rewriteReport rewrites the doc section from a saved results.json, with the settings
// the run recorded.
func rewriteReport(s settings) error {
	b, err := os.ReadFile(filepath.Join(s.out, "results.json"))
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return err
	}
	if v, ok := res.Settings["quick"].(bool); ok {
		s.quick = v
	}
	for k, d := range map[string]*time.Duration{"warm": &s.warm, "hold": &s.hold, "capture": &s.capture} {
		if v, ok := res.Settings[k].(string); ok {
			if x, err := time.ParseDuration(v); err == nil {
				*d = x
			}
		}
	}
	if v, ok := res.Settings["reps"].(float64); ok {
		s.reps = int(v)
	}
	if v, ok := res.Settings["command"].(string); ok {
		s.command = v
	}
	s.peers = nil
	for _, r := range res.Steps {
		if !contains(s.peers, r.Peer) {
			s.peers = append(s.peers, r.Peer)
		}
	}
	fmt.Print(summaryTable(&res))
	if s.doc == "" {
		return nil
	}
	return benchkit.ReplaceSection(s.doc, "bench/setup-rate.sh", "", report(&res, s))
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
