package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Failover and trunk limits end to end with SIPp as the carriers: callgate runs whole
// (serve); a SIPp UAC behind carrier-in (127.0.0.2) dials a masked number whose AXN
// binding leaves through carrier-a (127.0.0.3); carrier-b (127.0.0.4) is the pool's
// other trunk. Carriers are SIPp UAS processes (testdata/failover_uas.xml answering,
// failover_uas_503.xml out of order) that log every INVITE and BYE; a carrier that
// fails and recovers is one process stopped and another started on the same address.
// Calls are counted from those logs, never timed.

// The numbers of the failover tests.
const (
	foV      = "+8675500000101" // AXN virtual number, pool acme-v
	foB      = "+8613900000101" // the party it reaches
	foCaller = "+8613800000101"
)

// foConfig is callgate's config for the failover tests (%[1]s: database path) with
// carrier-a at portA and carrier-b at portB, carrier-a's extra settings aExtra (each
// line indented as a trunk key) and the pool's trunks.
func foConfig(portA, portB int, aExtra, poolTrunks string) string {
	return `listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: "off"
sip:
  scoring:
    half_life: 1s
    min_seizures: 1
    degrade_below: 0.4
    recover_above: 0.48
    every: 200ms
media:
  bind_address: 127.0.0.1
  port_min: 38000
  port_max: 38998
storage:
  sqlite:
    path: %[1]s
tenants:
  - name: acme
trunks:
  - name: carrier-in
    host: 127.0.0.2
    inbound_cidrs: [127.0.0.2/32]
  - name: carrier-a
    host: 127.0.0.3
    port: ` + fmt.Sprint(portA) + `
    inbound_cidrs: [127.0.0.3/32]
    weight: 2
    max_calls_per_second: -1
` + aExtra + `  - name: carrier-b
    host: 127.0.0.4
    port: ` + fmt.Sprint(portB) + `
    inbound_cidrs: [127.0.0.4/32]
    max_calls_per_second: -1
    probe:
      interval: 1s
      timeout: 500ms
      down_after: 2
      up_after: 1
pools:
  - name: acme-v
    supplier: s
    type: virtual
    tenant: acme
    trunks: ` + poolTrunks + `
    numbers: ["` + foV + `"]
bindings:
  - mode: AXN
    tenant: acme
    virtual: "` + foV + `"
    b: "` + foB + `"
    trunk: carrier-a
`
}

// foCarrier is one SIPp UAS playing a carrier, logging to its own file.
type foCarrier struct {
	p   *sippProc
	log string
}

// carrier starts scenario (in testdata) as a carrier at ip:port, logging to a file
// named name.
func (r *maskingRig) carrier(name, scenario, ip string, port int) *foCarrier {
	r.t.Helper()
	log := filepath.Join(r.dir, name+".log")
	p := r.start("carrier "+name, "-sf", mustAbs(r.t, "testdata/"+scenario), "-i", ip, "-p", fmt.Sprint(port),
		"-mi", ip, "-mp", fmt.Sprint(freeUDPPort(r.t, ip)), "-nostdin", "-trace_logs", "-log_file", log,
		"-trace_err", "-error_file", filepath.Join(r.dir, name+"_errors.log"))
	waitUDPBound(r.t, ip, port)
	return &foCarrier{p: p, log: log}
}

// lines returns the carrier's log lines starting with what ("INVITE", "BYE").
func (c *foCarrier) lines(what string) []string {
	b, _ := os.ReadFile(c.log) // SIPp writes every line as it logs it
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, what+" ") {
			out = append(out, l)
		}
	}
	return out
}

// count is how many INVITEs (or BYEs) the carrier got.
func (c *foCarrier) count(what string) int { return len(c.lines(what)) }

// maxConcurrent is the most calls the carrier held at once: SIPp handles one message
// at a time and logs in that order, so INVITE and BYE lines in order give the number
// of calls between them.
func (c *foCarrier) maxConcurrent() int {
	b, _ := os.ReadFile(c.log)
	cur, peak := 0, 0
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "INVITE "):
			cur++
			peak = max(peak, cur)
		case strings.HasPrefix(l, "BYE "):
			cur--
		}
	}
	return peak
}

