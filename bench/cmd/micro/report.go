package main

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"callgate/bench/internal/benchkit"
)

// metric is one column: a unit of the benchmark's output, scaled for the table.
type metric struct {
	Unit  string  // as go test prints it
	Head  string  // column heading
	Scale float64 // the value is multiplied by it (ns → µs: 1e-3)
	Dec   int     // decimals
}

var (
	p50    = metric{"p50-µs", "p50 µs", 1, 1}
	p99    = metric{"p99-µs", "p99 µs", 1, 1}
	p999   = metric{"p99.9-µs", "p99.9 µs", 1, 0}
	allocs = metric{"allocs/op", "allocs/op", 1, 0}
	nsop   = metric{"ns/op", "ns/op", 1, 0}
	usop   = metric{"ns/op", "µs/op", 1e-3, 1}
	pktUS  = metric{"cpu-ns/pkt", "CPU µs/packet", 1e-3, 1}
	cpuUS  = metric{"cpu-ns/op", "CPU µs/op", 1e-3, 0}
)

// row is one benchmark in a table.
type row struct {
	Bench string // name as ParseBench gives it
	What  string
}

// table is one table of the report: the same columns for every row.
type table struct {
	Title   string
	Command string // the go test command that reproduces it (unpinned)
	Cols    []metric
	Rows    []row
	Target  *target // checked on the median, nil: no target
}

// target is a ceiling on one column's median.
type target struct {
	Unit string
	Max  float64
	Text string
}

var tables = []table{
	{
		Title:   "Caller-number selection and A-V-B lookup (target: p99 ≤ 100 µs with 1,000,000 bindings)",
		Command: "go test ./pool/ -run '^$' -bench RouteBindings1M -benchtime 20000x -benchmem; go test ./routing/ -run '^$' -bench 'BenchmarkRoute/(cold|warm)' -benchtime 20000x -benchmem",
		Cols:    []metric{usop, p50, p99, p999, allocs},
		Rows: []row{
			{"RouteBindings1M", "A-V-B lookup among 1,000,000 bindings (`RouteBindings`)"},
			{"Route/warm", "caller-number selection, callee seen before (100,000 numbers, 1,000,000 counter rows, every cap on)"},
			{"Route/cold", "the same, first-seen callee (number parse and geocode)"},
		},
		Target: &target{Unit: "p99-µs", Max: 100, Text: "p99 ≤ 100 µs"},
	},
	{
		Title:   "RTP forward loop",
		Command: "go test ./media/ -run '^$' -bench 'Forward|ForwardTapped|BridgeLoopback|ManyCalls' -benchmem",
		Cols:    []metric{nsop, allocs},
		Rows: []row{
			{"Forward", "the bridge's per-packet work without sockets (checks, header rewrite, timeline)"},
			{"ForwardTapped", "the same with the recording tap on"},
		},
		Target: &target{Unit: "allocs/op", Max: 0, Text: "no allocation per packet"},
	},
	{
		Title: "RTP over loopback sockets",
		Cols:  []metric{usop, allocs},
		Rows: []row{
			{"BridgeLoopback/goroutine", "peer → leg A → bridge → leg B → peer, one packet in flight, bridge on goroutines"},
			{"BridgeLoopback/epoll", "the same through a `media.Relay` worker (epoll + recvmmsg)"},
		},
	},
	{
		Title: "500 calls, one packet per 20 ms each way (whole test process: senders, receivers and relay)",
		Cols:  []metric{pktUS, p50, p99, allocs},
		Rows: []row{
			{"ManyCalls/direct", "no bridge: the senders' and receivers' own cost"},
			{"ManyCalls/goroutine", "through 500 bridges on goroutines"},
			{"ManyCalls/epoll", "through a `media.Relay`"},
		},
	},
	{
		Title:   "The journal's SQLite writes per masked call (1,000,000 bindings, 16 calls per transaction)",
		Command: "go test ./pool/ -run '^$' -bench SaveBatch1M -benchtime 20000x",
		Cols:    []metric{cpuUS},
		Rows: []row{
			{"SaveBatch1M/insert", "the call's row at setup"},
			{"SaveBatch1M/insert+end", "… and its rewrite at the end"},
			{"SaveBatch1M/insert+end+touch", "… and the binding's call-time update"},
		},
	},
}

