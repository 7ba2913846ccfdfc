package sip_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"callgate/pool"
)

// TestFloodFromOneAddress: SIPp floods INVITEs at 2,000/s for 5 s from one loopback
// address that no trunk owns, while a second SIPp, from carrier-a's address, places
// calls to the bound virtual number. Every carrier call completes; the flooder is
// banned after its burst and all it sends later is dropped before parsing; after the
// flood and a sweep the guard tracks no source and the goroutines are back to their
// number before the flood.
func TestFloodFromOneAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5 s SIPp flood")
	}
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp is not installed: apt-get install sip-tester")
	}
	r := newRig(t, func(c *rigConfig) { c.carrier.RingFor = 20 * time.Millisecond })
	edge := r.edge.Addr("udp").String()
	dir := t.TempDir()
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	baseline := settle()
	var heapBefore runtime.MemStats
	runtime.ReadMemStats(&heapBefore)

	const (
		floodRate  = 2000
		floodCalls = 10000 // 5 s at 2,000/s
		calls      = 100   // 20/s for 5 s
	)
	run := func(name string, args ...string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(sipp, args...)
		cmd.Dir = dir
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		return cmd, out
	}
	start := time.Now()
	flood, floodOut := run("flooder", "-sf", mustAbsPath(t, "testdata/sipp/flood_invite.xml"), "-s", numV,
		"-i", "127.0.0.9", "-r", fmt.Sprint(floodRate), "-m", fmt.Sprint(floodCalls), "-l", "5000",
		"-nostdin", "-timeout", "25s", edge)
	time.Sleep(300 * time.Millisecond) // the flooder is banned by now
	carrier, carrierOut := run("carrier", "-sf", mustAbsPath(t, "testdata/sipp/carrier_call.xml"), "-s", numV,
		"-i", "127.0.0.2", "-mi", "127.0.0.2", "-r", "20", "-m", fmt.Sprint(calls),
		"-nostdin", "-timeout", "25s", "-timeout_error", edge)

	var wg sync.WaitGroup
	var floodErr, carrierErr error
	wg.Add(2)
	go func() { defer wg.Done(); floodErr = flood.Wait() }()
	go func() { defer wg.Done(); carrierErr = carrier.Wait() }()
	wg.Wait()
	elapsed := time.Since(start)
	if carrierErr != nil {
		t.Fatalf("carrier SIPp: %v (some calls failed)\n%s", carrierErr, tail(carrierOut.String(), 3000))
	}
	t.Logf("flooder SIPp exit: %v; %s", floodErr, sippTotals(floodOut.String()))
	t.Logf("carrier SIPp: %s", sippTotals(carrierOut.String()))

	// Every carrier call was connected and ended with the caller's BYE.
	var recs []pool.Call
	eventually(t, "all carrier calls recorded", func() bool {
		recs, err = r.store.Calls(context.Background(), pool.CallFilter{})
		return err == nil && len(recs) >= calls && r.edge.ActiveCalls() == 0
	})
	if err := r.records.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if recs, err = r.store.Calls(context.Background(), pool.CallFilter{}); err != nil {
		t.Fatal(err)
	}
	answered := 0
	for _, c := range recs {
		if c.InTrunk == "carrier-a" && c.SIPCode == 200 {
			answered++
		}
	}
	if answered != calls || len(recs) != calls {
		t.Fatalf("%d of %d carrier calls answered; %d call records (the flood must write none)", answered, calls, len(recs))
	}

	st := r.edge.GuardStats()
	t.Logf("guard after %v: %+v", elapsed.Round(time.Millisecond), st)
	if st.Bans < 1 || st.Banned < 1 {
		t.Fatalf("the flooder was not banned: %+v", st)
	}
	if st.DroppedBanned < floodCalls*9/10 {
		t.Fatalf("only %d of the flood's %d INVITEs dropped as banned", st.DroppedBanned, floodCalls)
	}

	// Afterwards: the sweep forgets every source once the ban is over, and the
	// goroutines of the flood (transactions of the 403s, Timer I) are gone.
	r.edge.SweepGuard(time.Now().Add(2 * time.Minute))
	if st := r.edge.GuardStats(); st.Sources != 0 {
		t.Fatalf("%d sources tracked after the sweep, want 0", st.Sources)
	}
	deadline := time.Now().Add(15 * time.Second)
	n := settle()
	for n > baseline+2 && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		n = settle()
	}
	var heapAfter runtime.MemStats
	runtime.ReadMemStats(&heapAfter)
	t.Logf("goroutines: %d before the flood, %d after; heap in use %.1f MiB before, %.1f MiB after",
		baseline, n, float64(heapBefore.HeapInuse)/(1<<20), float64(heapAfter.HeapInuse)/(1<<20))
	if n > baseline+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after the flood, %d before:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

func mustAbsPath(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sippTotals picks SIPp's summary counters out of its final screen.
func sippTotals(out string) string {
	var parts []string
	for _, line := range strings.Split(out, "\n") {
		for _, key := range []string{"Successful call", "Failed call", "Total Call created"} {
			if strings.Contains(line, key) {
				parts = append(parts, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return strings.Join(parts, "; ")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
