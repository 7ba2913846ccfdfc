package sip_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callgate/configs"
	"callgate/media"
	"callgate/pool"
	"callgate/routing"
	cgsip "callgate/sip"
	"callgate/sip/demo"

	"github.com/emiago/sipgo"
)

// numN is the caller number agent alice of tenant acme called customer numA from.
const numN = "+862100000001"

// cbRig is the SIP edge with callbacks: a real SQLite store, the demo carrier on the
// outbound trunk, customers calling from 127.0.0.2, and agents' pages played by
// testPages with a plain RTP leg as the agent's media.
type cbRig struct {
	edge    *cgsip.Edge
	store   *pool.SQLiteStore
	carrier *demo.Carrier
	pages   *testPages
	router  *routing.Callbacks
}

func newCallbackRig(t *testing.T, policy routing.CallbackPolicy) *cbRig {
	t.Helper()
	carrier := &demo.Carrier{RingFor: 50 * time.Millisecond, Log: testLogger(t)}
	if err := carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	ctx := context.Background()
	store, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "callgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ports, err := media.NewPorts(32000, 32999, 0)
	if err != nil {
		t.Fatal(err)
	}
	pages := newTestPages(t, ports)
	router := routing.NewCallbacks(store, pages, map[string]routing.CallbackPolicy{"acme": policy}, nil)
	trunks := []configs.Trunk{
		{Name: "carrier-a", Supplier: "a", Host: "127.0.0.2", Port: 5060, Transport: "udp",
			InboundCIDRs: []string{"127.0.0.2/32"}, Codecs: []string{"PCMU", "PCMA"}},
		{Name: "carrier-b", Supplier: "b", Host: "127.0.0.1", Port: int(carrier.Addr().Port()), Transport: "udp",
			InboundCIDRs: []string{"127.0.0.1/32"}, Codecs: []string{"PCMU", "PCMA"}},
	}
	set := cgsip.Settings{UDPAddr: "127.0.0.1:0", RingTimeout: 5 * time.Second, ShutdownGrace: time.Second, NoRouteStatus: 404,
		MediaBind: netip.MustParseAddr("127.0.0.1"), MediaPublic: netip.MustParseAddr("127.0.0.1")}
	edge, err := cgsip.New(set, trunks, routing.NewInbound(store, nil), store, ports, cgsip.WithLogger(testLogger(t)),
		cgsip.WithCallbacks(router, pages))
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	if err := router.Remember(ctx, routing.PlacedCall{Tenant: "acme", Agent: "alice", Number: numN, Customer: numA, CallID: "out-1"}); err != nil {
		t.Fatal(err)
	}
	return &cbRig{edge: edge, store: store, carrier: carrier, pages: pages, router: router}
}

