package signaling

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"callgate/media"
	"callgate/pool"
	"callgate/sip"

	"github.com/gorilla/websocket"
)

// fakeLeg is a browser leg for the protocol tests: a plain RTP leg (media is not what
// these tests look at) that says it negotiated PCMU.
type fakeLeg struct {
	*media.Leg
	done chan struct{}
}

func (fakeLeg) Audio() media.Format     { return media.Format{PT: 0, Name: "PCMU", Rate: 8000} }
func (fakeLeg) DTMF() *media.Format     { return nil }
func (l fakeLeg) Done() <-chan struct{} { return l.done }
func (l fakeLeg) Close() error          { return l.Leg.Close() }

var _ BrowserLeg = fakeLeg{}

// newIncomingServer is the websocket server with agents alice and bob of tenant acme
// whose offers get fake browser legs.
func newIncomingServer(t *testing.T) *testServer {
	t.Helper()
	store, err := pool.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "cg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ports, err := media.NewPorts(33000, 33999, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{seats: NewSeats(map[string]int{"acme": 5}), store: store}
	ts.srv = NewServer(Config{PingInterval: time.Second, PongWait: 5 * time.Second}, Deps{
		Auth: NewDirectory([]AgentAccount{
			{Tenant: "acme", Name: "alice", Token: testToken},
			{Tenant: "acme", Name: "bob", Token: testToken + "-bob"},
		}),
		Seats:   ts.seats,
		Records: store,
		Media: func(context.Context, string) (BrowserLeg, string, error) {
			leg, err := media.NewLeg(ports, netip.MustParseAddr("127.0.0.1"))
			if err != nil {
				return nil, "", err
			}
			return fakeLeg{Leg: leg, done: make(chan struct{})}, "v=0 answer", nil
		},
	})
	ts.http = httptest.NewServer(ts.srv)
	t.Cleanup(func() { ts.http.Close(); ts.srv.Close() })
	return ts
}

// agentPage logs agent in (token) and sets up its media session.
func (ts *testServer) agentPage(t *testing.T, token string) *websocket.Conn {
	t.Helper()
	c, m := ts.login(t, map[string]any{"type": "auth", "v": 1, "token": token})
	if m["type"] != "ready" {
		t.Fatalf("login: %v", m)
	}
	send(t, c, map[string]any{"type": "offer", "sdp": "v=0 offer"})
	if m := read(t, c); m["type"] != "answer" {
		t.Fatalf("offer: %v", m)
	}
	return c
}

func send(t *testing.T, c *websocket.Conn, m map[string]any) {
	t.Helper()
	if err := c.WriteJSON(m); err != nil {
		t.Fatal(err)
	}
}

type offerResult struct {
	ans sip.AgentAnswer
	err error
}

// offer rings agent's page with call id in the background, for ring.
func (ts *testServer) offer(ctx context.Context, agent, id string, ring time.Duration) <-chan offerResult {
	out := make(chan offerResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, ring)
		defer cancel()
		ans, err := ts.srv.OfferCall(ctx, sip.IncomingOffer{ID: id, Tenant: "acme", Agent: agent, From: "+8613900000002",
			To: "+862100000001", RingTimeout: ring})
		out <- offerResult{ans, err}
	}()
	return out
}

func result(t *testing.T, ch <-chan offerResult) offerResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("OfferCall did not return")
	}
	return offerResult{}
}