// stop ends the carrier once every call it answered has been hung up (answered is
// false for a carrier that answers nothing).
func (r *maskingRig) stop(c *foCarrier, answered bool) {
	r.t.Helper()
	if answered {
		eventually(r.t, "every call at "+c.p.name+" hung up", func() bool { return c.count("BYE") == c.count("INVITE") })
	}
	_ = c.p.cmd.Process.Kill()
	<-c.p.done
}

// calls places n calls from carrier-in to the virtual number, at most limit at once
// and rate per second, each answered call held for holdMS; it fails the test unless
// SIPp ran every call to the end, and returns how many were answered and refused (503).
func (r *maskingRig) calls(name string, n, limit, rate, holdMS int) (answered, refused int) {
	r.t.Helper()
	log := filepath.Join(r.dir, name+".log")
	r.wait(r.start("UAC "+name, "-sf", mustAbs(r.t, "testdata/failover_uac.xml"), "-s", foV, "-key", "caller", foCaller,
		"-i", "127.0.0.2", "-p", fmt.Sprint(freeUDPPort(r.t, "127.0.0.2")), "-mi", "127.0.0.2",
		"-mp", fmt.Sprint(freeUDPPort(r.t, "127.0.0.2")), "-m", fmt.Sprint(n), "-l", fmt.Sprint(limit), "-r", fmt.Sprint(rate),
		"-d", fmt.Sprint(holdMS), "-nostdin", "-timeout", "90s", "-timeout_error", "-trace_err",
		"-trace_logs", "-log_file", log, r.sipAddr))
	b, err := os.ReadFile(log)
	if err != nil {
		r.t.Fatalf("UAC %s log: %v", name, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "ANSWERED "):
			answered++
		case strings.HasPrefix(l, "REFUSED "):
			refused++
		}
	}
	return answered, refused
}

