package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"callgate/bench/internal/benchkit"
)

// The edges -peers accepts: callgate, and Janus with its SIP plugin.
const (
	peerCallgate = "callgate"
	peerJanus    = "janus"
)

func peerNames() []string { return []string{peerCallgate, peerJanus} }

// Janus's addresses: its Janus API (websockets transport) and SIP plugin on
// 127.0.0.1 (its plugin binds only to an address an interface holds, and loopback
// holds 127.0.0.1 only), its SIP plugin's RTP on 10000-29999 and its WebRTC legs on
// 30000-49999 like callgate's, and its ICE on the machine's own non-loopback address
// (Janus 1.1.2 never gathers on loopback), where the agents' ICE then runs too.
var (
	janusWS      = netip.MustParseAddrPort("127.0.0.1:8188")
	janusSIP     = netip.MustParseAddr("127.0.0.1")
	janusRTP     = [2]int{10000, 29999}
	janusICEPort = [2]int{30000, 49999}
)

// edge is the system under test on its core.
type edge struct {
	name    string
	proc    *benchkit.Proc
	metrics string // Prometheus endpoint (callgate's goroutines), or ""
	// genArgs are webrtcload's arguments for this edge (besides steps, rates, echo).
	genArgs []string
}

func (e *edge) pid() int { return e.proc.Cmd.Process.Pid }

// startEdge starts the named edge for a repetition in dir.
func startEdge(s settings, name, dir string) (*edge, error) {
	switch name {
	case peerCallgate:
		return startCallgate(s, dir)
	case peerJanus:
		return startJanus(s, dir)
	}
	return nil, fmt.Errorf("unknown peer %q (%s)", name, strings.Join(peerNames(), ", "))
}

// startCallgate writes the run's config (agents, tokens) and starts callgate.
func startCallgate(s settings, dir string) (*edge, error) {
	db := filepath.Join(dir, "callgate.db")
	for _, suf := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(db + suf)
	}
	nAgents := agentsFor(s.steps)
	cfg := filepath.Join(dir, "callgate.yaml")
	if err := os.WriteFile(cfg, []byte(callgateConfig(db, nAgents, s.iceMux)), 0o644); err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(tokens, []byte(tokensFile(nAgents)), 0o600); err != nil {
		return nil, err
	}
	cg := benchkit.Pinned(s.sutCore, s.callgate, "serve", "--config", cfg)
	cg.Env = append(os.Environ(), agentEnv(nAgents)...)
	cgLog := filepath.Join(dir, "callgate.log")
	if _, err := benchkit.StartWaitLine(cg, cgLog, regexp.MustCompile(`SIP on udp`), 60*time.Second); err != nil {
		return nil, err
	}
	pid := cg.Process.Pid // taskset and chrt exec: the same pid
	return &edge{name: peerCallgate, metrics: "http://" + publicHTTP + "/metrics",
		proc: &benchkit.Proc{
			Cmd:  cg,
			Pids: func() []int { return []int{pid} },
			Stop: func() { benchkit.Stop(cg, syscall.SIGTERM, 30*time.Second) },
			Log:  cgLog,
		},
		genArgs: []string{"-base", "http://" + publicHTTP + "/", "-tokens", tokens},
	}, nil
}

// janusVars are the addresses and ports Janus runs with (s.janusICE: its ICE address).
func janusVars(ice netip.Addr) benchkit.JanusVars {
	return benchkit.JanusVars{WS: janusWS, SIPIP: janusSIP, ICEIP: ice, RTPPorts: janusRTP, ICEPorts: janusICEPort}
}

// startJanus starts Janus from bench/janus's configs (rendered into dir/janus) on the
// edge's core; the agents call carrier B through its SIP plugin.
func startJanus(s settings, dir string) (*edge, error) {
	if c, err := net.DialTimeout("tcp", janusWS.String(), time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s is taken: is another Janus running?", janusWS)
	}
	j := benchkit.Janus{Bin: s.janus, Templates: s.janusTemplates, LibDir: s.janusLib, Core: s.sutCore,
		Vars: janusVars(s.janusICE)}
	p, err := j.Start(filepath.Join(dir, "janus"))
	if err != nil {
		return nil, err
	}
	return &edge{name: peerJanus, proc: p,
		genArgs: []string{"-peer", peerJanus, "-janus-url", "ws://" + janusWS.String(),
			"-carrier", fmt.Sprintf("%s:%d", carrierIP, carrierPort), "-local", s.janusICE.String()},
	}, nil
}
