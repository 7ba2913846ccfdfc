package sip_test

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"callgate/configs"
	"callgate/media"
	"callgate/pool"
	"callgate/routing"
	cgsip "callgate/sip"
	"callgate/sip/demo"
)

// failoverRig is callgate with two outbound trunks, out-a and out-b, each to its own
// demo carrier, in one pool: the binding of numV sends calls to out-a first. Callers
// come in from 127.0.0.2.
type failoverRig struct {
	t        *testing.T
	edge     *cgsip.Edge
	store    *pool.SQLiteStore
	a, b     *demo.Carrier
	scores   *routing.Scoreboard
	clk      *fakeClock
	addrA    netip.AddrPort
	trunkA   configs.Trunk
	trunkB   configs.Trunk
	settings cgsip.Settings
}

// fakeClock is an injected clock for the scoreboard.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

type failoverOption func(*failoverRig)

// silentA replaces carrier A by a socket that reads everything and answers nothing.
func silentA(r *failoverRig) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := conn.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	r.addrA = netip.MustParseAddrPort(conn.LocalAddr().String())
}

func newFailoverRig(t *testing.T, answerA int, opts ...failoverOption) *failoverRig {
	t.Helper()
	r := &failoverRig{t: t, clk: &fakeClock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}}
	r.a = &demo.Carrier{RingFor: 20 * time.Millisecond, Log: testLogger(t), Answer: func(string) int { return answerA }}
	r.b = &demo.Carrier{RingFor: 20 * time.Millisecond, Log: testLogger(t)}
	for _, k := range []*demo.Carrier{r.a, r.b} {
		if err := k.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close() })
	}
	r.addrA = r.a.Addr()
	r.trunkA = configs.Trunk{Name: "out-a", Supplier: "a", Host: "127.0.0.1", Transport: "udp",
		InboundCIDRs: []string{"127.0.0.1/32"}, Codecs: []string{"PCMU", "PCMA"}, InviteTimeout: configs.Duration(-1)}
	r.trunkB = configs.Trunk{Name: "out-b", Supplier: "b", Host: "127.0.0.1", Transport: "udp",
		Codecs: []string{"PCMU", "PCMA"}, InviteTimeout: configs.Duration(-1)}
	r.settings = cgsip.Settings{UDPAddr: "127.0.0.1:0", RingTimeout: 10 * time.Second, ShutdownGrace: time.Second,
		NoRouteStatus: 404, MediaBind: netip.MustParseAddr("127.0.0.1"), MediaPublic: netip.MustParseAddr("127.0.0.1")}
	for _, o := range opts {
		o(r)
	}
	r.trunkA.Port = int(r.addrA.Port())
	r.trunkB.Port = int(r.b.Addr().Port())

	ctx := context.Background()
	store, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "callgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r.store = store
	if err := store.SyncStaticBindings(ctx, []pool.Binding{{Tenant: "demo", Mode: pool.ModeAXN, Virtual: numV, B: numB,
		Trunk: "out-a", Static: true, Expiry: pool.ExpiryNever}}); err != nil {
		t.Fatal(err)
	}
	ports, err := media.NewPorts(33000, 33999, 0)
	if err != nil {
		t.Fatal(err)
	}
	trunks := []configs.Trunk{
		{Name: "origin", Supplier: "o", Host: "127.0.0.2", Port: 5060, Transport: "udp",
			InboundCIDRs: []string{"127.0.0.2/32"}, Codecs: []string{"PCMU", "PCMA"}},
		r.trunkA, r.trunkB,
	}
	r.scores = routing.NewScoreboard(routing.ScoreSettings{}, r.clk.now)
	r.scores.SetTrunks([]string{"origin", "out-a", "out-b"}, nil)
	edge, err := cgsip.New(r.settings, trunks, routing.NewInbound(store, nil), store, ports, cgsip.WithLogger(testLogger(t)),
		cgsip.WithTrunkScorer(r.scores),
		cgsip.WithFailoverPools([]configs.Pool{{Name: "virtual", Trunks: []string{"out-a", "out-b"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	r.edge = edge
	return r
}

// record waits for the only call's final record.
func (r *failoverRig) record() pool.Call {
	return (&rig{t: r.t, store: r.store}).record()
}

// attempts renders a record's attempts as "trunk:code:reason" in Seq order.
func attempts(t *testing.T, c pool.Call) []string {
	t.Helper()
	var out []string
	for i, a := range c.Attempts {
		if a.Seq != i+1 {
			t.Errorf("attempt %d has Seq %d", i, a.Seq)
		}
		out = append(out, a.Trunk+":"+itoa(a.SIPCode)+":"+a.Reason)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFailover503MovesToNextTrunk(t *testing.T) {
	r := newFailoverRig(t, 503)
	c := newCaller(t, "127.0.0.2")
	d := c.call(r.edge.Addr("udp"), numV)
	_ = d.Bye(context.Background())
	rec := r.record()
	want := []string{"out-a:503:callee_503", "out-b:200:"}
	if got := attempts(t, rec); !equalStrings(got, want) {
		t.Errorf("attempts %v, want %v", got, want)
	}
	if rec.OutTrunk != "out-b" || rec.SIPCode != 200 {
		t.Errorf("record: out trunk %q code %d, want out-b 200", rec.OutTrunk, rec.SIPCode)
	}
	if n := len(r.a.Invites()); n != 1 {
		t.Errorf("carrier A got %d INVITEs, want 1", n)
	}
	eventually(t, "carrier B answered the call", func() bool { return len(r.b.Calls()) == 1 })
	// Both attempts fed the scores; the slots went back to the trunks.
	sa, _ := r.scores.Score("out-a")
	sb, _ := r.scores.Score("out-b")
	if sa.Seizures != 1 || sa.Answers != 0 || sb.Seizures != 1 || sb.Answers != 1 {
		t.Errorf("scores: a %+v, b %+v", sa, sb)
	}
	eventually(t, "trunk slots released", func() bool {
		for _, tr := range r.edge.Trunks() {
			if tr.Active() != 0 {
				return false
			}
		}
		return true
	})
}

func TestFailoverNeverOnCalleeAnswer(t *testing.T) {
	for _, code := range []int{486, 404, 603} {
		t.Run(itoa(code), func(t *testing.T) {
			r := newFailoverRig(t, code)
			c := newCaller(t, "127.0.0.2")
			if got := c.refused(r.edge.Addr("udp"), numV); got != code {
				t.Errorf("caller got %d, want %d", got, code)
			}
			rec := r.record()
			want := []string{"out-a:" + itoa(code) + ":callee_" + itoa(code)}
			if got := attempts(t, rec); !equalStrings(got, want) {
				t.Errorf("attempts %v, want %v", got, want)
			}
			if n := len(r.b.Invites()); n != 0 {
				t.Errorf("carrier B got %d INVITEs, want none", n)
			}
		})
	}
}

func TestFailoverOnSilentTrunk(t *testing.T) {
	r := newFailoverRig(t, 200, silentA, func(r *failoverRig) {
		r.trunkA.InviteTimeout = configs.Duration(300 * time.Millisecond)
	})
	c := newCaller(t, "127.0.0.2")
	d := c.call(r.edge.Addr("udp"), numV)
	_ = d.Bye(context.Background())
	rec := r.record()
	want := []string{"out-a:408:no_response", "out-b:200:"}
	if got := attempts(t, rec); !equalStrings(got, want) {
		t.Errorf("attempts %v, want %v", got, want)
	}
}

func TestFailoverSkipsDegradedTrunk(t *testing.T) {
	r := newFailoverRig(t, 200)
	for i := 0; i < 30; i++ {
		r.scores.Observe(routing.Seizure{Trunk: "out-a"})
	}
	if s, _ := r.scores.Score("out-a"); s.State != routing.TrunkDegraded {
		t.Fatalf("out-a is %s, want degraded", s.State)
	}
	c := newCaller(t, "127.0.0.2")
	d := c.call(r.edge.Addr("udp"), numV)
	_ = d.Bye(context.Background())
	rec := r.record()
	if got, want := attempts(t, rec), []string{"out-b:200:"}; !equalStrings(got, want) {
		t.Errorf("attempts %v, want %v", got, want)
	}
	if n := len(r.a.Invites()); n != 0 {
		t.Errorf("degraded carrier A got %d INVITEs", n)
	}
}

func TestFailoverTrunkDrainedAndAllDown(t *testing.T) {
	r := newFailoverRig(t, 200)
	r.scores.SetControl("out-a", routing.TrunkControl{Drained: true})
	r.scores.SetControl("out-b", routing.TrunkControl{Disabled: true})
	c := newCaller(t, "127.0.0.2")
	if got := c.refused(r.edge.Addr("udp"), numV); got != 503 {
		t.Errorf("caller got %d, want 503", got)
	}
	rec := r.record()
	if rec.Reason != "trunk_down" {
		t.Errorf("reason %q, want trunk_down", rec.Reason)
	}
	if n := len(r.a.Invites()) + len(r.b.Invites()); n != 0 {
		t.Errorf("carriers got %d INVITEs, want none", n)
	}
}

func TestFailoverTrunkAtLimitIsSkipped(t *testing.T) {
	r := newFailoverRig(t, 200, func(r *failoverRig) {
		r.trunkA.MaxConcurrentCalls = 1
		r.a.RingFor = time.Minute // the first call holds A's only slot while it rings
	})
	first := newCaller(t, "127.0.0.2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := first.invite(ctx, r.edge.Addr("udp"), numA, numV); err != nil {
		t.Fatal(err)
	}
	eventually(t, "first call ringing on A", func() bool { return len(r.a.Invites()) == 1 })
	second := newCaller(t, "127.0.0.2")
	d := second.call(r.edge.Addr("udp"), numV)
	_ = d.Bye(context.Background())
	eventually(t, "carrier B answered the second call", func() bool { return len(r.b.Calls()) == 1 })
	if n := len(r.a.Invites()); n != 1 {
		t.Errorf("carrier A got %d INVITEs, want only the first call's", n)
	}
}
