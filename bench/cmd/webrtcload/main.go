// Command webrtcload is the browser-leg load of bench/browser-leg.sh: many agents in
// one process, each logging in on callgate's agent websocket, setting up a pion
// PeerConnection (ICE, DTLS with AES-CM SRTP as Chrome negotiates it) and dialling a
// callee; the carrier answers with this process's RTP echo as its media address.
//
//	webrtcload -base http://127.0.0.1:18082/ -tokens tokens.txt -steps 100,300,600 -echo 127.0.0.3:40000
//
// With -peer janus the same agents go through Janus's SIP plugin instead (the peer of
// callgate in bench/browser-leg.sh): each opens a Janus API websocket (-janus-url),
// creates a session, attaches janus.plugin.sip, registers as a guest
// (sip:agentN@-local, no REGISTER sent), calls sip:CALLEE@-carrier with its offer,
// applies the answer of the "accepted" event (PCMU must be in it), keeps the session
// alive (-janus-keepalive) and hangs up at the end.
//
//	webrtcload -peer janus -janus-url ws://127.0.0.1:8188 -carrier 127.0.0.23:5090 -steps 20,50 -echo 127.0.0.23:40000
//
// For each step it brings the number of agents up to the step's count (at -rate
// logins/s, at most -inflight at once), each one: websocket, auth, offer/answer, ICE,
// DTLS, dial, answered (through Janus: websocket, session and guest registration,
// offer, call, answer, ICE, DTLS). Then every call sends a 172-byte PCMU packet every 20 ms
// (SRTP, through callgate to the echo and back). A payload carries its send time t0,
// the echo's arrival time t1, the call and the packet number (bench/internal/rtpecho);
// back at the agent it arrives at t2: one-way latency agent → callgate → carrier is
// t1-t0, the way back t2-t1, on this process's monotonic clock.
//
// Output is line oriented, for bench/cmd/browserleg: "ramp-start N", "ramp-end N
// {json}" (logins, DTLS handshakes, dial→answer of the step's new agents),
// "window-start N", "window-close N", "window-end N {json}" (media figures of the
// measured window), "step-failed N reason" when too many agents of a step could not
// connect (the ramp stops there), and "done". -dial-log gets one line per call:
// callee,dial unix ns,answered unix ns,step.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"callgate/bench/internal/benchkit"
	"callgate/bench/internal/rtpecho"
)

// The signalling the agents speak: callgate's agent protocol, or the Janus API.
const (
	peerCallgate = "callgate"
	peerJanus    = "janus"
)

type settings struct {
	peer           string
	janusURL       string        // -peer janus: the Janus API websocket
	carrier        string        // -peer janus: carrier B's SIP host:port, called directly
	janusKeepalive time.Duration // -peer janus: keepalive interval
	base           string        // callgate's public listener, http://host:port/
	tokens         string
	steps          []int
	callee         int64
	echo           string
	echoSockets    int
	local          string
	muxSockets     int
	rate           float64
	inflight       int
	setupTimeout   time.Duration
	warm, hold     time.Duration
	failShare      float64
	dialLog        string
	pt             int
}

func main() {
	var s settings
	var steps string
	flag.StringVar(&s.peer, "peer", peerCallgate, "signalling: callgate (its agent websocket) or janus (Janus API, SIP plugin)")
	flag.StringVar(&s.janusURL, "janus-url", "ws://127.0.0.1:8188", "-peer janus: the Janus API websocket")
	flag.StringVar(&s.carrier, "carrier", "127.0.0.23:5090", "-peer janus: carrier B's SIP host:port; agent i calls sip:+callee+i@carrier")
	flag.DurationVar(&s.janusKeepalive, "janus-keepalive", 25*time.Second, "-peer janus: session keepalive interval (Janus times a session out after 60 s)")
	flag.StringVar(&s.base, "base", "http://127.0.0.1:18082/", "callgate's public listener (agent websocket at /ws)")
	flag.StringVar(&s.tokens, "tokens", "", "file with one agent token a line: agent i logs in with line i")
	flag.StringVar(&steps, "steps", "100", "concurrent calls at each step, ascending, comma separated")
	flag.Int64Var(&s.callee, "callee", 8613900000000, "agent i dials +callee+i")
	flag.StringVar(&s.echo, "echo", "127.0.0.3:40000", "carrier media echo address (empty: no echo here)")
	flag.IntVar(&s.echoSockets, "echo-sockets", 2, "echo sockets (SO_REUSEPORT) and goroutines")
	flag.StringVar(&s.local, "local", "127.0.0.1", "the agents' address: their ICE host candidates")
	flag.IntVar(&s.muxSockets, "mux-sockets", 4, "UDP sockets shared by the agents' ICE (pion ICE UDP mux), agents spread over them")
	flag.Float64Var(&s.rate, "rate", 100, "logins (websocket, PeerConnection, DTLS, dial) started per second")
	flag.IntVar(&s.inflight, "inflight", 200, "most logins in progress at once")
	flag.DurationVar(&s.setupTimeout, "setup-timeout", 20*time.Second, "an agent not answered within this long after starting counts as failed")
	flag.DurationVar(&s.warm, "warm", 10*time.Second, "settling time at each step before measuring")
	flag.DurationVar(&s.hold, "hold", 60*time.Second, "measured window at each step")
	flag.Float64Var(&s.failShare, "fail-share", 0.05, "stop the ramp when more than this share of a step's new agents fail")
	flag.StringVar(&s.dialLog, "dial-log", "", "write callee,dial unix ns,answered unix ns,step per call here")
	flag.IntVar(&s.pt, "pt", 0, "payload type: 0 PCMU, 8 PCMA")
	flag.Parse()
	var err error
	if s.steps, err = benchkit.ParseSteps(steps); err != nil {
		fatalf("-steps: %v", err)
	}
	if s.peer != peerCallgate && s.peer != peerJanus {
		fatalf("-peer %q: want %s or %s", s.peer, peerCallgate, peerJanus)
	}
	if s.janusKeepalive <= 0 || s.janusKeepalive >= 60*time.Second {
		fatalf("-janus-keepalive %s: want more than 0 and less than Janus's 60 s session timeout", s.janusKeepalive)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "webrtcload: "+format+"\n", args...)
	os.Exit(1)
}