// cell formats one benchmark's column: the median, and the range when there are
// several runs; "–" when the benchmark did not report it.
func cell(res Results, bench string, m metric) string {
	vs := res.Benches[bench][m.Unit]
	if len(vs) == 0 {
		return "–"
	}
	med := benchkit.Median(vs) * m.Scale
	if len(vs) == 1 {
		return num(med, m.Dec)
	}
	lo, hi := slices.Min(vs)*m.Scale, slices.Max(vs)*m.Scale
	if num(lo, m.Dec) == num(hi, m.Dec) {
		return num(med, m.Dec)
	}
	return fmt.Sprintf("%s (%s–%s)", num(med, m.Dec), num(lo, m.Dec), num(hi, m.Dec))
}

func num(x float64, dec int) string {
	if math.IsNaN(x) {
		return "–"
	}
	s := fmt.Sprintf("%.*f", dec, x)
	if dec == 0 && math.Abs(x) >= 10000 {
		s = commas(s)
	}
	return s
}

// commas groups the digits of an integer string by thousands.
func commas(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// verdict checks a row against its table's target, on the median.
func verdict(res Results, t table, bench string) string {
	if t.Target == nil {
		return ""
	}
	vs := res.Benches[bench][t.Target.Unit]
	if len(vs) == 0 {
		return "not measured"
	}
	if benchkit.Median(vs) <= t.Target.Max {
		return "met"
	}
	return "missed"
}

// markdown renders one table.
func (t table) markdown(res Results) string {
	var b strings.Builder
	b.WriteString("| benchmark | what it does |")
	for _, c := range t.Cols {
		b.WriteString(" " + c.Head + " |")
	}
	if t.Target != nil {
		b.WriteString(" " + t.Target.Text + " |")
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(t.Cols)))
	if t.Target != nil {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "| %s | %s |", r.Bench, r.What)
		for _, c := range t.Cols {
			b.WriteString(" " + cell(res, r.Bench, c) + " |")
		}
		if t.Target != nil {
			b.WriteString(" " + verdict(res, t, r.Bench) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// SummaryTable is what the command prints: every table, plain Markdown.
func SummaryTable(res Results) string {
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "\n%s\n\n%s", t.Title, t.markdown(res))
	}
	if d, ok := relayOwnCost(res); ok {
		fmt.Fprintf(&b, "\nrelay's own CPU per packet (ManyCalls/epoll − ManyCalls/direct): %.1f µs\n", d)
	}
	return b.String()
}

// relayOwnCost is the relay's share of ManyCalls: the epoll run less the direct one.
func relayOwnCost(res Results) (float64, bool) {
	e, d := res.Benches["ManyCalls/epoll"]["cpu-ns/pkt"], res.Benches["ManyCalls/direct"]["cpu-ns/pkt"]
	if len(e) == 0 || len(d) == 0 {
		return 0, false
	}
	return (benchkit.Median(e) - benchkit.Median(d)) / 1e3, true
}

// DocSection is the generated section of docs/BENCHMARKS.md.
func DocSection(res Results, command string) string {
	var b strings.Builder
	b.WriteString("## Micro-benchmarks (scenario 4)\n\n")
	b.WriteString(res.Machine.Markdown() + "\n\n")
	fmt.Fprintf(&b, "Command: `%s`. Each test binary is built first, then run with `-count %d -benchmem`, "+
		"pinned to core %d (`taskset`) except the RTP-over-sockets ones, whose senders and receivers run in "+
		"the test process beside the bridge (both cores). A cell is the median of the runs, with their range "+
		"in brackets. Raw figures: `bench/out/microbench/results.json`.\n", command, res.Count, res.Core)
	if res.Quick {
		b.WriteString("\nA quick run (`QUICK=1`): fewer iterations per run; not for comparing.\n")
	}
	for _, t := range tables {
		fmt.Fprintf(&b, "\n**%s**", t.Title)
		if t.Command != "" {
			fmt.Fprintf(&b, " — unpinned equivalent: `%s`", t.Command)
		}
		b.WriteString("\n\n" + t.markdown(res))
	}
	if d, ok := relayOwnCost(res); ok {
		fmt.Fprintf(&b, "\nManyCalls counts the whole test process, so the relay's own cost is the difference "+
			"from `direct`: %.1f µs per packet in this run (both directions' syscalls through the relay). "+
			"The media-relay scenario above, with callgate alone on a core, is the figure to quote.\n", d)
	}
	return b.String()
}
