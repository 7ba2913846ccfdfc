// Command rtpgen is the media load of bench/media-relay.sh: carrier A placing calls
// through an edge with a sipgo UAC and streaming G.711 both ways, and carrier B's
// media echo.
//
//	rtpgen -mode relay  -steps 250,500,1000 -edge 127.0.0.1:5060 -to +8675500000001 -echo 127.0.0.3:40000
//	rtpgen -mode direct -steps 250,500,1000 -echo 127.0.0.3:40000       (baseline, no edge)
//
// In relay mode it sets calls up at -cps until the first step's count is up, lets
// them run -warm, measures -hold, then adds calls up to the next step, and so on; it
// hangs every call up at the end. Carrier B's signalling is someone else's (SIPp UAS
// answering with the echo address in its SDP); its media is the echo here: sockets
// bound with SO_REUSEPORT on -echo that send every packet back where it came from,
// with the time it arrived written into the payload.
//
// Every call sends a 20 ms PCMU packet (172 bytes) from one of -sockets sockets, the
// calls' packet clocks spread over the 20 ms; sends and receives are batched
// (sendmmsg/recvmmsg). A packet's payload carries its send time t0, the echo's
// arrival time t1, the call and the sequence number; back at A it arrives at t2.
// Forward one-way latency is t1-t0 (A → edge → B), return t2-t1 (B → edge → A);
// all three clocks are this process's monotonic clock. In direct mode the packets go
// straight to the echo: the same numbers with no edge in the path, the baseline.
//
// Output is line oriented, for bench/cmd/mediarelay: "window-start N" when a step's
// measured window opens, "window-end N {json}" with the step's figures when it
// closes, and "done".
package main

import (
	"callgate/bench/internal/benchkit"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type settings struct {
	mode        string
	steps       []int
	edge        string
	local       string
	to          string
	fromBase    int64
	echo        string
	echoSockets int
	sockets     int
	cps         float64
	warm, hold  time.Duration
	pt          int
}

func main() {
	var s settings
	var steps string
	flag.StringVar(&s.mode, "mode", "relay", "relay (through the edge) or direct (baseline: straight to the echo)")
	flag.StringVar(&steps, "steps", "100", "concurrent calls at each step, ascending, comma separated")
	flag.StringVar(&s.edge, "edge", "127.0.0.1:5060", "the edge's SIP address (relay mode)")
	flag.StringVar(&s.local, "local", "127.0.0.2", "carrier A's address: SIP and RTP sockets bind here")
	flag.StringVar(&s.to, "to", "+8675500000001", "the number called (an AXN virtual number)")
	flag.Int64Var(&s.fromBase, "from", 8613800000000, "callers are +from, +from+1, …")
	flag.StringVar(&s.echo, "echo", "127.0.0.3:40000", "carrier B's media echo address")
	flag.IntVar(&s.echoSockets, "echo-sockets", 2, "echo sockets (SO_REUSEPORT) and goroutines")
	flag.IntVar(&s.sockets, "sockets", 4, "carrier A's RTP sockets, calls spread over them")
	flag.Float64Var(&s.cps, "cps", 200, "call setup rate (relay mode)")
	flag.DurationVar(&s.warm, "warm", 10*time.Second, "settling time at each step before measuring")
	flag.DurationVar(&s.hold, "hold", 60*time.Second, "measured window at each step")
	flag.IntVar(&s.pt, "pt", 0, "payload type: 0 PCMU, 8 PCMA")
	flag.Parse()
	for _, f := range strings.Split(steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("bad step %q", f)
		}
		s.steps = append(s.steps, n)
	}
	if s.mode != "relay" && s.mode != "direct" {
		fatalf("-mode is relay or direct")
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "rtpgen: "+format+"\n", args...)
	os.Exit(1)
}

// stepResult is what one measured window saw.
type stepResult struct {
	Calls         int     // calls streaming
	CallsFailed   int     // setups that failed, cumulative
	Window        float64 // seconds
	Sent          int64   // packets A sent in the window
	EchoReceived  int64   // of those, arrived at B
	EchoSent      int64   // echoed by B (packets sent in the window)
	Received      int64   // back at A
	LossForward   float64 // % of Sent that never reached B
	LossReturn    float64 // % of EchoSent that never came back to A
	Forward       latency // t1 - t0, µs
	Return        latency // t2 - t1, µs
	JitterMeanUS  float64 // RFC 3550 interarrival jitter at A, mean over calls
	JitterMaxUS   float64
	WindowStartNS int64 // unix ns
	WindowEndNS   int64
}

// latency is a one-way latency distribution in µs (samples beyond the histogram,
// counted at 50 ms, in Over50ms).
type latency = benchkit.Latency

func run(ctx context.Context, s settings) error {
	echoAddr, err := netip.ParseAddrPort(s.echo)
	if err != nil {
		return fmt.Errorf("-echo: %w", err)
	}
	echo, err := startEcho(echoAddr, s.echoSockets)
	if err != nil {
		return err
	}
	defer echo.close()
	gen, err := newGenerator(s.local, s.sockets, s.pt)
	if err != nil {
		return err
	}
	defer gen.close()
	var sig *signaller
	if s.mode == "relay" {
		sig, err = newSignaller(s)
		if err != nil {
			return err
		}
		defer sig.close()
	}
	go gen.run(ctx)

	failed := 0
	for _, target := range s.steps {
		// Bring the number of calls up to target.
		for gen.calls() < target {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			need := target - gen.calls()
			if s.mode == "direct" {
				for range need {
					gen.addCall(echoAddr)
				}
				continue
			}
			f, err := sig.placeCalls(ctx, need, s.cps, gen)
			failed += f
			if err != nil {
				return err
			}
			if f > need/10+10 {
				return fmt.Errorf("%d of %d call setups failed: is the edge up?", f, need)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.warm):
		}
		start := time.Now()
		gen.resetWindow(start)
		echo.resetWindow(start)
		fmt.Printf("window-start %d\n", target)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.hold):
		}
		end := time.Now()
		fmt.Printf("window-close %d\n", target)
		gen.closeWindow(end)
		echo.closeWindow(end)
		// Let the packets sent in the window come back before counting.
		time.Sleep(500 * time.Millisecond)
		r := stepResult{Calls: gen.calls(), CallsFailed: failed, Window: end.Sub(start).Seconds(),
			WindowStartNS: start.UnixNano(), WindowEndNS: end.UnixNano()}
		gen.fill(&r)
		echo.fill(&r)
		if r.Sent > 0 {
			r.LossForward = 100 * float64(r.Sent-r.EchoReceived) / float64(r.Sent)
		}
		if r.EchoSent > 0 {
			r.LossReturn = 100 * float64(r.EchoSent-r.Received) / float64(r.EchoSent)
		}
		b, _ := json.Marshal(r)
		fmt.Printf("window-end %d %s\n", target, b)
	}
	if sig != nil {
		gen.stop()
		sig.hangupAll(ctx, s.cps*2)
	}
	fmt.Println("done")
	return nil
}

// localAddr is a UDP address on ip with port 0.
func localAddr(ip string) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0))
}