// rampResult is what bringing a step's new agents up saw.
type rampResult struct {
	Calls           int            // agents with a call up after the ramp
	Started, Failed int            // new agents of this step
	Failures        map[string]int `json:",omitempty"` // by the stage that failed
	Seconds         float64        // first start to last answer
	// HandshakesPerSec is the DTLS handshakes completed per second of the ramp.
	HandshakesPerSec float64
	DTLSms           benchkit.Dist // ICE connected → DTLS connected
	ICEms            benchkit.Dist // answer applied → ICE connected
	Loginms          benchkit.Dist // websocket dial → ready
	Connectms        benchkit.Dist // websocket dial → DTLS connected
	DialAnswerms     benchkit.Dist // dial sent → "connected" event
}

// windowResult is what one measured window saw.
type windowResult struct {
	Calls        int     // calls streaming
	CallsFailed  int     // agents that failed to connect or whose call ended, cumulative
	CallsDropped int     // of those, calls that ended before the end of the run
	Window       float64 // seconds
	Sent         int64   // packets the agents sent in the window
	EchoReceived int64   // of those, arrived at the echo
	EchoSent     int64   // echoed
	Received     int64   // back at the agents
	LossForward  float64 // % of Sent that never reached the echo
	LossReturn   float64 // % of EchoSent that never came back
	Forward      benchkit.Latency
	Return       benchkit.Latency
}

func run(ctx context.Context, s settings) error {
	var tokens []string
	var err error
	if s.peer == peerCallgate {
		if tokens, err = readTokens(s.tokens); err != nil {
			return err
		}
		if need := s.steps[len(s.steps)-1]; len(tokens) < need {
			return fmt.Errorf("-tokens has %d tokens, the last step needs %d", len(tokens), need)
		}
	}
	var echo *rtpecho.Server
	if s.echo != "" {
		addr, err := netip.ParseAddrPort(s.echo)
		if err != nil {
			return fmt.Errorf("-echo: %w", err)
		}
		if echo, err = rtpecho.Start(addr, s.echoSockets, now); err != nil {
			return err
		}
		defer echo.Close()
	}
	var dialLog *os.File
	if s.dialLog != "" {
		if dialLog, err = os.Create(s.dialLog); err != nil {
			return err
		}
		defer dialLog.Close()
	}
	fleet, err := newFleet(s, tokens)
	if err != nil {
		return err
	}
	defer fleet.close()
	go fleet.stream.send(ctx)

	for _, target := range s.steps {
		fmt.Printf("ramp-start %d\n", target)
		rr := fleet.ramp(ctx, target)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if dialLog != nil {
			fleet.writeDialLog(dialLog, target)
		}
		b, _ := json.Marshal(rr)
		fmt.Printf("ramp-end %d %s\n", target, b)
		if rr.Failed > 0 && float64(rr.Failed) > s.failShare*float64(rr.Started) || rr.Calls == 0 {
			fmt.Printf("step-failed %d %d of %d new agents could not connect or call (%s)\n", target, rr.Failed, rr.Started, failureSummary(rr.Failures))
			break
		}
		if benchkit.Sleep(ctx, s.warm) != nil {
			return ctx.Err()
		}
		// The window starts a little ahead, so that the agents' and the echo's counts
		// are both open before the first packet of it is sent.
		start := now() + int64(50*time.Millisecond)
		fleet.stream.resetWindow(start)
		if echo != nil {
			echo.ResetWindow(start)
		}
		fmt.Printf("window-start %d\n", target)
		if benchkit.Sleep(ctx, s.hold) != nil {
			return ctx.Err()
		}
		end := now()
		fmt.Printf("window-close %d\n", target)
		fleet.stream.closeWindow(end)
		if echo != nil {
			echo.CloseWindow(end)
		}
		// Let the packets sent in the window come back before counting.
		time.Sleep(500 * time.Millisecond)
		r := windowResult{Calls: fleet.live(), CallsFailed: fleet.failed(), CallsDropped: fleet.dropped(),
			Window: float64(end-start) / 1e9}
		fleet.stream.fill(&r)
		if echo != nil {
			r.EchoReceived, r.EchoSent = echo.Counts()
		}
		if r.Sent > 0 {
			r.LossForward = 100 * float64(r.Sent-r.EchoReceived) / float64(r.Sent)
		}
		if r.EchoSent > 0 {
			r.LossReturn = 100 * float64(r.EchoSent-r.Received) / float64(r.EchoSent)
		}
		b, _ = json.Marshal(r)
		fmt.Printf("window-end %d %s\n", target, b)
	}
	fleet.hangupAll()
	fmt.Println("done")
	return nil
}

func failureSummary(m map[string]int) string {
	var parts []string
	for _, k := range []string{"websocket", "login", "offer", "ice", "dtls", "dial", "answer", "timeout"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func readTokens(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("-tokens is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// base is the process's clock origin: now() is ns on the monotonic clock since then.
var base = time.Now()

func now() int64 { return int64(time.Since(base)) }
