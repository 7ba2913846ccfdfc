package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"callgate/bench/internal/benchkit"

	"github.com/gorilla/websocket"
	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// fleet is every agent of the process and what they share: a few pion APIs, each
// with its ICE UDP mux socket, one DTLS certificate, the RTP streamer.
type fleet struct {
	s      settings
	tokens []string
	apis   []*webrtc.API
	socks  []net.PacketConn
	cert   webrtc.Certificate
	wsURL  string
	origin string
	// janusHost is the host of the agents' SIP identities (sip:agentN@host) with -peer
	// janus: Janus's own.
	janusHost string
	stream    *streamer

	mu       sync.Mutex
	agents   []*agent // every agent started, by index
	nFailed  int
	nDropped atomic.Int64
}

func newFleet(s settings, tokens []string) (*fleet, error) {
	f := &fleet{s: s, tokens: tokens, stream: newStreamer(uint8(s.pt))}
	switch s.peer {
	case peerJanus:
		if !strings.HasPrefix(s.janusURL, "ws://") && !strings.HasPrefix(s.janusURL, "wss://") {
			return nil, fmt.Errorf("-janus-url %q: want ws://host:port", s.janusURL)
		}
		u, err := url.Parse(s.janusURL)
		if err != nil {
			return nil, fmt.Errorf("-janus-url: %w", err)
		}
		f.wsURL, f.janusHost = s.janusURL, u.Hostname()
	default:
		base := strings.TrimSuffix(s.base, "/")
		if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			return nil, fmt.Errorf("-base %q: want http://host:port/", s.base)
		}
		f.origin, f.wsURL = base, "ws"+strings.TrimPrefix(base, "http")+"/ws"
	}
	local := net.ParseIP(s.local)
	if local == nil || local.To4() == nil {
		return nil, fmt.Errorf("-local %q: want an IPv4 address", s.local)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, err
	}
	f.cert = *cert
	for range max(s.muxSockets, 1) {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: local})
		if err != nil {
			f.close()
			return nil, err
		}
		_ = conn.SetReadBuffer(8 << 20)
		_ = conn.SetWriteBuffer(8 << 20)
		f.socks = append(f.socks, conn)
		api, err := newAPI(local, webrtc.NewICEUDPMux(nil, conn))
		if err != nil {
			f.close()
			return nil, err
		}
		f.apis = append(f.apis, api)
	}
	return f, nil
}

// newAPI is a browser made lean: G.711 and telephone-event only (as callgate's media
// engine, so Chrome would get the same answer), no mDNS, host candidates on local
// only through mux, no interceptors (no NACK, TWCC, RTCP reports), and the one SRTP
// profile Chrome ends up with: AES_CM_128_HMAC_SHA1_80.
func newAPI(local net.IP, mux ice.UDPMux) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 126},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(local) })
	se.SetSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	se.SetICEUDPMux(mux)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

func (f *fleet) close() {
	f.hangupAll()
	for _, c := range f.socks {
		_ = c.Close()
	}
}

// live is the number of calls up and streaming.
func (f *fleet) live() int { return f.stream.live() }

// failed counts agents that never got a call up plus calls that ended early.
func (f *fleet) failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nFailed + int(f.nDropped.Load())
}

// dropped counts calls that ended before the end of the run.
func (f *fleet) dropped() int { return int(f.nDropped.Load()) }

