package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
)

// lineWriter collects output and lets a test wait for a line matching a pattern.
type lineWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *lineWriter) wait(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(w.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no line matching %s in:\n%s", re, w.String())
	return nil
}

// freeUDPPort finds a UDP port free on ip for a peer process to bind.
func freeUDPPort(t *testing.T, ip string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func needSIPp(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp is not installed: apt-get install sip-tester (.ci/run does this)")
	}
	return path
}

// TestSIPpCallThroughCallgate is the spine end to end: a SIPp UAC plays a carrier
// calling virtual number V; callgate finds V's AXN binding in SQLite and calls B, a
// SIPp UAS that echoes RTP. Audio must cross callgate both ways, BYE must tear the call
// down, and the call record must say what happened.
func TestSIPpCallThroughCallgate(t *testing.T) {
	sipp := needSIPp(t)
	dir := t.TempDir()
	pcap, err := os.ReadFile("/usr/share/sip-tester/g711a.pcap")
	if err != nil {
		t.Fatalf("SIPp's sample pcap is missing: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "g711a.pcap"), pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	uasPort := freeUDPPort(t, "127.0.0.3")
	dbPath := filepath.Join(dir, "callgate.db")
	cfgPath := filepath.Join(dir, "callgate.yaml")
	cfgText := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: "off"
media:
  bind_address: 127.0.0.1
  port_min: 33000
  port_max: 33998
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
trunks:
  - name: carrier-a
    host: 127.0.0.2
    inbound_cidrs: [127.0.0.2/32]
  - name: carrier-b
    host: 127.0.0.3
    port: %d
    inbound_cidrs: [127.0.0.3/32]
pools:
  - name: acme-virtual
    supplier: b
    type: virtual
    tenant: acme
    trunks: [carrier-b]
    numbers: ["+8675500000001"]
bindings:
  - mode: AXN
    tenant: acme
    virtual: "+8675500000001"
    b: "+8613900000002"
`, dbPath, uasPort)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{}
	served := make(chan error, 1)
	logs := &lineWriter{}
	go func() { served <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), out) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	sipAddr := out.wait(t, regexp.MustCompile(`SIP on udp (127\.0\.0\.1:\d+)`))[1]

	// B: SIPp UAS answering and echoing RTP.
	uas := exec.Command(sipp, "-sf", mustAbs(t, "testdata/uas_echo.xml"), "-i", "127.0.0.3", "-p", fmt.Sprint(uasPort),
		"-mi", "127.0.0.3", "-rtp_echo", "-mp", fmt.Sprint(freeUDPPort(t, "127.0.0.3")),
		"-m", "1", "-nostdin", "-timeout", "30s")
	uas.Dir = dir
	uasOut := &lineWriter{}
	uas.Stdout, uas.Stderr = uasOut, uasOut
	if err := uas.Start(); err != nil {
		t.Fatalf("start SIPp UAS: %v", err)
	}
	uasDone := make(chan error, 1)
	go func() { uasDone <- uas.Wait() }()
	defer func() {
		select {
		case err := <-uasDone:
			if err != nil {
				t.Errorf("SIPp UAS: %v\n%s", err, tail(uasOut.String(), 2000))
			}
		case <-time.After(10 * time.Second):
			_ = uas.Process.Kill()
			t.Errorf("SIPp UAS did not finish its call")
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the UAS bind its port

	// A: SIPp UAC calling V from a carrier-a address.
	uac := exec.Command(sipp, "-sf", mustAbs(t, "testdata/uac_pcap.xml"), "-s", "+8675500000001",
		"-key", "caller", "+8613800000001", "-key", "pcap", filepath.Join(dir, "g711a.pcap"),
		"-i", "127.0.0.2", "-mi", "127.0.0.2", "-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error",
		"-trace_err", sipAddr)
	uac.Dir = dir
	b, err := uac.CombinedOutput()
	if err != nil {
		errLogs, _ := filepath.Glob(filepath.Join(dir, "*errors.log"))
		var sippErr []byte
		for _, f := range errLogs {
			e, _ := os.ReadFile(f)
			sippErr = append(sippErr, e...)
		}
		t.Fatalf("SIPp UAC call failed: %v\n%s\nSIPp errors:\n%s\ncallgate:\n%s", err, tail(string(b), 1500), tail(string(sippErr), 3000), logs.String())
	}

	// The record is written as the call ends; give it a moment.
	store, err := pool.OpenSQLite(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var rec pool.Call
	deadline := time.Now().Add(5 * time.Second)
	for {
		calls, err := store.Calls(context.Background(), pool.CallFilter{})
		if err == nil && len(calls) == 1 && calls[0].State == "ended" {
			rec, err = store.Call(context.Background(), calls[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finished call record: %v %+v", err, calls)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rec.SIPCode != 200 || rec.Reason != "caller_bye" || rec.HangupBy != "caller" ||
		rec.Caller != "+8613800000001" || rec.Virtual != "+8675500000001" || rec.Callee != "+8613900000002" ||
		rec.Tenant != "acme" || rec.InTrunk != "carrier-a" || rec.OutTrunk != "carrier-b" {
		t.Fatalf("call record: %+v", rec)
	}
	if rec.AnswerAt.IsZero() || rec.BilledSec < 3 || rec.BilledSec > 5 {
		t.Fatalf("answered at %v, billed %d s; want about 3 s", rec.AnswerAt, rec.BilledSec)
	}
	// SIPp plays 20 ms packets for ~3 s (about 100 arrive before its BYE); callgate must
	// have carried them to B, and B's echo back to A.
	if rec.PacketsFromA < 50 || rec.PacketsToB < 50 || rec.PacketsFromB < 50 || rec.PacketsToA < 50 {
		t.Fatalf("RTP through callgate: from A %d, to B %d, from B %d, to A %d; want >= 50 each way",
			rec.PacketsFromA, rec.PacketsToB, rec.PacketsFromB, rec.PacketsToA)
	}
	t.Logf("RTP through callgate: from A %d, to B %d, from B %d, to A %d; billed %d s",
		rec.PacketsFromA, rec.PacketsToB, rec.PacketsFromB, rec.PacketsToA, rec.BilledSec)
	if rec.PacketsToB > rec.PacketsFromA || rec.PacketsToA > rec.PacketsFromB {
		t.Fatalf("callgate sent more than it received: %+v", rec)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
