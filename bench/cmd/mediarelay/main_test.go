package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callgate/bench/internal/benchkit"
)

func TestKamailioRtpengineTemplate(t *testing.T) {
	tmpl, err := os.ReadFile("../../kamailio/kamailio-rtpengine.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := benchkit.RenderTemplate(string(tmpl), kamailioRtpengineVars())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"listen=udp:127.0.0.1:5060",
		`modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:9922")`,
		`$du = "sip:127.0.0.3:5090";`,
		`if ($si != "127.0.0.2")`,
		"record_route();",
		"rtpengine_manage(",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("rendered config lacks %q", want)
		}
	}
	// Kamailio itself, where it is installed, must accept the config.
	kam, err := exec.LookPath("kamailio")
	if err != nil {
		t.Skip("kamailio not installed: config not checked by Kamailio")
	}
	path := filepath.Join(t.TempDir(), "kamailio.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(kam, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("kamailio -c: %v\n%s", err, out)
	}
}

func TestRtpengineArgs(t *testing.T) {
	args := strings.Join(rtpengineArgs(1), " ")
	for _, want := range []string{"--table=-1", "--foreground", "--config-file=none", "--interface=127.0.0.1",
		"--listen-ng=127.0.0.1:9922", "--port-min=10000", "--port-max=49999", "--num-threads=1", "--log-stderr"} {
		if !strings.Contains(args, want) {
			t.Errorf("rtpengine args %q lack %s", args, want)
		}
	}
	// The NG socket must stay out of the RTP port range.
	if p := int(addrNG.Port()); p >= rtpPortMin && p <= rtpPortMax {
		t.Errorf("NG port %d inside the RTP range", p)
	}
}

func TestWithRecordRoute(t *testing.T) {
	b, err := os.ReadFile("../../sipp/uas_media.xml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := withRecordRoute(string(b))
	if err != nil {
		t.Fatal(err)
	}
	vias := strings.Count(got, "[last_Via:]")
	if n := strings.Count(got, "[last_Via:]\n      [last_Record-Route:]\n"); n != vias || n == 0 {
		t.Errorf("%d of %d responses echo the Record-Route:\n%s", n, vias, got)
	}
	if again, _ := withRecordRoute(got); again != got {
		t.Error("not idempotent")
	}
	if _, err := withRecordRoute("<scenario/>"); err == nil {
		t.Error("a scenario without [last_Via:] should be an error")
	}
}

// step makes a measured step of an edge.
func step(peer string, rep, calls int, nsPerPacket, addedP99 float64, pass bool) stepResult {
	r := stepResult{Peer: peer, Rep: rep, Calls: calls, CPUPct: 10, NSPerPacket: nsPerPacket, Forwarded: int64(calls) * 1000, Pass: pass}
	r.Baseline.Forward = latency{N: 100, P50: 50, P99: 100}
	r.Relay.Forward = latency{N: 100, P50: 80, P99: 100 + addedP99}
	if peer == "rtpengine" {
		r.SigCPUPct, r.SigUSPerSetup = 0.5, 150
	}
	return r
}

func TestReportWithPeer(t *testing.T) {
	res := &results{Started: time.Now(), Finished: time.Now().Add(time.Minute), Steps: []stepResult{
		step("callgate", 1, 250, 3000, 40, true),
		step("callgate", 1, 500, 3200, 60, true),
		step("callgate", 1, 1000, 3600, 90, false),
		{Peer: "callgate", Rep: 1, Calls: 2000, Skipped: true},
		step("rtpengine", 1, 250, 6000, 30, true),
		step("rtpengine", 1, 500, 6400, 50, true),
		step("rtpengine", 1, 1000, 7000, 70, true),
		step("rtpengine", 1, 2000, 8000, 900, false),
		{Peer: "rtpengine", Rep: 1, Calls: 4000, Skipped: true, Note: "not reached: call setups failed on the way (12 of 2000 call setups failed, first: 503 | x)"},
		step("callgate", 0, 1000, 1, 1, true), // the profiled run: not a repetition
	}}
	s := settings{peers: []string{"callgate", "rtpengine"}, steps: []int{250, 500, 1000, 2000}, reps: 1, cps: 200,
		sutCore: 1, genCore: 0, rtpengineThreads: 1, command: "PEERS=callgate,rtpengine bench/media-relay.sh", quick: true}
	doc := report(res, s)
	for _, want := range []string{
		"through rtpengine behind Kamailio",
		"| callgate | 250 | 1/1 ✅ |",
		"| rtpengine | 1000 | 1/1 ✅ |",
		"| callgate | 2000 | not run: a lower step overloaded callgate |",
		"| 250 | 3000 | 6000 | 0.50× | 40 | 30 | 150 |",
		"| 500 | 3200 | 6400 | 0.50× | 60 | 50 | 150 |",
		"| 1000 | 3600 (fails) | 7000 | – (callgate fails the pass line) | 90 | 70 | 150 |",
		"| rtpengine | 4000 | not reached: call setups failed on the way (12 of 2000 call setups failed, first: 503 \\| x) |",
		"| rtpengine | 1 | 4000 | not reached: call setups failed",
		"Highest concurrent calls at the pass line: callgate 500 calls, rtpengine 1000 calls.",
		"| rtpengine | 1 | 250 | true |",
		"0.5 / 150",
		"– (in its CPU)",
		"--table=-1",
		"no binding lookup",
		"| concurrent SIP↔SIP relayed calls at the pass line | ≥ 1,800 | 500 calls |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(doc, "| 2000 | ") && strings.Contains(doc, "| 2000 | 8000") {
		t.Error("ratio row for a step callgate did not run")
	}
	// Every table row has as many cells as its header.
	cells := 0
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, "\\|", ""), "|") - 1
		if cells == 0 {
			cells = n
		} else if n != cells {
			t.Errorf("%d cells, header has %d: %s", n, cells, line)
		}
	}
	sum := summary(res)
	for _, want := range []string{"callgate: highest concurrent calls at the pass line: 500 calls",
		"rtpengine: highest concurrent calls at the pass line: 1000 calls", "callgate ÷ rtpengine"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	// The generated section keeps its markers.
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := benchkit.ReplaceSection(path, "bench/media-relay.sh", "bench/setup-rate.sh", doc); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "<!-- BEGIN bench/media-relay.sh (generated: do not edit) -->") ||
		!strings.Contains(string(b), "<!-- END bench/media-relay.sh -->") {
		t.Errorf("markers missing:\n%s", b)
	}
}