// ramp starts new agents until target calls are up (or have failed trying) and
// summarises the new agents' setups.
func (f *fleet) ramp(ctx context.Context, target int) rampResult {
	need := max(target-f.live(), 0)
	var rr rampResult
	var mine []*agent
	start := time.Now()
	newAgent := func(int) func() {
		a := f.newAgent(target)
		mine = append(mine, a)
		return func() {
			if f.s.peer == peerJanus {
				a.run(ctx, a.loginJanus)
				return
			}
			if a.idx >= len(f.tokens) {
				a.failStage = "login"
				a.err = errors.New("no token left")
				return
			}
			a.run(ctx, func(ctx context.Context) (string, error) { return a.setup(ctx, f.tokens[a.idx]) })
		}
	}
	f.pace(ctx, need, newAgent)
	// Through Janus, a step's agents all log in first, then dial: its SIP plugin
	// handles every request on one thread and a guest registration holds it for
	// 100 ms or more, so dials interleaved with logins would wait behind them.
	// Handshakes happen in the dial pass: their rate is over it.
	dialStart := start
	if f.s.peer == peerJanus {
		var in []*agent
		for _, a := range mine {
			if a.failStage == "" {
				in = append(in, a)
			}
		}
		dialStart = time.Now()
		f.pace(ctx, len(in), func(k int) func() { return func() { in[k].run(ctx, in[k].dialJanus) } })
	}
	rr.Started = len(mine)
	rr.Failures = map[string]int{}
	var dtlsMS, iceMS, loginMS, connMS, answerMS []float64
	var last time.Time
	handshakes := 0
	for _, a := range mine {
		if a.failStage != "" {
			rr.Failed++
			rr.Failures[a.failStage]++
			if rr.Failed <= 5 {
				fmt.Fprintf(os.Stderr, "agent %d: %s: %v\n", a.idx, a.failStage, a.err)
			}
			a.close()
			continue
		}
		handshakes++
		iceAt := time.Unix(0, a.iceAt.Load())
		dtlsMS = append(dtlsMS, ms(a.dtlsAt.Sub(iceAt)))
		iceMS = append(iceMS, ms(iceAt.Sub(a.answerAt)))
		loginMS = append(loginMS, ms(a.readyAt.Sub(a.startAt)))
		connMS = append(connMS, ms(a.dtlsAt.Sub(a.startAt)))
		answerMS = append(answerMS, ms(a.answeredAt.Sub(a.dialAt)))
		if a.answeredAt.After(last) {
			last = a.answeredAt
		}
	}
	f.mu.Lock()
	f.nFailed += rr.Failed
	f.mu.Unlock()
	rr.Calls = f.live()
	if handshakes > 0 {
		rr.Seconds = last.Sub(start).Seconds()
		rr.HandshakesPerSec = float64(handshakes) / last.Sub(dialStart).Seconds()
	}
	rr.DTLSms, rr.ICEms, rr.Loginms = benchkit.NewDist(dtlsMS), benchkit.NewDist(iceMS), benchkit.NewDist(loginMS)
	rr.Connectms, rr.DialAnswerms = benchkit.NewDist(connMS), benchkit.NewDist(answerMS)
	return rr
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// newAgent adds the next agent, for the step target.
func (f *fleet) newAgent(target int) *agent {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := len(f.agents)
	a := &agent{f: f, idx: idx, step: target, msgs: make(chan message, 16), callee: fmt.Sprintf("+%d", f.s.callee+int64(idx))}
	f.agents = append(f.agents, a)
	return a
}

// pace calls job(k) for k from 0 to n-1 at -rate per second and runs the function it
// returns on a goroutine of its own, at most -inflight at once; it waits for them all.
// When ctx ends it starts no more.
func (f *fleet) pace(ctx context.Context, n int, job func(k int) func()) {
	sem := make(chan struct{}, max(f.s.inflight, 1))
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Duration(float64(time.Second) / max(f.s.rate, 0.1))
	for k := range n {
		if d := time.Until(start.Add(time.Duration(k) * interval)); d > 0 && benchkit.Sleep(ctx, d) != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		run := job(k)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			run()
		}()
	}
	wg.Wait()
}

// writeDialLog writes the answered calls of step: callee, dial and answer times.
func (f *fleet) writeDialLog(w io.Writer, step int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.agents {
		if a.step == step && a.failStage == "" {
			fmt.Fprintf(w, "%s,%d,%d,%d\n", a.callee, a.dialAt.UnixNano(), a.answeredAt.UnixNano(), step)
		}
	}
}

// hangupAll hangs every call up and closes the agents, 64 at a time; it gives up
// waiting after 30 s (the process is about to exit). Calling it again does little.
func (f *fleet) hangupAll() {
	f.stream.stop()
	f.mu.Lock()
	agents := append([]*agent(nil), f.agents...)
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sem := make(chan struct{}, 64)
		var wg sync.WaitGroup
		for _, a := range agents {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				a.close()
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "webrtcload: agents still closing after 30 s; leaving them")
	}
}

