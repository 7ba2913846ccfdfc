package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"callgate/media"
	"callgate/pool"
	"callgate/sip/demo"

	"github.com/gorilla/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

const agentToken = "tok-alice-0123456789abcdef"

// agentRig is callgate serving a tenant with one agent and caller numbers on a trunk
// to a demo carrier (a real sipgo UAS) that plays a 440 Hz tone for the whole call.
type agentRig struct {
	base    string // http://127.0.0.1:port/
	carrier *demo.Carrier
	dbPath  string
	logs    *lineWriter
}

// noCaps turns the tenant's frequency caps off: tests call the same numbers often.
const noCaps = "{pair_per_day: -1, callee_per_day: -1, caller_per_day: -1, caller_per_hour: -1}"

func newAgentRig(t *testing.T, seats int, extraYAML string, opts ...func(*demo.Carrier)) *agentRig {
	return newAgentRigCaps(t, seats, noCaps, extraYAML, opts...)
}

func newAgentRigCaps(t *testing.T, seats int, caps, extraYAML string, opts ...func(*demo.Carrier)) *agentRig {
	t.Helper()
	carrier := &demo.Carrier{RingFor: 200 * time.Millisecond, Tone: time.Minute, ToneHz: 440}
	for _, o := range opts { // before Start: the carrier's handlers read these fields
		o(carrier)
	}
	if err := carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	dir := t.TempDir()
	db := filepath.Join(dir, "callgate.db")
	t.Setenv("ALICE_TOKEN", agentToken)
	cfgText := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: "off"
media:
  bind_address: 127.0.0.1
  port_min: 35000
  port_max: 35998
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
    seats: %d
    callers:
      caps: %s
agents:
  - tenant: acme
    name: alice
    token_env: ALICE_TOKEN
trunks:
  - name: carrier
    host: 127.0.0.1
    port: %d
pools:
  - name: acme-fixed
    supplier: c
    type: fixed
    tenant: acme
    trunks: [carrier]
    numbers: ["+862100000001"]
%s`, db, seats, caps, carrier.Addr().Port(), extraYAML)
	srv := serveYAML(t, dir, cfgText)
	base, logs := srv.base, srv.logs
	return &agentRig{base: base, carrier: carrier, dbPath: db, logs: logs}
}

// record waits for the call record of call id to be final.
func (r *agentRig) record(t *testing.T, id string) pool.Call {
	t.Helper()
	store, err := pool.OpenSQLite(context.Background(), r.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := store.Call(context.Background(), id)
		if err == nil && c.State == "ended" {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final record for %s: %v %+v", id, err, c)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// goAgent is an agent's browser played by pion and a gorilla websocket: the real
// protocol, real WebRTC (ICE, DTLS, SRTP), a 1 kHz tone as the microphone.
type goAgent struct {
	t    *testing.T
	ws   *websocket.Conn
	pc   *webrtc.PeerConnection
	mic  *webrtc.TrackLocalStaticRTP
	msgs chan map[string]any

	mu    sync.Mutex
	heard []int16
}

func newGoAgent(t *testing.T, base, token string) *goAgent {
	t.Helper()
	h := http.Header{"Origin": {strings.TrimSuffix(base, "/")}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"ws", h)
	if err != nil {
		t.Fatal(err)
	}
	a := &goAgent{t: t, ws: ws, msgs: make(chan map[string]any, 64)}
	t.Cleanup(func() { ws.Close() })
	go func() {
		defer close(a.msgs)
		for {
			var m map[string]any
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			a.msgs <- m
		}
	}()
	a.send(map[string]any{"type": "auth", "v": 1, "token": token})
	if m := a.next("ready", "error"); m["type"] != "ready" {
		t.Fatalf("login: %v", m)
	}
	a.connectMedia()
	return a
}

func (a *goAgent) send(m map[string]any) {
	a.t.Helper()
	if err := a.ws.WriteJSON(m); err != nil {
		a.t.Fatal(err)
	}
}

// next waits for the next message of one of the types.
func (a *goAgent) next(types ...string) map[string]any {
	a.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m, ok := <-a.msgs:
			if !ok {
				a.t.Fatalf("websocket closed waiting for %v", types)
			}
			for _, ty := range types {
				if m["type"] == ty {
					return m
				}
			}
		case <-timeout:
			a.t.Fatalf("timed out waiting for %v", types)
		}
	}
}

// state waits for a call event with the given state.
func (a *goAgent) state(want string) map[string]any {
	a.t.Helper()
	for {
		m := a.next("call", "error")
		if m["type"] == "error" {
			a.t.Fatalf("error waiting for %s: %v", want, m)
		}
		if m["state"] == want {
			return m
		}
		if m["state"] == "ended" {
			a.t.Fatalf("call ended waiting for %s: %v", want, m)
		}
	}
}

func (a *goAgent) connectMedia() {
	t := a.t
	me := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 126},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	a.pc = pc
	a.mic, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "mic", "agent")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := pc.AddTrack(a.mic)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if p.PayloadType == 0 {
				a.mu.Lock()
				for _, b := range p.Payload {
					a.heard = append(a.heard, media.MuLaw.Decode(b))
				}
				a.mu.Unlock()
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	a.send(map[string]any{"type": "offer", "sdp": pc.LocalDescription().SDP})
	m := a.next("answer", "error")
	if m["type"] != "answer" {
		t.Fatalf("offer: %v", m)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m["sdp"].(string)}); err != nil {
		t.Fatal(err)
	}
	go a.speak()
}

// speak sends a 1 kHz μ-law tone as the microphone, 20 ms packets, until the test ends.
func (a *goAgent) speak() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 160)
	for i := 0; ; i++ {
		<-tick.C
		media.Tone(payload, media.MuLaw, 1000, 8000, i*160)
		err := a.mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(i * 160)}, Payload: payload})
		if err != nil {
			return
		}
	}
}

func (a *goAgent) heardSamples() []int16 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int16(nil), a.heard...)
}

func (a *goAgent) dial(to string) string {
	a.t.Helper()
	a.send(map[string]any{"type": "dial", "id": "d1", "to": to})
	m := a.next("call", "error")
	if m["type"] != "call" || m["state"] != "dialing" || m["id"] != "d1" {
		a.t.Fatalf("dial: %v", m)
	}
	return m["call"].(string)
}

// dominant reports whether the last 200 ms of samples carry a tone at hz (peak above
// 2,000 of 32,767) at least ten times stronger than at the other frequency.
func dominant(samples []int16, hz, other float64) bool {
	if len(samples) < 1600 {
		return false
	}
	s := samples[len(samples)-1600:]
	l := media.ToneLevel(s, hz, 8000)
	return l > 2000 && l > 10*media.ToneLevel(s, other, 8000)
}

func TestAgentCallFromGoBrowser(t *testing.T) {
	r := newAgentRig(t, 2, "")
	a := newGoAgent(t, r.base, agentToken)
	id := a.dial("+86 139-0000-0002")
	a.state("ringing")
	conn := a.state("connected")
	if conn["from"] != "+862100000001" || conn["to"] != "+8613900000002" {
		t.Fatalf("connected event %v", conn)
	}
	eventually(t, "the carrier hears the agent's 1 kHz tone", func() bool {
		calls := r.carrier.Calls()
		if len(calls) != 1 {
			return false
		}
		return dominant(calls[0].Heard(), 1000, 440)
	})
	eventually(t, "the agent hears the carrier's 440 Hz tone", func() bool {
		return dominant(a.heardSamples(), 440, 1000)
	})
	a.send(map[string]any{"type": "dtmf", "id": "k1", "call": id, "digits": "59#"})
	if m := a.next("ok", "error"); m["type"] != "ok" {
		t.Fatalf("dtmf: %v", m)
	}
	eventually(t, "DTMF 59# at the carrier as RFC 4733", func() bool { return r.carrier.Calls()[0].Digits() == "59#" })

	a.send(map[string]any{"type": "hangup", "call": id})
	ended := a.state("ended")
	if ended["code"] != 200.0 || ended["reason"] != "caller_bye" || ended["by"] != "agent" {
		t.Fatalf("ended %v", ended)
	}
	eventually(t, "BYE at the carrier", r.carrier.Calls()[0].GotBye)
	rec := r.record(t, id)
	if rec.Direction != pool.Outbound || rec.Agent != "alice" || rec.Tenant != "acme" || rec.Caller != "+862100000001" ||
		rec.Callee != "+8613900000002" || rec.SIPCode != 200 || rec.HangupBy != "agent" || rec.OutTrunk != "carrier" ||
		rec.AnswerAt.IsZero() || rec.PacketsFromA < 20 || rec.PacketsToA < 20 {
		t.Fatalf("record %+v", rec)
	}

	// A second call on the same session: the far end hangs up.
	id2 := a.dial("+8613900000003")
	a.state("connected")
	eventually(t, "second call answered", func() bool { return len(r.carrier.Calls()) == 2 })
	var second *demo.Call
	for _, c := range r.carrier.Calls() {
		if c.To == "+8613900000003" {
			second = c
		}
	}
	if err := r.carrier.Hangup(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	ended = a.state("ended")
	if ended["by"] != "callee" || ended["reason"] != "callee_bye" {
		t.Fatalf("ended %v", ended)
	}
	if rec := r.record(t, id2); rec.HangupBy != "callee" || rec.SIPCode != 200 {
		t.Fatalf("second record %+v", rec)
	}

	a.send(map[string]any{"type": "feedback", "id": "f1", "call": id, "kind": "noise", "note": "crackle"})
	if m := a.next("ok", "error"); m["type"] != "ok" {
		t.Fatalf("feedback: %v", m)
	}
	a.send(map[string]any{"type": "history", "id": "h1"})
	h := a.next("history")
	if calls := h["calls"].([]any); len(calls) != 2 || calls[0].(map[string]any)["call"] != id2 {
		t.Fatalf("history %v", h)
	}

	res, err := http.Get(r.base + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`callgate_calls_total{code="2xx",direction="outbound",result="answered",trunk="carrier"} 2`,
		`callgate_seats_used{tenant="acme"} 1`,
		`callgate_agent_sessions 1`,
		`callgate_calls_active 0`,
		`callgate_setup_seconds_count{direction="outbound"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestAgentDropMidCallHangsUpAndFreesSeat(t *testing.T) {
	r := newAgentRig(t, 1, "")
	a := newGoAgent(t, r.base, agentToken)
	id := a.dial("+8613900000002")
	a.state("connected")
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	a.ws.Close() // the page dies
	eventually(t, "the carrier got BYE", r.carrier.Calls()[0].GotBye)
	if rec := r.record(t, id); rec.Reason != "connection_lost" || rec.HangupBy != "agent" {
		t.Fatalf("record reason=%q by=%q", rec.Reason, rec.HangupBy)
	}
	// The only seat is free again.
	b := newGoAgent(t, r.base, agentToken)
	_ = b
}

func TestAgentDialErrors(t *testing.T) {
	r := newAgentRig(t, 1, "")
	a := newGoAgent(t, r.base, agentToken)
	a.send(map[string]any{"type": "dial", "id": "x", "to": "12ab"})
	if m := a.next("error"); m["code"] != "invalid_number" || m["id"] != "x" {
		t.Fatalf("%v", m)
	}
	a.dial("+8613900000002")
	a.send(map[string]any{"type": "dial", "id": "y", "to": "+8613900000003"})
	if m := a.next("error"); m["code"] != "busy" {
		t.Fatalf("second dial during a call: %v", m)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAgentHoldMuteAndTransfer(t *testing.T) {
	r := newAgentRig(t, 2, "")
	a := newGoAgent(t, r.base, agentToken)
	id := a.dial("+8613900000002")
	a.state("connected")
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	bc := r.carrier.Calls()[0]
	eventually(t, "the carrier hears the agent", func() bool { return dominant(bc.Heard(), 1000, 440) })

	a.send(map[string]any{"type": "mute", "id": "m1", "call": id, "muted": true})
	if m := a.next("ok", "error"); m["type"] != "ok" {
		t.Fatalf("mute: %v", m)
	}
	n := len(bc.Heard())
	time.Sleep(300 * time.Millisecond)
	if got := len(bc.Heard()); got-n > 800 { // at most a packet or five in flight
		t.Fatalf("muted agent still heard: %d new samples", got-n)
	}
	a.send(map[string]any{"type": "mute", "id": "m2", "call": id, "muted": false})
	a.next("ok")
	eventually(t, "unmuted agent heard again", func() bool { return len(bc.Heard()) > n+1600 })

	a.send(map[string]any{"type": "hold", "id": "h1", "call": id, "on": true})
	a.state("held")
	if m := a.next("ok", "error"); m["type"] != "ok" {
		t.Fatalf("hold: %v", m)
	}
	if !bc.Held() {
		t.Fatal("the carrier was not put on hold by re-INVITE")
	}
	a.send(map[string]any{"type": "hold", "id": "h2", "call": id, "on": false})
	a.state("connected")
	a.next("ok")
	if bc.Held() {
		t.Fatal("the carrier is still held after resume")
	}

	a.send(map[string]any{"type": "transfer", "id": "t1", "call": id, "to": "+86 139 0000 0099"})
	ended := a.state("ended")
	if ended["reason"] != "transferred" || ended["by"] != "agent" {
		t.Fatalf("ended %v", ended)
	}
	if got := bc.ReferredTo(); got != "<sip:+8613900000099@127.0.0.1>" {
		t.Fatalf("Refer-To %q", got)
	}
	eventually(t, "agent leg left the carrier call", bc.GotBye)
	if rec := r.record(t, id); rec.Reason != "transferred" || rec.SIPCode != 200 {
		t.Fatalf("record %+v", rec)
	}
}

// TestAgentTransferBridgedWhenReferRefused: the carrier refuses REFER, so callgate
// calls the target itself and bridges the customer to it; the agent leaves.
func TestAgentTransferBridgedWhenReferRefused(t *testing.T) {
	r := newAgentRig(t, 2, "", func(c *demo.Carrier) { c.ReferStatus = 405 })
	a := newGoAgent(t, r.base, agentToken)
	id := a.dial("+8613900000002")
	a.state("connected")
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	customer := r.carrier.Calls()[0]
	eventually(t, "the customer hears the agent", func() bool { return dominant(customer.Heard(), 1000, 440) })

	a.send(map[string]any{"type": "transfer", "id": "t1", "call": id, "to": "+8613900000077"})
	ended := a.state("ended")
	if ended["reason"] != "transferred" {
		t.Fatalf("agent's call ended %v", ended)
	}
	var target *demo.Call
	eventually(t, "the target was called", func() bool {
		for _, c := range r.carrier.Calls() {
			if c.To == "+8613900000077" {
				target = c
			}
		}
		return target != nil
	})
	if target.From != "+862100000001" {
		t.Fatalf("target sees %s, want the tenant's number", target.From)
	}
	// Customer and target are bridged: each hears the other's 440 Hz, no agent tone.
	eventually(t, "the customer hears the target", func() bool { return dominant(customer.Heard(), 440, 1000) })
	eventually(t, "the target hears the customer", func() bool { return dominant(target.Heard(), 440, 1000) })
	if customer.GotBye() {
		t.Fatal("the customer was hung up by the transfer")
	}
	if rec := r.record(t, id); rec.Reason != "transferred" || rec.HangupBy != "agent" {
		t.Fatalf("agent's record %+v", rec)
	}
	if err := r.carrier.Hangup(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the customer got BYE when the target hung up", customer.GotBye)
}

// TestAgentHearsEarlyMedia: a 183 with SDP plays in the agent's browser before answer.
func TestAgentHearsEarlyMedia(t *testing.T) {
	r := newAgentRig(t, 2, "", func(c *demo.Carrier) { c.EarlyMedia, c.RingFor = true, time.Minute })
	a := newGoAgent(t, r.base, agentToken)
	id := a.dial("+8613900000002")
	a.state("early")
	eventually(t, "the agent hears the carrier's early media", func() bool { return dominant(a.heardSamples(), 440, 1000) })
	a.send(map[string]any{"type": "hangup", "call": id})
	ended := a.state("ended")
	if ended["code"] != 487.0 || ended["reason"] != "cancel" || ended["by"] != "agent" {
		t.Fatalf("ended %v", ended)
	}
	if rec := r.record(t, id); rec.SIPCode != 487 || !rec.AnswerAt.IsZero() || rec.PacketsToA < 10 {
		t.Fatalf("record %+v", rec)
	}
}

// TestCappedCalleeRefusedBeforeSIP: the tenant allows one call a day per (caller
// number, callee); the second dial is refused with a reason and no INVITE is sent.
func TestCappedCalleeRefusedBeforeSIP(t *testing.T) {
	r := newAgentRigCaps(t, 2, "{pair_per_day: 1, callee_per_day: 1, caller_per_day: -1, caller_per_hour: -1}", "")
	a := newGoAgent(t, r.base, agentToken)
	id := a.dial("+8613900000002")
	a.state("connected")
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended")
	a.send(map[string]any{"type": "dial", "id": "again", "to": "139 0000 0002"})
	m := a.next("error", "call")
	if m["type"] != "error" || m["code"] != "capped" || m["id"] != "again" {
		t.Fatalf("second dial to a capped callee: %v", m)
	}
	if n := len(r.carrier.Invites()); n != 1 {
		t.Fatalf("the carrier got %d INVITEs, want 1: a capped call must not reach SIP", n)
	}
	// The INVITE's From carried the chosen caller number.
	if from := r.carrier.Invites()[0].From().Address.User; from != "+862100000001" {
		t.Fatalf("From %s", from)
	}
}
