package main

import (
	"errors"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callgate/bench/internal/benchkit"
	"callgate/configs"
)

// The generated config is one callgate accepts, with every agent's token resolved.
func TestCallgateConfigLoads(t *testing.T) {
	for _, mux := range []string{"", edgeIP + ":3478"} {
		dir := t.TempDir()
		const n = 25
		for _, kv := range agentEnv(n) {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		path := filepath.Join(dir, "callgate.yaml")
		if err := os.WriteFile(path, []byte(callgateConfig(filepath.Join(dir, "cg.db"), n, mux)), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := configs.Load(path)
		if err != nil {
			t.Fatalf("mux %q: %v", mux, err)
		}
		if len(cfg.Agents) != n || cfg.Agents[n-1].Token != agentToken(n-1) || cfg.Tenants[0].Seats != n || cfg.Media.ICEMux != mux {
			t.Fatalf("agents %d, last token %q, seats %d, mux %q", len(cfg.Agents), cfg.Agents[n-1].Token, cfg.Tenants[0].Seats, cfg.Media.ICEMux)
		}
	}
	if got := strings.Count(tokensFile(3), "\n"); got != 3 {
		t.Fatalf("tokens file has %d lines", got)
	}
}

func TestPostDialDelays(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "dials.csv")
	if err := os.WriteFile(log, []byte("+8613900000000,1000000000,1030000000,50\n+8613900000001,2000000000,2040000000,50\n+8613900000002,3000000000,3050000000,100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dials, err := readDialLog(log)
	if err != nil || len(dials) != 3 {
		t.Fatalf("%v %v", dials, err)
	}
	at := func(ns int64) time.Time { return time.Unix(0, ns) }
	// INVITE 2 ms after the dial, 200 at +20 ms, the agent sees it at +30 ms; the
	// second call's INVITE 1 ms after, 200 at +35 ms, seen at +40 ms; the third was
	// never captured.
	dials["8613900000000"].Invite, dials["8613900000000"].Answer = at(1002000000), at(1020000000)
	dials["8613900000001"].Invite, dials["8613900000001"].Answer = at(2001000000), at(2035000000)
	pdd := postDialDelays(dials)
	p := pdd[50]
	if p.ToInvite.N != 2 || p.ToInvite.P50 != 1 || p.ToInvite.Max != 2 || p.FromAnswer.P50 != 5 || p.FromAnswer.Max != 10 ||
		p.Added.P50 != 6 || p.Added.Max != 12 {
		t.Fatalf("step 50: %+v", p)
	}
	if pdd[100].Unmatched != 1 || pdd[100].Added.N != 0 {
		t.Fatalf("step 100: %+v", pdd[100])
	}
	if numberKey("+86139") != numberKey("86139") {
		t.Fatal("numberKey")
	}
}

func sampleResults() *results {
	mk := func(rep, calls int, pass bool) stepResult {
		r := stepResult{Rep: rep, Calls: calls, CPUPct: float64(calls) / 20, RSS: int64(calls) << 18, RSSIdle: 1 << 20,
			Media: windowResult{Calls: calls, Sent: int64(calls) * 500, EchoReceived: int64(calls) * 500, EchoSent: int64(calls) * 500,
				Received: int64(calls) * 500, Forward: benchkit.Latency{N: 10, P50: 120, P99: 300}, Return: benchkit.Latency{N: 10, P50: 70, P99: 150}},
			Ramp: rampResult{Started: calls, HandshakesPerSec: 95, DTLSms: benchkit.Dist{N: calls, P50: 2, P99: 9}},
			PDD:  postDialDelay{ToInvite: benchkit.Dist{N: 3, P50: 0.4, P99: 1.2}, FromAnswer: benchkit.Dist{N: 3, P50: 0.3, P99: 0.9}, Added: benchkit.Dist{N: 3, P50: 0.7, P99: 2}},
			cpu:  time.Second}
		r.derive()
		if !pass {
			r.Media.LossForward = 3
		}
		r.judge()
		return r
	}
	failed := stepResult{Rep: 1, Calls: 400, RampFailed: true, Note: "agents could not connect: 40 of 200 (dtls 40)",
		Ramp: rampResult{Started: 200, Failed: 40}}
	failed.judge()
	return &results{
		Machine: benchkit.Machine{Modules: map[string]string{"github.com/pion/webrtc/v4": "v4.2.20"}},
		Steps: []stepResult{mk(1, 100, true), mk(1, 200, false), failed, {Rep: 1, Calls: 800, Skipped: true, Note: "not run: a lower step failed"},
			mk(2, 100, true), mk(2, 200, true)},
		Started: time.Unix(0, 0), Finished: time.Unix(90, 0),
	}
}

func TestJudge(t *testing.T) {
	res := sampleResults()
	if !res.Steps[0].Pass || res.Steps[1].Pass || res.Steps[2].Pass {
		t.Fatalf("pass %v %v %v", res.Steps[0].Pass, res.Steps[1].Pass, res.Steps[2].Pass)
	}
	r := res.Steps[0]
	if r.Forwarded != 100_000 || math.Abs(r.NSPerPacket-10_000) > 1e-9 || r.USPerCallSecond != 500 {
		t.Fatalf("derived %d %v %v", r.Forwarded, r.NSPerPacket, r.USPerCallSecond)
	}
	r.Net.UDPInErrors = 1
	r.judge()
	if r.Pass {
		t.Fatal("a kernel drop passes")
	}
}

func TestReport(t *testing.T) {
	res := sampleResults()
	as := aggregate(res.Steps)
	if len(as) != 4 || highestPassing(as, peerCallgate) != 100 {
		t.Fatalf("aggregate %d steps, highest %d", len(as), highestPassing(as, peerCallgate))
	}
	s := settings{steps: []int{100, 200, 400, 800}, reps: 2, warm: 5 * time.Second, hold: 10 * time.Second, rate: 100,
		inflight: 200, quick: true, command: "QUICK=1 bench/browser-leg.sh"}
	doc := report(res, s)
	for _, want := range []string{
		"**Smoke run (QUICK=1)", "Command: `QUICK=1 bench/browser-leg.sh`", "pion/webrtc v4.2.20",
		"| callgate | 100 | 2/2 ✅ |", "| callgate | 200 | 1/2 ❌ |", "| callgate | 400 | 0/1 ❌ |", "| callgate | 800 | not run: a lower step failed |",
		"| concurrent browser-leg calls at the pass line, callgate on one core | ≥ 900 | 100 calls |",
		"| memory per browser-leg call at 100 calls (RSS growth / calls) | ≤ 0.3 MB | 245.8 KiB |",
		"95/s; 2.0 / 9.0 ms", "0.40 / 1.20 ms", "0.30 / 0.90 ms", "agents could not connect: 40 of 200",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Every table row has as many cells as its header.
	for _, tbl := range []string{tableHeader + tableRows(as), repRows(res.Steps)} {
		lines := strings.Split(strings.TrimSpace(tbl), "\n")
		cells := strings.Count(lines[0], "|")
		for _, l := range lines[1:] {
			if strings.Count(l, "|") != cells {
				t.Errorf("row has %d separators, header %d: %s", strings.Count(l, "|"), cells, l)
			}
		}
	}
	if sum := summary(res); !strings.Contains(sum, "callgate: highest concurrent browser-leg calls at the pass line: 100 calls") {
		t.Errorf("summary:\n%s", sum)
	}

	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // rewriting replaces the section
		if err := benchkit.ReplaceSection(path, "bench/browser-leg.sh", "bench/media-relay.sh", doc); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	if strings.Count(string(b), benchkit.BeginMarker("bench/browser-leg.sh")) != 1 ||
		!strings.Contains(string(b), "<!-- BEGIN bench/browser-leg.sh (generated: do not edit) -->") ||
		!strings.Contains(string(b), "<!-- END bench/browser-leg.sh -->") {
		t.Fatalf("doc:\n%s", b)
	}
}

// With the Janus peer in the run, the report adds its rows, its method and callgate's
// ratio to it; callgate's targets stay callgate's.
func TestReportWithJanus(t *testing.T) {
	res := sampleResults()
	for _, r := range sampleResults().Steps {
		if r.Rep != 1 {
			continue
		}
		r.Peer = peerJanus
		if !r.Skipped && !r.RampFailed {
			// Janus at twice callgate's CPU per call and 4× its memory per call.
			r.CPUPct *= 2
			r.cpu *= 2
			r.RSS = r.RSSIdle + 4*(r.RSS-r.RSSIdle)
			r.Goroutines = 0
			r.derive()
			r.judge()
		}
		res.Steps = append(res.Steps, r)
	}
	res.Settings = map[string]any{"janus_ice": "192.0.2.2"}
	as := aggregate(res.Steps)
	if got := peersOf(as); len(got) != 2 || got[0] != peerCallgate || got[1] != peerJanus {
		t.Fatalf("peers %v", got)
	}
	if highestPassing(as, peerJanus) != 100 || highestPassing(as, peerCallgate) != 100 {
		t.Fatalf("highest: janus %d, callgate %d", highestPassing(as, peerJanus), highestPassing(as, peerCallgate))
	}
	s := settings{steps: []int{100, 200, 400, 800}, reps: 2, warm: 5 * time.Second, hold: 10 * time.Second, rate: 100,
		inflight: 200, quick: true, sutCore: 1, command: "QUICK=1 PEERS=callgate,janus bench/browser-leg.sh"}
	doc := report(res, s)
	for _, want := range []string{
		"and through Janus's SIP plugin", "Janus 1.1.2 (Debian package `janus`)", "runs on 192.0.2.2",
		"| janus | 100 | 1/1 ✅ |", "| janus | 800 | not run: a lower step failed |",
		"| 100 | 500.0 / 1000.0 | 0.50× | 10000 / 20000 | 0.50× | 245.8 / 983.0 | 0.25× | 95 / 95 |",
		"| 200 | ", "– (neither passes)",
		"callgate 100 calls, janus 100 calls",
		"| concurrent browser-leg calls at the pass line, callgate on one core | ≥ 900 | 100 calls |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, tbl := range []string{tableHeader + tableRows(as), repRows(res.Steps), peerTable(as)} {
		lines := strings.Split(strings.TrimSpace(tbl), "\n")
		cells := strings.Count(lines[0], "|")
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "|") && strings.Count(l, "|") != cells {
				t.Errorf("row has %d separators, header %d: %s", strings.Count(l, "|"), cells, l)
			}
		}
	}
	if sum := summary(res); !strings.Contains(sum, "janus: highest concurrent browser-leg calls at the pass line: 100 calls") ||
		!strings.Contains(sum, "callgate ÷ janus") {
		t.Errorf("summary:\n%s", sum)
	}
}

func TestJanusVarsOfTheRun(t *testing.T) {
	v := janusVars(netip.MustParseAddr("192.0.2.2"))
	if v.WS.String() != "127.0.0.1:8188" || v.RTPPorts != [2]int{10000, 29999} || v.ICEPorts != [2]int{30000, 49999} {
		t.Fatalf("%+v", v)
	}
	if _, err := benchkit.RenderJanusConfigs(filepath.Join("..", "..", "janus"), t.TempDir(), t.TempDir(), v); err == nil ||
		!errors.Is(err, benchkit.ErrNoJanus) {
		t.Fatalf("rendering without Janus's libraries: %v", err)
	}
	if repDir(settings{out: "o"}, peerCallgate, 2) != filepath.Join("o", "rep2") || repDir(settings{out: "o"}, peerJanus, 2) != filepath.Join("o", "janus-rep2") {
		t.Fatal("repDir")
	}
}