func TestReportCallgateOnly(t *testing.T) {
	// Results saved before peers existed have no Peer: they are callgate's.
	old := step("", 1, 250, 3000, 40, true)
	res := &results{Steps: []stepResult{old}}
	doc := report(res, settings{peers: []string{"callgate"}, reps: 1})
	if !strings.Contains(doc, "| callgate | 250 | 1/1 ✅ |") {
		t.Errorf("old results not read as callgate's:\n%s", doc)
	}
	for _, unwanted := range []string{"rtpengine", "Kamailio is a stateful proxy", "callgate ÷"} {
		if strings.Contains(doc, unwanted) {
			t.Errorf("callgate-only report mentions %q", unwanted)
		}
	}
}

func TestFollowNotes(t *testing.T) {
	// rtpgen's line protocol: window lines, "# …" notes, and an exit status.
	script := `echo "window-start 250"; echo "window-close 250"; echo 'window-end 250 {"Calls":250}';` +
		`echo "# 985 of 1000 call setups failed, first: 408 Request Timeout"; echo "rtpgen: gave up" >&2; exit 1`
	var got []string
	err := follow(context.Background(), exec.Command("sh", "-c", script), filepath.Join(t.TempDir(), "gen.log"),
		func(kind string, n int, rest string) bool {
			got = append(got, fmt.Sprintf("%s %d %s", kind, n, rest))
			return true
		})
	if err == nil || !strings.Contains(err.Error(), "exit status 1 (see ") {
		t.Errorf("err = %v", err)
	}
	want := []string{"start 250 ", "close 250 ", `end 250 {"Calls":250}`, "note 0 985 of 1000 call setups failed, first: 408 Request Timeout"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNotRun(t *testing.T) {
	steps := []int{250, 500, 1000, 2000}
	done := map[int]bool{250: true, 500: true}
	gaveUp := notRun("rtpengine", 1, steps, done, "985 of 1000 call setups failed")
	if len(gaveUp) != 2 || gaveUp[0].Calls != 1000 || gaveUp[1].Calls != 2000 {
		t.Fatalf("%+v", gaveUp)
	}
	if gaveUp[0].Note != "not reached: call setups failed on the way (985 of 1000 call setups failed)" ||
		gaveUp[1].Note != "not run: a lower step overloaded rtpengine" || !gaveUp[0].Skipped || !gaveUp[1].Skipped {
		t.Errorf("%+v", gaveUp)
	}
	overloaded := notRun("callgate", 1, steps, done, "")
	if len(overloaded) != 2 || overloaded[0].Note != "not run: a lower step overloaded callgate" {
		t.Errorf("%+v", overloaded)
	}
}