func TestIncomingAcceptedBecomesTheSessionsCall(t *testing.T) {
	ts := newIncomingServer(t)
	if ts.srv.Online("acme", "alice") {
		t.Fatal("alice online before logging in")
	}
	c, m := ts.login(t, map[string]any{"type": "auth", "v": 1, "token": testToken})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	if ts.srv.Online("acme", "alice") {
		t.Fatal("alice online before her media session is set up")
	}
	if _, err := ts.srv.OfferCall(context.Background(), sip.IncomingOffer{ID: "X", Tenant: "acme", Agent: "alice"}); !errors.Is(err, sip.ErrAgentOffline) {
		t.Fatalf("offer to a page without media: %v", err)
	}
	send(t, c, map[string]any{"type": "offer", "sdp": "v=0 offer"})
	read(t, c)
	if !ts.srv.Online("acme", "alice") || ts.srv.Online("acme", "bob") || ts.srv.Online("other", "alice") {
		t.Fatal("presence wrong")
	}

	res := ts.offer(context.Background(), "alice", "C1", time.Minute)
	in := read(t, c)
	if in["type"] != "incoming" || in["call"] != "C1" || in["from"] != "+8613900000002" || in["to"] != "+862100000001" ||
		in["tenant"] != "acme" || in["ring_ms"] != 60000.0 {
		t.Fatalf("incoming %v", in)
	}
	// A second callback while one rings: busy.
	if _, err := ts.srv.OfferCall(context.Background(), sip.IncomingOffer{ID: "C2", Tenant: "acme", Agent: "alice"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second offer: %v, want ErrBusy", err)
	}
	send(t, c, map[string]any{"type": "accept", "id": "a1", "call": "nope"})
	if m := read(t, c); m["type"] != "error" || m["code"] != "no_call" || m["id"] != "a1" {
		t.Fatalf("accept of another call: %v", m)
	}
	send(t, c, map[string]any{"type": "accept", "id": "a2", "call": "C1"})
	if m := read(t, c); m["type"] != "ok" || m["id"] != "a2" {
		t.Fatalf("accept: %v", m)
	}
	r := result(t, res)
	if r.err != nil || r.ans.Media == nil || r.ans.Notify == nil {
		t.Fatalf("accepted offer: %+v", r)
	}
	r.ans.Notify(sip.CallEvent{Call: "C1", State: sip.StateConnected, From: "+8613900000002", To: "+862100000001", At: time.Now()})
	if m := read(t, c); m["type"] != "call" || m["state"] != "connected" || m["call"] != "C1" || m["from"] != "+8613900000002" {
		t.Fatalf("call event: %v", m)
	}
	// Accepting twice: it no longer rings.
	send(t, c, map[string]any{"type": "decline", "id": "d1", "call": "C1"})
	if m := read(t, c); m["code"] != "no_call" {
		t.Fatalf("decline after accept: %v", m)
	}
	r.ans.Notify(sip.CallEvent{Call: "C1", State: sip.StateEnded, Code: 200, Reason: "caller_bye", By: "caller", At: time.Now()})
	if m := read(t, c); m["state"] != "ended" || m["by"] != "caller" {
		t.Fatalf("ended: %v", m)
	}
}

func TestIncomingDeclinedTimedOutCancelled(t *testing.T) {
	ts := newIncomingServer(t)
	c := ts.agentPage(t, testToken)

	res := ts.offer(context.Background(), "alice", "C1", time.Minute)
	read(t, c)
	send(t, c, map[string]any{"type": "decline", "id": "d1", "call": "C1"})
	if m := read(t, c); m["type"] != "ok" || m["id"] != "d1" {
		t.Fatalf("decline: %v", m)
	}
	if r := result(t, res); !errors.Is(r.err, sip.ErrDeclined) {
		t.Fatalf("declined offer: %v", r.err)
	}

	res = ts.offer(context.Background(), "alice", "C2", 200*time.Millisecond)
	if m := read(t, c); m["type"] != "incoming" || m["call"] != "C2" {
		t.Fatal(m)
	}
	if m := read(t, c); m["type"] != "incoming_cancelled" || m["call"] != "C2" || m["reason"] != "no_answer" {
		t.Fatalf("after the ring timeout: %v", m)
	}
	if r := result(t, res); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("unanswered offer: %v", r.err)
	}
	send(t, c, map[string]any{"type": "accept", "id": "late", "call": "C2"})
	if m := read(t, c); m["code"] != "no_call" || m["id"] != "late" {
		t.Fatalf("late accept: %v", m)
	}

	ctx, cancel := context.WithCancel(context.Background())
	res = ts.offer(ctx, "alice", "C3", time.Minute)
	read(t, c)
	cancel() // the customer hung up
	if m := read(t, c); m["type"] != "incoming_cancelled" || m["call"] != "C3" || m["reason"] != "cancel" {
		t.Fatalf("after the customer hung up: %v", m)
	}
	if r := result(t, res); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled offer: %v", r.err)
	}

	send(t, c, map[string]any{"type": "accept", "id": "x"})
	if m := read(t, c); m["code"] != "bad_request" {
		t.Fatalf("accept without call: %v", m)
	}
}

func TestIncomingToAPageThatCloses(t *testing.T) {
	ts := newIncomingServer(t)
	c := ts.agentPage(t, testToken)
	res := ts.offer(context.Background(), "alice", "C1", time.Minute)
	read(t, c)
	c.Close()
	if r := result(t, res); !errors.Is(r.err, sip.ErrAgentOffline) {
		t.Fatalf("offer to a page that went away: %v", r.err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.Online("acme", "alice") {
		if time.Now().After(deadline) {
			t.Fatal("alice still online after her page closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseAcceptDecline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		call string
	}{
		{`{"type":"accept","id":"r1","call":"C"}`, true, "C"},
		{`{"type":"decline","call":"C"}`, true, "C"},
		{`{"type":"accept"}`, false, ""},
		{`{"type":"decline","call":""}`, false, ""},
		{`{"type":"incoming","call":"C"}`, false, ""}, // server → page only
	} {
		m, err := parseMessage([]byte(tc.in))
		if (err == nil) != tc.ok || tc.ok && m.Call != tc.call {
			t.Errorf("%s: %+v %v", tc.in, m, err)
		}
		if err != nil && !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v is not ErrBadRequest", tc.in, err)
		}
	}
}
