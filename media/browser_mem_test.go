package media

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// The memory benchmark keeps the test browsers out of the measured process:
// it runs this test binary again as a helper (TestBrowserMemPeers) that
// holds the browsers' PeerConnections and talks to the benchmark over its
// stdin and stdout, one line per message:
//
//	helper → benchmark: offer "<sdp as a JSON string>"
//	benchmark → helper: answer "<sdp as a JSON string>"
//	helper → benchmark: ready            (every browser connected, tone flowing)
//	benchmark → helper: EOF on stdin     (the helper closes its browsers and exits)
//
// so that the live heap the benchmark measures is callgate's alone.
const (
	memPeersEnv  = "CALLGATE_MEM_PEERS"   // number of browsers the helper plays
	memLegsEnv   = "CALLGATE_MEM_LEGS"    // legs per benchmark run; default 200
	memProfEnv   = "CALLGATE_MEM_PROFILE" // inuse heap profile path prefix, optional
	memLinePfxIn = "memoffer "
	memLineReady = "memready"
)

// BenchmarkBrowserLegMemory establishes N browser legs (CALLGATE_MEM_LEGS,
// default 200) from pion browsers in a helper process over loopback, with
// DTLS done and 20 ms G.711 packets flowing both ways for a second, and
// reports callgate's live heap, goroutines and allocations per leg. Run it
// once per configuration:
//
//	go test -run '^$' -bench BrowserLegMemory -benchtime 1x ./media/
//
// With CALLGATE_MEM_PROFILE=/tmp/legs it writes /tmp/legs-<config>.pprof,
// an inuse_space heap profile taken while the legs are up, and
// /tmp/legs-<config>.goroutines.txt, their goroutines.
func BenchmarkBrowserLegMemory(b *testing.B) {
	n := 200
	if s := os.Getenv(memLegsEnv); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("%s=%q", memLegsEnv, s)
		}
		n = v
	}
	for _, tc := range []struct {
		name string
		cfg  WebRTCConfig
	}{
		{"ports", WebRTCConfig{}},
		{"ports-1ip", WebRTCConfig{HostIPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
		{"mux", WebRTCConfig{MuxAddr: "127.0.0.1:0"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				measureBrowserLegs(b, tc.name, tc.cfg, n)
			}
		})
	}
}

// liveHeap returns the memory statistics after collecting garbage (twice:
// the first cycle only moves sync.Pool contents to the victim cache).
func liveHeap() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