// record waits for the final record of the only call.
func (r *cbRig) record(t *testing.T) pool.Call {
	t.Helper()
	var calls []pool.Call
	eventually(t, "call record written", func() bool {
		var err error
		calls, err = r.store.Calls(context.Background(), pool.CallFilter{})
		return err == nil && len(calls) == 1 && calls[0].State == "ended"
	})
	c, err := r.store.Call(context.Background(), calls[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rtpAgent is an agent's media for the edge: an RTP leg toward a UDP socket that
// plays the browser and echoes what it gets.
type rtpAgent struct{ *media.Leg }

func (rtpAgent) Audio() media.Format { return media.Format{PT: 0, Name: "PCMU", Rate: 8000} }
func (rtpAgent) DTMF() *media.Format {
	return &media.Format{PT: 126, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"}
}

// testPages plays the agents' pages: who is online, and how each answers an offer
// ("accept", "decline", or "ring": never answers).
type testPages struct {
	agent   rtpAgent
	browser *net.UDPConn
	heard   atomic.Int64 // packets the "browser" got (and echoed)

	mu      sync.Mutex
	online  map[string]bool
	answers map[string]string
	offers  []cgsip.IncomingOffer
	ended   []error // how offers that were not answered ended
	events  []cgsip.CallEvent
}

func newTestPages(t *testing.T, ports *media.Ports) *testPages {
	t.Helper()
	browser, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	leg, err := media.NewLeg(ports, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	leg.SetRemote(netip.MustParseAddrPort(browser.LocalAddr().String()))
	p := &testPages{agent: rtpAgent{leg}, browser: browser, online: map[string]bool{}, answers: map[string]string{}}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := browser.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.heard.Add(1)
			_, _ = browser.WriteToUDP(buf[:n], from)
		}
	}()
	t.Cleanup(func() { browser.Close(); leg.Close() })
	return p
}

func (p *testPages) set(agent string, online bool, answer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.online[agent], p.answers[agent] = online, answer
}

func (p *testPages) Online(tenant, agent string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return tenant == "acme" && p.online[agent]
}

func (p *testPages) OfferCall(ctx context.Context, o cgsip.IncomingOffer) (cgsip.AgentAnswer, error) {
	p.mu.Lock()
	p.offers = append(p.offers, o)
	answer := p.answers[o.Agent]
	p.mu.Unlock()
	switch answer {
	case "accept":
		return cgsip.AgentAnswer{Media: p.agent, Notify: p.notify}, nil
	case "decline":
		return cgsip.AgentAnswer{}, cgsip.ErrDeclined
	}
	<-ctx.Done()
	p.mu.Lock()
	p.ended = append(p.ended, ctx.Err())
	p.mu.Unlock()
	return cgsip.AgentAnswer{}, ctx.Err()
}

func (p *testPages) notify(ev cgsip.CallEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, ev)
}

func (p *testPages) snapshot() (offers []cgsip.IncomingOffer, ended []error, events []cgsip.CallEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(offers, p.offers...), append(ended, p.ended...), append(events, p.events...)
}

func (p *testPages) lastState() string {
	_, _, evs := p.snapshot()
	if len(evs) == 0 {
		return ""
	}
	return evs[len(evs)-1].State
}

func rejectWith(status int, agents ...string) routing.CallbackPolicy {
	return routing.CallbackPolicy{Expiry: time.Hour, RingTimeout: 5 * time.Second,
		Fallback: routing.CallbackFallback{Agents: agents, Action: routing.CallbackReject, Status: status}}
}

func TestCallbackAcceptedBridgesCallerAndAgent(t *testing.T) {
	r := newCallbackRig(t, rejectWith(486))
	r.pages.set("alice", true, "accept")
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numN)

	offers, _, _ := r.pages.snapshot()
	if len(offers) != 1 || offers[0].Agent != "alice" || offers[0].From != numA || offers[0].To != numN || offers[0].Tenant != "acme" {
		t.Fatalf("offers %+v", offers)
	}
	eventually(t, "connected event at the agent", func() bool { return r.pages.lastState() == cgsip.StateConnected })
	ans, err := media.ParseSDP(d.InviteResponse.Body())
	if err != nil || len(ans.Formats) == 0 || ans.Formats[0].Name != "PCMU" {
		t.Fatalf("answer to the caller: %+v %v; want the agent's PCMU", ans.Formats, err)
	}
	a.sendRTP(d, 0, 50)
	eventually(t, "the agent got the caller's audio", func() bool { return r.pages.heard.Load() >= 45 })
	eventually(t, "the agent's audio back at the caller", func() bool { return len(a.packets()) >= 45 })
	for _, p := range a.packets() {
		if p.pt != 0 {
			t.Fatalf("caller got PT %d, want 0", p.pt)
		}
	}
	if err := d.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := r.record(t)
	if rec.Direction != pool.Inbound || rec.Tenant != "acme" || rec.Agent != "alice" || rec.Caller != numA || rec.Callee != numN ||
		rec.SIPCode != 200 || rec.HangupBy != "caller" || rec.Reason != "caller_bye" || rec.InTrunk != "carrier-a" ||
		rec.OutTrunk != "" || rec.AnswerAt.IsZero() || rec.PacketsFromA < 45 {
		t.Fatalf("record %+v", rec)
	}
	// The record is written before the page hears the end: wait for it.
	eventually(t, "ended event at the agent", func() bool { return r.pages.lastState() == cgsip.StateEnded })
	_, _, evs := r.pages.snapshot()
	last := evs[len(evs)-1]
	if last.State != cgsip.StateEnded || last.By != "caller" || last.From != numA || last.To != numN {
		t.Fatalf("agent's last event %+v", last)
	}
	eventually(t, "no call left", func() bool { return r.edge.ActiveCalls() == 0 })
}

func TestCallbackDeclinedThenNextAgentThenReject(t *testing.T) {
	r := newCallbackRig(t, rejectWith(486, "bob", "carol"))
	r.pages.set("alice", true, "decline")
	r.pages.set("bob", false, "accept") // offline: not rung
	r.pages.set("carol", true, "decline")
	a := newCaller(t, "127.0.0.2")
	if code := a.refused(r.edge.Addr("udp"), numN); code != 486 {
		t.Fatalf("caller got %d, want the fallback's 486", code)
	}
	offers, _, _ := r.pages.snapshot()
	if len(offers) != 2 || offers[0].Agent != "alice" || offers[1].Agent != "carol" {
		t.Fatalf("offers %+v: want alice, then carol", offers)
	}
	if rec := r.record(t); rec.SIPCode != 486 || rec.Agent != "alice" || rec.Tenant != "acme" || rec.Direction != pool.Inbound {
		t.Fatalf("record %+v", rec)
	}
}

func TestCallbackUnansweredForwards(t *testing.T) {
	r := newCallbackRig(t, routing.CallbackPolicy{Expiry: time.Hour, RingTimeout: 300 * time.Millisecond,
		Fallback: routing.CallbackFallback{Action: routing.CallbackForward, Number: numB, Trunk: "carrier-b"}})
	r.pages.set("alice", true, "ring")
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numN)
	_, ended, _ := r.pages.snapshot()
	if len(ended) != 1 || !errors.Is(ended[0], context.DeadlineExceeded) {
		t.Fatalf("the page's ringing ended with %v, want the ring timeout", ended)
	}
	eventually(t, "the hotline answered", func() bool { return len(r.carrier.Calls()) == 1 })
	if bc := r.carrier.Calls()[0]; bc.To != numB || bc.From != numA {
		t.Fatalf("forwarded to %s from %s, want %s from the customer %s", bc.To, bc.From, numB, numA)
	}
	if err := d.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec := r.record(t); rec.SIPCode != 200 || rec.Agent != "alice" || rec.Callee != numB || rec.OutTrunk != "carrier-b" {
		t.Fatalf("record %+v", rec)
	}
}

