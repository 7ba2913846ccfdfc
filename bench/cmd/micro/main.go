// Command micro runs scenario 4 of the benchmarks: the routing and RTP-forwarding
// micro-benchmarks (`go test -bench -benchmem`), each test binary pinned to one core,
// several runs each. It prints a summary table, saves the raw figures as JSON and,
// unless -doc is empty, rewrites its section of docs/BENCHMARKS.md.
//
// Run it through bench/micro.sh, from the repository root.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"callgate/bench/internal/benchkit"
)

// suite is one package's benchmarks: compiled once, run -count times.
type suite struct {
	Pkg       string // import path relative to the module root, e.g. "./pool/"
	Bench     string // the -bench pattern
	BenchTime string // the -benchtime value
	Quick     string // -benchtime on a quick run
	// Unpinned: the benchmark runs its own load (senders, receivers) in the test
	// process, which one core would share with what is measured.
	Unpinned bool
}

// suites is what scenario 4 measures (see the issue: selection and A-V-B lookup with
// 1,000,000 bindings, ns/op and allocs/op; the RTP forward loop) plus the journal's
// SQLite cost per call, which explains the setup path.
var suites = []suite{
	{Pkg: "./pool/", Bench: "^BenchmarkRouteBindings1M$", BenchTime: "20000x", Quick: "2000x"},
	{Pkg: "./routing/", Bench: "^BenchmarkRoute$/^(cold|warm)$", BenchTime: "20000x", Quick: "2000x"},
	{Pkg: "./media/", Bench: "^Benchmark(Forward|ForwardTapped|BridgeLoopback|ManyCalls)$", BenchTime: "1s", Quick: "200ms", Unpinned: true},
	{Pkg: "./pool/", Bench: "^BenchmarkSaveBatch1M$", BenchTime: "20000x", Quick: "2000x"},
}

type options struct {
	count   int
	quick   bool
	core    int
	out     string
	doc     string
	command string
}

func main() {
	var o options
	flag.IntVar(&o.count, "count", 3, "runs of every benchmark (the table gives their range and median)")
	flag.BoolVar(&o.quick, "quick", false, "fewer iterations per run (a smoke run)")
	flag.IntVar(&o.core, "core", 1, "the core the test binaries are pinned to (taskset); -1: not pinned")
	flag.StringVar(&o.out, "out", "bench/out/microbench", "directory for the test binaries, logs and results.json")
	flag.StringVar(&o.doc, "doc", "", "Markdown file whose bench/micro.sh section is rewritten (empty: none)")
	flag.StringVar(&o.command, "command", "bench/micro.sh", "the command line recorded in the doc")
	flag.Parse()
	benchkit.AbsPaths(&o.out, &o.doc)
	if err := benchkit.UntilSignal(func(ctx context.Context) error { return run(ctx, o) }); err != nil {
		fmt.Fprintln(os.Stderr, "micro:", err)
		os.Exit(1)
	}
}

// Results is what a run measured: every benchmark's samples by unit.
type Results struct {
	Machine benchkit.Machine
	Count   int
	Quick   bool
	Core    int
	Benches map[string]map[string][]float64 // benchmark name → unit → one value per run
	Order   []string                        // benchmark names in the order they ran
}

func run(ctx context.Context, o options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	res := Results{Count: o.count, Quick: o.quick, Core: o.core, Benches: map[string]map[string][]float64{}}
	res.Machine = benchkit.DescribeMachine("")
	for i, s := range suites {
		bin := filepath.Join(o.out, fmt.Sprintf("suite%d.test", i))
		build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, s.Pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go test -c %s: %w", s.Pkg, err)
		}
		if i == 0 {
			res.Machine = benchkit.DescribeMachine(bin) // module versions from a test binary
		}
		bt := s.BenchTime
		if o.quick {
			bt = s.Quick
		}
		args := []string{"-test.run", "^$", "-test.bench", s.Bench, "-test.benchtime", bt,
			"-test.count", strconv.Itoa(o.count), "-test.benchmem"}
		name, argv := bin, args
		if o.core >= 0 && !s.Unpinned {
			name, argv = "taskset", append([]string{"-c", strconv.Itoa(o.core), bin}, args...)
		}
		logPath := filepath.Join(o.out, fmt.Sprintf("suite%d.log", i))
		log, err := os.Create(logPath)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, name, argv...)
		cmd.Dir = s.Pkg // tests find their testdata relative to the package
		var out strings.Builder
		cmd.Stdout = io.MultiWriter(log, &out, os.Stderr)
		cmd.Stderr = log
		fmt.Fprintf(os.Stderr, "== %s %s (benchtime %s, count %d)\n", s.Pkg, s.Bench, bt, o.count)
		err = cmd.Run()
		_ = log.Close()
		if err != nil {
			return fmt.Errorf("%s %s: %w (log: %s)", s.Pkg, s.Bench, err, logPath)
		}
		for _, l := range ParseBench(out.String()) {
			if _, ok := res.Benches[l.Name]; !ok {
				res.Benches[l.Name] = map[string][]float64{}
				res.Order = append(res.Order, l.Name)
			}
			for unit, v := range l.Metrics {
				res.Benches[l.Name][unit] = append(res.Benches[l.Name][unit], v)
			}
		}
	}
	res.Machine.Date = time.Now().UTC()
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "results.json"), b, 0o644); err != nil {
		return err
	}
	fmt.Println(SummaryTable(res))
	if o.doc == "" {
		return nil
	}
	if err := benchkit.ReplaceSection(o.doc, "bench/micro.sh", "bench/browser-leg.sh", DocSection(res, o.command)); err != nil {
		return fmt.Errorf("doc: %w", err)
	}
	fmt.Fprintln(os.Stderr, "updated", o.doc)
	return nil
}

// BenchLine is one result line of `go test -bench`.
type BenchLine struct {
	Name    string             // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	N       int                // iterations
	Metrics map[string]float64 // unit → value ("ns/op", "allocs/op", "p99-µs", …)
}

// ParseBench takes the result lines out of `go test -bench` output; other lines
// (logs, PASS, ok) are skipped.
func ParseBench(out string) []BenchLine {
	var lines []BenchLine
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		bl := BenchLine{Name: trimProcs(strings.TrimPrefix(f[0], "Benchmark")), N: n, Metrics: map[string]float64{}}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			bl.Metrics[f[i+1]] = v
		}
		if ok {
			lines = append(lines, bl)
		}
	}
	return lines
}

// trimProcs drops the "-N" GOMAXPROCS suffix go test adds to a benchmark's name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}
