package sip_test

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"callgate/configs"
	"callgate/routing"
	cgsip "callgate/sip"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// optionsUAS is a real sipgo UAS that answers OPTIONS with status while status is
// not 0, and drops them (says nothing) while it is 0.
type optionsUAS struct {
	addr    netip.AddrPort
	status  atomic.Int32
	options atomic.Int32 // OPTIONS received
}

func newOptionsUAS(t *testing.T) *optionsUAS {
	t.Helper()
	u := &optionsUAS{}
	u.status.Store(200)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("probe-test-uas"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(testLogger(t)))
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		u.options.Add(1)
		if code := int(u.status.Load()); code != 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Probe Test", nil))
		}
	})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = netip.MustParseAddrPort(conn.LocalAddr().String())
	go func() { _ = srv.ServeUDP(conn) }()
	cgsip.WaitListening(ua.TransportLayer(), "udp", u.addr.String())
	t.Cleanup(func() { conn.Close(); ua.Close() })
	return u
}

func probeEdge(t *testing.T, trunks []configs.Trunk, opts ...cgsip.Option) *cgsip.Edge {
	t.Helper()
	set := cgsip.Settings{UDPAddr: "127.0.0.1:0", MediaBind: netip.MustParseAddr("127.0.0.1"), MediaPublic: netip.MustParseAddr("127.0.0.1")}
	edge, err := cgsip.New(set, trunks, routing.NewInbound(nil, nil), nil, nil, append(opts, cgsip.WithLogger(testLogger(t)))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	return edge
}

func fastProbe() *configs.TrunkProbe {
	return &configs.TrunkProbe{Interval: configs.Duration(40 * time.Millisecond), Timeout: configs.Duration(300 * time.Millisecond),
		DownAfter: 2, UpAfter: 3}
}

func trunkNamed(e *cgsip.Edge, name string) *cgsip.Trunk {
	for _, t := range e.Trunks() {
		if t.Name() == name {
			return t
		}
	}
	return nil
}

func TestProbeMarksTrunkDownAndUp(t *testing.T) {
	uas := newOptionsUAS(t)
	scores := routing.NewScoreboard(routing.ScoreSettings{}, nil)
	scores.SetTrunks([]string{"probed", "quiet"}, nil)
	edge := probeEdge(t, []configs.Trunk{
		{Name: "probed", Host: "127.0.0.1", Port: int(uas.addr.Port()), Transport: "udp", Probe: fastProbe()},
		{Name: "quiet", Host: "127.0.0.1", Port: int(uas.addr.Port()), Transport: "udp"},
	}, cgsip.WithTrunkScorer(scores))
	probed := trunkNamed(edge, "probed")

	eventually(t, "first probe answered", func() bool { return probed.Probe().LastCode == 200 })
	if st := probed.Probe(); st.State != routing.ProbeUp || probed.Down() {
		t.Fatalf("answered trunk: %+v", st)
	}
	if st := trunkNamed(edge, "quiet").Probe(); st.State != routing.ProbeOff {
		t.Errorf("trunk without probe config: %+v", st)
	}

	uas.status.Store(0) // stops answering
	eventually(t, "trunk down after 2 unanswered probes", probed.Down)
	st := probed.Probe()
	if st.State != routing.ProbeDown || st.Failures < 2 || st.LastCode != 0 || st.LastError == "" {
		t.Errorf("silent trunk: %+v", st)
	}
	eventually(t, "scorer told", func() bool { s, _ := scores.Score("probed"); return s.State == routing.TrunkDown })
	if s := edge.Standing(probed); s.State.TakesCalls() {
		t.Errorf("down trunk takes calls: %+v", s)
	}

	uas.status.Store(503) // answers, but overloaded: still down
	eventually(t, "503 probes seen", func() bool { return probed.Probe().LastCode == 503 })
	if !probed.Down() {
		t.Error("a trunk answering 503 came up")
	}

	uas.status.Store(404) // any other answer shows a live carrier
	eventually(t, "trunk up after 3 answered probes", func() bool { return !probed.Down() })
	if st := probed.Probe(); st.Successes < 3 || st.State != routing.ProbeUp {
		t.Errorf("recovered trunk: %+v", st)
	}
	eventually(t, "scorer told", func() bool { s, _ := scores.Score("probed"); return s.State == routing.TrunkUp })

	// A reload that drops the probe forgets the state; Close stops the probes (twice).
	before := uas.options.Load()
	if err := edge.SetTrunks([]configs.Trunk{{Name: "probed", Host: "127.0.0.1", Port: int(uas.addr.Port()), Transport: "udp"}}); err != nil {
		t.Fatal(err)
	}
	if st := trunkNamed(edge, "probed").Probe(); st.State != routing.ProbeOff {
		t.Errorf("after reload without probe: %+v", st)
	}
	edge.Close()
	edge.Close()
	settled := uas.options.Load()
	time.Sleep(200 * time.Millisecond)
	if n := uas.options.Load(); n > settled+1 {
		t.Errorf("probes go on after Close: %d, then %d (before reload %d)", settled, n, before)
	}
}

// A trunk whose probes fail takes no new calls: the call goes to the next trunk.
func TestProbeDownTrunkTakesNoCalls(t *testing.T) {
	r := newFailoverRig(t, 200, silentA, func(r *failoverRig) { r.trunkA.Probe = fastProbe() })
	eventually(t, "out-a down", func() bool { return trunkNamed(r.edge, "out-a").Down() })
	c := newCaller(t, "127.0.0.2")
	d := c.call(r.edge.Addr("udp"), numV)
	_ = d.Bye(context.Background())
	rec := r.record()
	if got, want := attempts(t, rec), []string{"out-b:200:"}; !equalStrings(got, want) {
		t.Errorf("attempts %v, want %v", got, want)
	}
}
