package sip_test

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
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
	"github.com/emiago/sipgo/sip"
)

// The numbers of the tests: V is a virtual number bound (AXN) to B.
const (
	numA = "+8613800000001"
	numV = "+8675500000001"
	numB = "+8613900000002"
)

// rig is callgate's SIP edge on loopback with a real SQLite store, a carrier B (the
// demo carrier, a real sipgo UAS) on the outbound trunk, and callers on 127.0.0.2.
type rig struct {
	t       testing.TB
	edge    *cgsip.Edge
	store   *pool.SQLiteStore
	records *pool.Journal // the edge's recorder over store
	carrier *demo.Carrier
	trunks  []configs.Trunk // as the edge was started with
	ports   *media.Ports    // the edge's RTP ports
}

type rigOption func(*rigConfig)

type rigConfig struct {
	set       cgsip.Settings
	carrier   *demo.Carrier
	trunkB    configs.Trunk
	noBinding routing.NoBinding
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CALLGATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newRig(t testing.TB, opts ...rigOption) *rig {
	t.Helper()
	rc := &rigConfig{
		set: cgsip.Settings{
			UDPAddr:       "127.0.0.1:0",
			RingTimeout:   5 * time.Second,
			ShutdownGrace: time.Second,
			NoRouteStatus: 404,
			MediaBind:     netip.MustParseAddr("127.0.0.1"),
			MediaPublic:   netip.MustParseAddr("127.0.0.1"),
		},
		carrier: &demo.Carrier{RingFor: 50 * time.Millisecond, Log: testLogger(t)},
		trunkB: configs.Trunk{Name: "carrier-b", Supplier: "b", Host: "127.0.0.1", Transport: "udp",
			InboundCIDRs: []string{"127.0.0.1/32"}, Codecs: []string{"PCMU", "PCMA"}},
	}
	for _, o := range opts {
		o(rc)
	}
	if err := rc.carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.carrier.Close() })
	rc.trunkB.Port = int(rc.carrier.Addr().Port())

	ctx := context.Background()
	store, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "callgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.SyncStaticBindings(ctx, []pool.Binding{{Tenant: "demo", Mode: pool.ModeAXN, Virtual: numV, B: numB,
		Trunk: "carrier-b", Static: true, Expiry: pool.ExpiryNever}}); err != nil {
		t.Fatal(err)
	}
	ports, err := media.NewPorts(31000, 31999, 0)
	if err != nil {
		t.Fatal(err)
	}
	trunks := []configs.Trunk{
		{Name: "carrier-a", Supplier: "a", Host: "127.0.0.2", Port: 5060, Transport: "udp",
			InboundCIDRs: []string{"127.0.0.2/32"}, Codecs: []string{"PCMU", "PCMA"}},
		rc.trunkB,
	}
	// Records go through the journal, as in callgate: off the setup path, in batches.
	records := pool.NewJournal(store, pool.JournalOptions{})
	t.Cleanup(func() { records.Close() }) // after the edge, before the store
	edge, err := cgsip.New(rc.set, trunks, routing.NewInbound(store, nil, routing.WithNoBinding(rc.noBinding)), records, ports, cgsip.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	return &rig{t: t, edge: edge, store: store, records: records, carrier: rc.carrier, trunks: trunks, ports: ports}
}

// record waits for the call record of the only call and returns it.
func (r *rig) record() pool.Call {
	r.t.Helper()
	var calls []pool.Call
	eventually(r.t, "call record written", func() bool {
		var err error
		calls, err = r.store.Calls(context.Background(), pool.CallFilter{})
		return err == nil && len(calls) == 1 && calls[0].State == "ended"
	})
	c, err := r.store.Call(context.Background(), calls[0].ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// caller is a carrier's user agent calling into callgate: a real sipgo UAC on its own
// loopback address with an RTP socket.
type caller struct {
	t      testing.TB
	ua     *sipgo.UserAgent
	client *sipgo.Client
	dialog *sipgo.DialogClientCache
	addr   netip.AddrPort
	rtp    *net.UDPConn
	byes   atomic.Int32

	mu       sync.Mutex
	received []rtpPacket
}

type rtpPacket struct {
	pt      uint8
	seq     uint16
	ssrc    uint32
	payload []byte
}

func newCaller(t testing.TB, ip string) *caller {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-carrier-a"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(conn.LocalAddr().String())
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(testLogger(t)))
	cli, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(addr.String()),
		sipgo.WithClientHostname(ip), sipgo.WithClientPort(int(addr.Port())))
	if err != nil {
		t.Fatal(err)
	}
	c := &caller{t: t, ua: ua, client: cli, addr: addr}
	c.dialog = sipgo.NewDialogClientCache(cli, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: ip, Port: int(addr.Port())}})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		c.byes.Add(1)
		if err := c.dialog.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "No", nil))
		}
	})
	go func() { _ = srv.ServeUDP(conn) }()
	cgsip.WaitListening(ua.TransportLayer(), "udp", addr.String())
	rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr.Addr(), 0)))
	if err != nil {
		t.Fatal(err)
	}
	c.rtp = rtp
	go c.readRTP()
	t.Cleanup(func() { rtp.Close(); conn.Close(); ua.Close() })
	return c
}