// message is the part of the agent protocol (docs/signaling.md) the load uses.
type message struct {
	Type    string `json:"type"`
	V       int    `json:"v,omitempty"`
	ID      string `json:"id,omitempty"`
	Token   string `json:"token,omitempty"`
	SDP     string `json:"sdp,omitempty"`
	To      string `json:"to,omitempty"`
	Call    string `json:"call,omitempty"`
	State   string `json:"state,omitempty"`
	Code    any    `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// agent is one browser: a websocket, a PeerConnection, one call.
type agent struct {
	f      *fleet
	idx    int
	step   int
	callee string

	ws   *websocket.Conn
	wmu  sync.Mutex
	pc   *webrtc.PeerConnection
	msgs chan message // during setup
	jl   *janusLeg    // -peer janus: the Janus signalling instead of ws

	track              *webrtc.TrackLocalStaticRTP
	seq                uint16
	ts                 uint32
	n                  uint32
	streaming          atomic.Bool
	answered           atomic.Bool
	callID             string
	failStage          string
	err                error
	startAt, readyAt   time.Time
	answerAt, dtlsAt   time.Time
	dialAt, answeredAt time.Time
	iceAt              atomic.Int64 // unix ns; set from pion's callback
	closeOnce          sync.Once
	dtlsOnce           sync.Once
	dtlsUp, dtlsFailed chan struct{}
}

// run runs setup (all of the agent's setup to an answered call, or a part of it),
// within -setup-timeout; on failure it records the stage.
func (a *agent) run(ctx context.Context, setup func(context.Context) (string, error)) {
	ctx, cancel := context.WithTimeout(ctx, a.f.s.setupTimeout)
	defer cancel()
	stage, err := setup(ctx)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, errEnded) {
			err = fmt.Errorf("%s: %w", stage, err)
			stage = "timeout"
		}
		a.failStage, a.err = stage, err
	}
}

var errEnded = errors.New("call ended")

func (a *agent) setup(ctx context.Context, token string) (string, error) {
	a.startAt = time.Now()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
	ws, _, err := d.DialContext(ctx, a.f.wsURL, http.Header{"Origin": {a.f.origin}})
	if err != nil {
		return "websocket", err
	}
	ws.SetReadLimit(1 << 20)
	a.ws = ws
	go a.read()
	if err := a.write(message{Type: "auth", V: 1, Token: token}); err != nil {
		return "login", err
	}
	if _, err := a.await(ctx, "ready"); err != nil {
		return "login", err
	}
	a.readyAt = time.Now()

	if err := a.connectMedia(ctx); err != nil {
		return "offer", err
	}
	if stage, err := a.awaitDTLS(ctx); err != nil {
		return stage, err
	}

	a.dialAt = time.Now()
	if err := a.write(message{Type: "dial", ID: "d", To: a.callee}); err != nil {
		return "dial", err
	}
	for {
		m, err := a.await(ctx, "call")
		if err != nil {
			return "dial", err
		}
		if m.CallID() != "" {
			a.callID = m.CallID()
		}
		switch m.State {
		case "connected":
			a.answeredAt = time.Now()
			a.answered.Store(true)
			a.f.stream.activate(a)
			return "", nil
		case "ended":
			return "answer", fmt.Errorf("%w: %v %s", errEnded, m.Code, m.Reason)
		}
	}
}

// CallID is the call a message names.
func (m message) CallID() string { return m.Call }

// awaitDTLS waits for the DTLS transport to connect; on failure it returns the stage
// (ICE never connected, or DTLS did not).
func (a *agent) awaitDTLS(ctx context.Context) (string, error) {
	select {
	case <-a.dtlsUp:
		return "", nil
	case <-a.dtlsFailed:
		if a.iceAt.Load() == 0 {
			return "ice", errors.New("ICE failed")
		}
		return "dtls", errors.New("DTLS failed")
	case <-ctx.Done():
		if a.iceAt.Load() == 0 {
			return "ice", ctx.Err()
		}
		return "dtls", ctx.Err()
	}
}

// connectMedia makes the PeerConnection and does the offer/answer over callgate's
// websocket.
func (a *agent) connectMedia(ctx context.Context) error {
	offer, err := a.makeOffer(ctx)
	if err != nil {
		return err
	}
	if err := a.write(message{Type: "offer", SDP: offer}); err != nil {
		return err
	}
	m, err := a.await(ctx, "answer")
	if err != nil {
		return err
	}
	return a.applyAnswer(m.SDP)
}

// makeOffer makes the PeerConnection and its offer, every candidate gathered.
func (a *agent) makeOffer(ctx context.Context) (string, error) {
	api := a.f.apis[a.idx%len(a.f.apis)]
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{a.f.cert}})
	if err != nil {
		return "", err
	}
	a.pc = pc
	a.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
		"audio", fmt.Sprintf("agent%d", a.idx))
	if err != nil {
		return "", err
	}
	sender, err := pc.AddTrack(a.track)
	if err != nil {
		return "", err
	}
	go func() { // callgate's RTCP: read it so pion processes it
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	up, failed := make(chan struct{}), make(chan struct{})
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		switch st {
		case webrtc.ICEConnectionStateConnected:
			a.iceAt.CompareAndSwap(0, time.Now().UnixNano())
		case webrtc.ICEConnectionStateFailed:
			a.dtlsOnce.Do(func() { close(failed) })
		}
	})
	sender.Transport().OnStateChange(func(st webrtc.DTLSTransportState) {
		switch st {
		case webrtc.DTLSTransportStateConnected:
			a.dtlsOnce.Do(func() { a.dtlsAt = time.Now(); close(up) })
		case webrtc.DTLSTransportStateFailed:
			a.dtlsOnce.Do(func() { close(failed) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { a.f.stream.receive(a, tr) })
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	// The channels awaitDTLS waits on; set before the transport can connect (it
	// cannot before the answer is applied).
	a.dtlsUp, a.dtlsFailed = up, failed
	return pc.LocalDescription().SDP, nil
}

// applyAnswer applies the far end's SDP answer.
func (a *agent) applyAnswer(sdp string) error {
	if err := a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return err
	}
	a.answerAt = time.Now()
	return nil
}

// read is the websocket's one reader: it feeds setup, notices a call that ends
// afterwards, and keeps answering callgate's pings.
func (a *agent) read() {
	for {
		var m message
		if err := a.ws.ReadJSON(&m); err != nil {
			if a.answered.Load() && a.streaming.Load() {
				a.drop()
			}
			close(a.msgs)
			return
		}
		if a.answered.Load() {
			if m.Type == "call" && m.State == "ended" {
				a.drop()
			}
			continue
		}
		select {
		case a.msgs <- m:
		default:
		}
	}
}

// drop counts a call that ended during the run.
func (a *agent) drop() {
	if a.f.stream.deactivate(a) {
		a.f.nDropped.Add(1)
	}
}

// await waits for a message of type want; an error message, a closed socket or ctx
// ending is an error.
func (a *agent) await(ctx context.Context, want string) (message, error) {
	for {
		select {
		case m, ok := <-a.msgs:
			if !ok {
				return m, errors.New("websocket closed")
			}
			if m.Type == want {
				return m, nil
			}
			if m.Type == "error" {
				return m, fmt.Errorf("error %v: %s", m.Code, m.Message)
			}
		case <-ctx.Done():
			return message{}, ctx.Err()
		}
	}
}

func (a *agent) write(m message) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	_ = a.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return a.ws.WriteJSON(m)
}

// close hangs the call up, closes the websocket and the PeerConnection; safe to call
// twice.
func (a *agent) close() {
	a.closeOnce.Do(func() {
		a.f.stream.deactivate(a)
		if a.jl != nil {
			a.jl.close(a.callID != "")
		}
		if a.ws != nil && a.callID != "" {
			_ = a.write(message{Type: "hangup", Call: a.callID})
		}
		if a.ws != nil {
			_ = a.ws.Close()
		}
		if a.pc != nil {
			_ = a.pc.Close()
		}
	})
}