// TestSIPpFailoverCarrierDownAndBack: carrier A (the binding's trunk, weight 2)
// carries every call while it answers; once it answers 503 to INVITEs and probes, the
// callers still see every call answered — each attempt on A fails over to carrier B
// inside the same setup — and after a handful of attempts (ASR degrade, probes down)
// A gets no more INVITEs; when A answers again (probes pass, its bad history decays)
// calls return to it.
func TestSIPpFailoverCarrierDownAndBack(t *testing.T) {
	sipp := maskingSIPp(t)
	dir := t.TempDir()
	ipA, ipB := "127.0.0.3", "127.0.0.4"
	portA, portB := freeUDPPort(t, ipA), freeUDPPort(t, ipB)
	probe := `    invite_timeout: 2s
    probe:
      interval: 1s
      timeout: 500ms
      down_after: 2
      up_after: 1
`
	// The carriers listen before callgate probes them.
	r := &maskingRig{t: t, sipp: sipp, dir: dir}
	a1, b1 := r.carrier("a1", "failover_uas.xml", ipA, portA), r.carrier("b1", "failover_uas.xml", ipB, portB)
	r = startMasking(t, sipp, dir, foConfig(portA, portB, probe, "[carrier-a, carrier-b]"))

	// 1. Both carriers answer: every call leaves through the binding's trunk, A.
	const n1 = 4
	if ans, ref := r.calls("uac1", n1, 1, 5, 50); ans != n1 || ref != 0 {
		t.Fatalf("phase 1: %d of %d calls answered, %d refused", ans, n1, ref)
	}
	r.stop(a1, true)
	r.stop(b1, true)
	if a, b := a1.count("INVITE"), b1.count("INVITE"); a != n1 || b != 0 {
		t.Fatalf("phase 1 (both answer): carrier A got %d INVITEs, B %d; want %d and 0", a, b, n1)
	}

	// 2. A answers 503 to everything: no caller sees it, and A stops getting calls
	// after a handful of attempts.
	const n2, handful = 12, 6
	a2, b2 := r.carrier("a2", "failover_uas_503.xml", ipA, portA), r.carrier("b2", "failover_uas.xml", ipB, portB)
	if ans, ref := r.calls("uac2", n2, 1, 2, 50); ans != n2 || ref != 0 {
		t.Fatalf("phase 2: %d of %d calls answered, %d refused; every call should have failed over to B", ans, n2, ref)
	}
	r.stop(a2, false)
	r.stop(b2, true)
	aTried, bGot := a2.count("INVITE"), b2.count("INVITE")
	t.Logf("phase 2 (A answers 503): A tried %d times, B carried %d of %d calls", aTried, bGot, n2)
	if bGot != n2 {
		t.Errorf("phase 2: carrier B got %d INVITEs, want all %d calls", bGot, n2)
	}
	if aTried > handful {
		t.Errorf("phase 2: carrier A got %d INVITEs after it began to answer 503; want at most %d before calls move to B", aTried, handful)
	}

	// 3. A answers again: once its probes pass and its 503s have faded from its
	// score, calls return to it (the binding's trunk, and the heavier one).
	a3, b3 := r.carrier("a3", "failover_uas.xml", ipA, portA), r.carrier("b3", "failover_uas.xml", ipB, portB)
	for i := 0; a3.count("INVITE") == 0; i++ {
		if i == 60 {
			t.Fatalf("phase 3: carrier A answers again but got none of %d calls", i)
		}
		if ans, ref := r.calls(fmt.Sprintf("uac3-%d", i), 1, 1, 1, 50); ans != 1 || ref != 0 {
			t.Fatalf("phase 3: call %d not answered (refused %d)", i, ref)
		}
	}
	beforeA, beforeB := a3.count("INVITE"), b3.count("INVITE")
	const n3 = 6
	if ans, ref := r.calls("uac3", n3, 1, 2, 50); ans != n3 || ref != 0 {
		t.Fatalf("phase 3: %d of %d calls answered, %d refused", ans, n3, ref)
	}
	r.stop(a3, true)
	r.stop(b3, true)
	t.Logf("phase 3 (A recovered): %d calls went to B before A took one", beforeB)
	if a, b := a3.count("INVITE")-beforeA, b3.count("INVITE")-beforeB; a != n3 || b != 0 {
		t.Errorf("phase 3: after A's recovery, A got %d and B %d of %d calls; want all on A", a, b, n3)
	}
}

// TestSIPpTrunkLimitUnderBurst: 50 calls arrive at once for a binding whose only
// trunk allows 10 concurrent calls. The carrier never holds more than 10 calls at a
// time, the calls over the limit are refused with 503 at once (SIPp ends every call,
// none waits for a slot), and no refused call reaches the carrier.
func TestSIPpTrunkLimitUnderBurst(t *testing.T) {
	sipp := maskingSIPp(t)
	dir := t.TempDir()
	ipA := "127.0.0.3"
	portA, portB := freeUDPPort(t, ipA), freeUDPPort(t, "127.0.0.4")
	r := &maskingRig{t: t, sipp: sipp, dir: dir}
	a := r.carrier("a", "failover_uas.xml", ipA, portA)
	r = startMasking(t, sipp, dir, foConfig(portA, portB, "    max_concurrent_calls: 10\n", "[carrier-a]"))

	const burst, limit = 50, 10
	ans, ref := r.calls("burst", burst, burst, 200, 3000)
	r.stop(a, true)
	peak, got := a.maxConcurrent(), a.count("INVITE")
	t.Logf("burst of %d: %d answered, %d refused with 503; carrier held at most %d at once (%d INVITEs)", burst, ans, ref, peak, got)
	if ans+ref != burst {
		t.Errorf("answered %d + refused %d != %d calls", ans, ref, burst)
	}
	if peak > limit {
		t.Errorf("carrier held %d calls at once, over the trunk's max_concurrent_calls %d", peak, limit)
	}
	if ans < limit || ref == 0 {
		t.Errorf("answered %d (want at least %d: a free slot is never refused), refused %d (want some: the burst is over the limit)", ans, limit, ref)
	}
	if got != ans {
		t.Errorf("carrier got %d INVITEs for %d answered calls: refused calls must not reach it", got, ans)
	}
}
