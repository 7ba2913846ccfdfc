package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: callgate/pool
cpu: Intel(R) Xeon(R) CPU @ 2.50GHz
BenchmarkRouteBindings1M-2   	   20000	     41235 ns/op	        30.12 p50-µs	        88.40 p99-µs	       210.0 p99.9-µs	    1624 B/op	      34 allocs/op
BenchmarkRouteBindings1M-2   	   20000	     40000 ns/op	        31.00 p50-µs	        70.00 p99-µs	       250.0 p99.9-µs	    1624 B/op	      34 allocs/op
BenchmarkRouteBindings1M-2   	   20000	     40000 ns/op	        35.00 p50-µs	       120.00 p99-µs	       300.0 p99.9-µs	    1624 B/op	      34 allocs/op
2026/11/21 07:41:41 INFO a log line that is not a result
BenchmarkManyCalls/epoll-2  	 50	   0 ns/op	  18500 cpu-ns/pkt	 0 lost	 300 p50-µs	 770 p99-µs	 0 B/op	 0 allocs/op
BenchmarkManyCalls/direct-2 	 50	   0 ns/op	   8800 cpu-ns/pkt	 0 lost	 100 p50-µs	 200 p99-µs	 0 B/op	 0 allocs/op
BenchmarkBroken-2 	 abc	   0 ns/op
PASS
ok  	callgate/pool	12.3s
`

func results(t *testing.T) Results {
	t.Helper()
	res := Results{Count: 3, Core: 1, Benches: map[string]map[string][]float64{}}
	for _, l := range ParseBench(sample) {
		if res.Benches[l.Name] == nil {
			res.Benches[l.Name] = map[string][]float64{}
		}
		for u, v := range l.Metrics {
			res.Benches[l.Name][u] = append(res.Benches[l.Name][u], v)
		}
	}
	return res
}

func TestParseBench(t *testing.T) {
	lines := ParseBench(sample)
	if len(lines) != 5 {
		t.Fatalf("%d result lines, want 5: %+v", len(lines), lines)
	}
	l := lines[0]
	if l.Name != "RouteBindings1M" || l.N != 20000 || l.Metrics["p99-µs"] != 88.4 || l.Metrics["allocs/op"] != 34 {
		t.Fatalf("first line: %+v", l)
	}
	if lines[3].Name != "ManyCalls/epoll" || lines[3].Metrics["cpu-ns/pkt"] != 18500 {
		t.Fatalf("sub-benchmark line: %+v", lines[3])
	}
	for _, name := range []string{"Route-x", "Foo-2a"} {
		if got := trimProcs(name); got != name {
			t.Errorf("trimProcs(%q) = %q, want it unchanged", name, got)
		}
	}
}

func TestReport(t *testing.T) {
	res := results(t)
	lookup := tables[0]
	// The p99 median of the three runs is 88.4: under 100 µs, though one run was over.
	if got := cell(res, "RouteBindings1M", p99); got != "88.4 (70.0–120.0)" {
		t.Errorf("p99 cell = %q", got)
	}
	if got := cell(res, "RouteBindings1M", allocs); got != "34" {
		t.Errorf("allocs cell = %q (equal runs show one value)", got)
	}
	if got := verdict(res, lookup, "RouteBindings1M"); got != "met" {
		t.Errorf("verdict = %q, want met", got)
	}
	if got := verdict(res, lookup, "Route/warm"); got != "not measured" {
		t.Errorf("verdict of a benchmark that did not run = %q", got)
	}
	res.Benches["RouteBindings1M"]["p99-µs"] = []float64{150, 160, 90}
	if got := verdict(res, lookup, "RouteBindings1M"); got != "missed" {
		t.Errorf("verdict with median 150 = %q, want missed", got)
	}
	if d, ok := relayOwnCost(res); !ok || d != 9.7 {
		t.Errorf("relay's own cost = %v, %v; want 9.7 µs", d, ok)
	}
	doc := DocSection(res, "bench/micro.sh")
	for _, want := range []string{"## Micro-benchmarks (scenario 4)", "| Route/cold |", "9.7 µs per packet", "pinned to core 1"} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc section lacks %q:\n%s", want, doc)
		}
	}
	if got := commas("1234567"); got != "1,234,567" {
		t.Errorf("commas = %q", got)
	}
}