func (c *caller) readRTP() {
	buf := make([]byte, 1500)
	for {
		n, err := c.rtp.Read(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		p := rtpPacket{pt: buf[1] & 0x7f, seq: binary.BigEndian.Uint16(buf[2:]), ssrc: binary.BigEndian.Uint32(buf[8:]),
			payload: append([]byte(nil), buf[12:n]...)}
		c.mu.Lock()
		c.received = append(c.received, p)
		c.mu.Unlock()
	}
}

func (c *caller) packets() []rtpPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rtpPacket(nil), c.received...)
}

// offer is the SDP the caller sends: PCMA and PCMU with telephone-event 101.
func (c *caller) offer() []byte {
	port := netip.MustParseAddrPort(c.rtp.LocalAddr().String()).Port()
	return media.SessionDesc{Username: "a", SessionID: 7, Version: 1, Addr: c.addr.Addr(), Port: int(port),
		Formats: []media.Format{{PT: 8, Name: "PCMA", Rate: 8000}, {PT: 0, Name: "PCMU", Rate: 8000},
			{PT: 101, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"}},
		Direction: media.SendRecv, Ptime: 20}.Marshal()
}

// invite starts a call from `from` to `to` at callgate.
func (c *caller) invite(ctx context.Context, edge netip.AddrPort, from, to string) (*sipgo.DialogClientSession, error) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: to, Host: edge.Addr().String(), Port: int(edge.Port())})
	fromH := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: c.addr.Addr().String()}, Params: sip.NewParams()}
	fromH.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(&fromH)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.offer())
	return c.dialog.WriteInvite(ctx, req)
}

// call places a call and waits for the answer; it fails the test on any other outcome.
func (c *caller) call(edge netip.AddrPort, to string) *sipgo.DialogClientSession {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.invite(ctx, edge, numA, to)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := d.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		c.t.Fatalf("call not answered: %v", err)
	}
	if err := d.Ack(ctx); err != nil {
		c.t.Fatal(err)
	}
	return d
}

// sendRTP sends n PCMA packets to the address in the callee's SDP answer.
func (c *caller) sendRTP(d *sipgo.DialogClientSession, pt uint8, n int) {
	c.t.Helper()
	c.sendRTPTo(d.InviteResponse.Body(), pt, n)
}

// sendRTPTo sends n packets to the address in an SDP body.
func (c *caller) sendRTPTo(sdp []byte, pt uint8, n int) {
	c.t.Helper()
	ans, err := media.ParseSDP(sdp)
	if err != nil {
		c.t.Fatal(err)
	}
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ans.Addr, uint16(ans.Port)))
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	pkt[1] = pt
	binary.BigEndian.PutUint32(pkt[8:], 0xA11CE)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		for j := 12; j < len(pkt); j++ {
			pkt[j] = byte(i)
		}
		if _, err := c.rtp.WriteToUDP(pkt, dst); err != nil {
			c.t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// refused places a call that callgate (or the callee) must refuse and returns the
// final status the caller got; 0 means the call was not refused.
func (c *caller) refused(edge netip.AddrPort, to string) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.invite(ctx, edge, numA, to)
	if err != nil {
		c.t.Fatal(err)
	}
	return responseCode(d.WaitAnswer(ctx, sipgo.AnswerOptions{}))
}

// responseCode is the final status of a failed WaitAnswer.
func responseCode(err error) int {
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) {
		return de.Res.StatusCode
	}
	return 0
}