func TestCallbackCancelWhileRinging(t *testing.T) {
	r := newCallbackRig(t, rejectWith(480))
	r.pages.set("alice", true, "ring")
	a := newCaller(t, "127.0.0.2")
	ctx, cancel := context.WithCancel(context.Background())
	d, err := a.invite(ctx, r.edge.Addr("udp"), numA, numN)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.WaitAnswer(ctx, sipgo.AnswerOptions{}) }()
	eventually(t, "the page rings", func() bool { o, _, _ := r.pages.snapshot(); return len(o) == 1 })
	cancel() // WaitAnswer sends CANCEL
	<-done
	rec := r.record(t)
	if rec.SIPCode != 487 || rec.Reason != "cancel" || rec.HangupBy != "caller" || rec.Agent != "alice" {
		t.Fatalf("record code=%d reason=%q by=%q agent=%q", rec.SIPCode, rec.Reason, rec.HangupBy, rec.Agent)
	}
	_, ended, _ := r.pages.snapshot()
	if len(ended) != 1 || !errors.Is(ended[0], context.Canceled) {
		t.Fatalf("the page's ringing ended with %v, want canceled", ended)
	}
}

func TestCallbackWithoutRelationGetsNoBindingTreatment(t *testing.T) {
	r := newCallbackRig(t, rejectWith(486))
	r.pages.set("alice", true, "accept")
	a := newCaller(t, "127.0.0.2")
	// Another caller number: no agent called numA from it.
	if code := a.refused(r.edge.Addr("udp"), "+862100000009"); code != 404 {
		t.Fatalf("caller got %d, want the no-binding 404", code)
	}
	if offers, _, _ := r.pages.snapshot(); len(offers) != 0 {
		t.Fatalf("a call without relation rang %+v", offers)
	}
	if rec := r.record(t); rec.Agent != "" || rec.SIPCode != 404 {
		t.Fatalf("record %+v", rec)
	}
}

func TestCallbackAgentOfflineGetsFallback(t *testing.T) {
	r := newCallbackRig(t, rejectWith(480))
	r.pages.set("alice", false, "accept")
	a := newCaller(t, "127.0.0.2")
	if code := a.refused(r.edge.Addr("udp"), numN); code != 480 {
		t.Fatalf("caller got %d, want the fallback's 480", code)
	}
	if offers, _, _ := r.pages.snapshot(); len(offers) != 0 {
		t.Fatalf("an offline agent was rung: %+v", offers)
	}
}

func TestCallbackShutdownWhileRinging(t *testing.T) {
	r := newCallbackRig(t, rejectWith(480))
	r.pages.set("alice", true, "ring")
	a := newCaller(t, "127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := a.invite(ctx, r.edge.Addr("udp"), numA, numN)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.WaitAnswer(ctx, sipgo.AnswerOptions{}) }()
	eventually(t, "the page rings", func() bool { o, _, _ := r.pages.snapshot(); return len(o) == 1 })
	if n := r.edge.ActiveCalls(); n != 1 {
		t.Fatalf("%d active calls while the page rings, want 1", n)
	}
	if err := r.edge.Shutdown(ctx); err != nil { // grace 1s, then calls are hung up
		t.Fatal(err)
	}
	if code := responseCode(<-done); code != 503 {
		t.Fatalf("caller got %d, want 503", code)
	}
	if rec := r.record(t); rec.SIPCode != 503 || rec.Reason != "shutdown" {
		t.Fatalf("record code=%d reason=%q", rec.SIPCode, rec.Reason)
	}
}
