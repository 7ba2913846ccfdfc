package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"callgate/bench/internal/benchkit"
	"callgate/bench/internal/rtpecho"
)

func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "tcp":
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	default:
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
}

// One agent calls through Janus (started from bench/janus's configs) to a SIPp
// carrier answering with the RTP echo, streams for a second and hangs up. Skipped
// where janus or sipp is not installed, unless CALLGATE_REQUIRE_JANUS is set (CI
// installs both and sets it, so the peer's client is tested there).
func TestJanusCallEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Janus and SIPp")
	}
	missing := t.Skip
	if os.Getenv("CALLGATE_REQUIRE_JANUS") != "" {
		missing = t.Fatal
	}
	janusBin, err := exec.LookPath("janus")
	if err != nil {
		missing("janus is not on PATH")
	}
	sippBin, err := exec.LookPath("sipp")
	if err != nil {
		missing("sipp is not on PATH")
	}
	lib, err := benchkit.JanusLibDir()
	if err != nil {
		missing(err)
	}
	iceIP, err := benchkit.NonLoopbackIPv4()
	if err != nil {
		missing(err)
	}
	dir := t.TempDir()
	loop := netip.MustParseAddr("127.0.0.1")
	ws := netip.AddrPortFrom(loop, uint16(freePort(t, "tcp")))
	j := benchkit.Janus{Bin: janusBin, Templates: filepath.Join("..", "..", "janus"), LibDir: lib, Core: -1,
		Vars: benchkit.JanusVars{WS: ws, SIPIP: loop, ICEIP: iceIP, RTPPorts: [2]int{41000, 41999}, ICEPorts: [2]int{42000, 42999}}}
	proc, err := j.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proc.Stop()
		if t.Failed() || testing.Verbose() {
			if b, err := os.ReadFile(proc.Log); err == nil {
				t.Logf("janus.log:\n%s", b)
			}
		}
	})

	echoPort := freePort(t, "udp")
	echo, err := rtpecho.Start(netip.AddrPortFrom(loop, uint16(echoPort)), 1, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(echo.Close)
	sipPort := freePort(t, "udp")
	scenario, _ := filepath.Abs(filepath.Join("..", "..", "sipp", "uas_media.xml"))
	uas := exec.Command(sippBin, "-sf", scenario, "-i", "127.0.0.1", "-p", fmt.Sprint(sipPort),
		"-key", "echo_ip", "127.0.0.1", "-key", "echo_port", fmt.Sprint(echoPort), "-nostdin")
	uas.Dir = dir
	if err := benchkit.StartLogged(uas, filepath.Join(dir, "uas.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { benchkit.Stop(uas, syscall.SIGTERM, 5*time.Second) })
	for deadline := time.Now().Add(5 * time.Second); !benchkit.UDPBound(netip.AddrPortFrom(loop, uint16(sipPort))); {
		if time.Now().After(deadline) {
			t.Fatal("sipp did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}

	s := settings{peer: peerJanus, janusURL: "ws://" + ws.String(), carrier: fmt.Sprintf("127.0.0.1:%d", sipPort),
		janusKeepalive: 25 * time.Second, local: iceIP.String(), muxSockets: 1, rate: 10, inflight: 1,
		setupTimeout: 15 * time.Second, callee: 8613900000000}
	f, err := newFleet(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go f.stream.send(ctx)
	rr := f.ramp(ctx, 1)
	if rr.Failed != 0 || rr.Calls != 1 {
		f.close()
		t.Fatalf("ramp: %+v", rr)
	}
	if rr.DialAnswerms.N != 1 || rr.DTLSms.N != 1 {
		t.Errorf("ramp figures: %+v", rr)
	}
	start := now() + int64(50*time.Millisecond)
	f.stream.resetWindow(start)
	echo.ResetWindow(start)
	time.Sleep(time.Second)
	end := now()
	f.stream.closeWindow(end)
	echo.CloseWindow(end)
	time.Sleep(300 * time.Millisecond)
	var w windowResult
	f.stream.fill(&w)
	w.EchoReceived, w.EchoSent = echo.Counts()
	if w.Sent < 40 || w.EchoReceived < w.Sent*9/10 || w.Received < w.Sent*9/10 || w.Forward.N == 0 {
		t.Errorf("media through Janus: sent %d, at the echo %d, back %d", w.Sent, w.EchoReceived, w.Received)
	}
	var dials strings.Builder
	f.writeDialLog(&dials, 1)
	if !strings.HasPrefix(dials.String(), "+8613900000000,") {
		t.Errorf("dial log %q", dials.String())
	}
	f.close()
	if f.dropped() != 0 {
		t.Errorf("%d calls dropped", f.dropped())
	}
	// The hangup reached the carrier: SIPp counts the call done once its BYE is in.
	time.Sleep(200 * time.Millisecond)
	if b, _ := os.ReadFile(proc.Log); strings.Contains(string(b), "[ERR]") {
		t.Errorf("janus logged errors:\n%s", b)
	}
}