func measureBrowserLegs(b *testing.B, name string, cfg WebRTCConfig, n int) {
	prof := os.Getenv(memProfEnv)
	if prof != "" {
		runtime.MemProfileRate = 4096
		defer func() { runtime.MemProfileRate = 512 * 1024 }()
	}
	w := newTestWebRTC(b, cfg)
	defer w.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestBrowserMemPeers$", "-test.count=1")
	cmd.Env = append(os.Environ(), memPeersEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	toPeers, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	fromPeers, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	before := liveHeap()
	goBefore := runtime.NumGoroutine()
	cpuBefore := processCPU(b)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		toPeers.Close()
		_ = cmd.Wait()
	}()

	legs := make([]*BrowserLeg, 0, n)
	defer func() {
		for _, l := range legs {
			l.Close()
		}
	}()
	lines := bufio.NewScanner(fromPeers)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	ready := false
	for !ready && lines.Scan() {
		line := lines.Text()
		switch {
		case line == memLineReady:
			ready = true
		case strings.HasPrefix(line, memLinePfxIn):
			var offer string
			if err := json.Unmarshal([]byte(line[len(memLinePfxIn):]), &offer); err != nil {
				b.Fatalf("helper offer: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			leg, answer, err := w.NewBrowserLeg(ctx, offer)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			legs = append(legs, leg)
			a, _ := json.Marshal(answer)
			if _, err := fmt.Fprintf(toPeers, "%s\n", a); err != nil {
				b.Fatal(err)
			}
		}
	}
	if !ready {
		b.Fatalf("helper ended before its browsers connected (%v)", lines.Err())
	}
	for _, l := range legs {
		for deadline := time.Now().Add(10 * time.Second); l.pc.ConnectionState() != webrtc.PeerConnectionStateConnected; {
			if time.Now().After(deadline) {
				b.Fatal("browser leg did not connect")
			}
			time.Sleep(time.Millisecond)
		}
	}
	cpuSetup := processCPU(b)
	setup := liveHeap()

	// A second of audio toward the browsers; theirs flows the other way.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pkt := rtpPacket(0, false, 0, 0, 0x1111, make([]byte, 160))
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := uint16(1); ; i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			SetSequenceNumber(pkt, i)
			SetTimestamp(pkt, 160*uint32(i))
			for _, l := range legs {
				_ = l.WriteRTP(pkt)
			}
		}
	}()
	count := func() (packets uint64) {
		for _, l := range legs {
			s := l.Stats()
			packets += s.PacketsIn + s.PacketsOut
		}
		return packets
	}
	time.Sleep(200 * time.Millisecond) // every leg's audio under way
	p0, c0 := count(), processCPU(b)
	time.Sleep(time.Second)
	p1, c1 := count(), processCPU(b)
	var in, out uint64
	for _, l := range legs {
		s := l.Stats()
		in += s.PacketsIn
		out += s.PacketsOut
	}
	if in == 0 || out == 0 {
		b.Fatalf("no media: %d packets in, %d out", in, out)
	}
	after := liveHeap()
	goAfter := runtime.NumGoroutine()
	if prof != "" {
		// The heap profile is as of the last GC but one: collect twice more.
		runtime.GC()
		runtime.GC()
		f, err := os.Create(fmt.Sprintf("%s-%s.pprof", prof, name))
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		g, err := os.Create(fmt.Sprintf("%s-%s.goroutines.txt", prof, name))
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("goroutine").WriteTo(g, 1); err != nil {
			b.Fatal(err)
		}
		g.Close()
	}
	close(stop)
	wg.Wait()

	per := func(a, z uint64) float64 { return (float64(a) - float64(z)) / float64(n) }
	b.ReportMetric(per(after.HeapInuse, before.HeapInuse), "heapinuse-B/leg")
	b.ReportMetric(per(after.HeapAlloc, before.HeapAlloc), "heapalloc-B/leg")
	b.ReportMetric(per(setup.HeapAlloc, before.HeapAlloc), "setup-heapalloc-B/leg")
	b.ReportMetric(per(after.StackInuse, before.StackInuse), "stack-B/leg")
	b.ReportMetric(per(setup.Mallocs, before.Mallocs), "setup-allocs/leg")
	b.ReportMetric(float64(goAfter-goBefore)/float64(n), "goroutines/leg")
	b.ReportMetric(float64((cpuSetup-cpuBefore).Microseconds())/float64(n), "setup-cpu-µs/leg")
	b.ReportMetric(float64((c1-c0).Nanoseconds())/float64(p1-p0), "cpu-ns/packet")
	b.ReportMetric(0, "ns/op")
}

// TestBrowserMemPeers is the helper process of BenchmarkBrowserLegMemory:
// it plays CALLGATE_MEM_PEERS browsers (see the protocol above). It skips
// when run as an ordinary test.
func TestBrowserMemPeers(t *testing.T) {
	s := os.Getenv(memPeersEnv)
	if s == "" {
		t.Skip("helper process of BenchmarkBrowserLegMemory")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 1<<20)
	browsers := make([]*testBrowser, 0, n)
	for range n {
		br := newChromeLikeBrowser(t)
		o, _ := json.Marshal(br.offer())
		fmt.Printf("%s%s\n", memLinePfxIn, o)
		if !in.Scan() {
			t.Fatalf("no answer: %v", in.Err())
		}
		var answer string
		if err := json.Unmarshal(in.Bytes(), &answer); err != nil {
			t.Fatal(err)
		}
		br.answer(answer)
		browsers = append(browsers, br)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			for _, br := range browsers {
				br.sendTone()
			}
		}
	}()
	fmt.Println(memLineReady)
	_, _ = io.Copy(io.Discard, os.Stdin)
	close(stop)
	<-done
}

// newChromeLikeBrowser is a test browser whose DTLS offers only the SRTP
// profile Chrome uses (AES_CM_128_HMAC_SHA1_80), so that callgate's SRTP
// contexts are the ones browsers give it. It reads and discards what it
// receives.
func newChromeLikeBrowser(t testing.TB) *testBrowser {
	t.Helper()
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 8000}, PayloadType: chromeDTMFPT},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// One host candidate, like the benchmark's agents (bench/cmd/webrtcload).
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	se.LoggerFactory = pionLogs{discardLogger()}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	b := &testBrowser{t: t, pc: pc, track: &rawTrack{kind: webrtc.RTPCodecTypeAudio}, seq: 1000, ts: 50000}
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := r.Read(buf); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	if _, err := pc.AddTransceiverFromTrack(b.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	return b
}
