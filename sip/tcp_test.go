package sip_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"callgate/configs"
	"callgate/media"
	cgsip "callgate/sip"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestCallOverTCP: a carrier that sends its INVITE over TCP gets the same call.
func TestCallOverTCP(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.set.TCPAddr = "127.0.0.1:0" })
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-carrier-a-tcp"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(testLogger(t)))
	go func() { _ = srv.ServeTCP(ln) }()
	t.Cleanup(func() { ln.Close() })
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.2"), sipgo.WithClientPort(int(addr.Port())),
		sipgo.WithClientConnectionAddr("127.0.0.2:0"))
	if err != nil {
		t.Fatal(err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "127.0.0.2", Port: int(addr.Port()),
		UriParams: sip.NewParams()}}
	contact.Address.UriParams.Add("transport", "tcp")
	dialogs := sipgo.NewDialogClientCache(cli, contact)
	a := newCaller(t, "127.0.0.2") // for its RTP socket and SDP

	edge := r.edge.Addr("tcp")
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: numV, Host: edge.Addr().String(), Port: int(edge.Port())})
	req.SetTransport("TCP")
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: numA, Host: "127.0.0.2"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(&from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(a.offer())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := dialogs.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatalf("TCP call not answered: %v", err)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	a.sendRTP(d, 8, 20)
	eventually(t, "audio echoed over a TCP-signalled call", func() bool { return len(a.packets()) >= 18 })
	if err := d.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := r.record(); rec.SIPCode != 200 || rec.Reason != "caller_bye" || rec.InTrunk != "carrier-a" {
		t.Fatalf("record %+v", rec)
	}
}

func TestTrunkOnUnservedTransportFailsAtStart(t *testing.T) {
	set := cgsip.Settings{UDPAddr: "127.0.0.1:0", MediaBind: netip.MustParseAddr("127.0.0.1"), MediaPublic: netip.MustParseAddr("127.0.0.1")}
	trunks := []configs.Trunk{{Name: "secure", Host: "127.0.0.1", Port: 5061, Transport: "tls"}}
	ports, err := media.NewPorts(31000, 31999, 0)
	if err != nil {
		t.Fatal(err)
	}
	e, err := cgsip.New(set, trunks, nil, nil, ports)
	if err != nil {
		t.Fatal(err)
	}
	err = e.Start(context.Background())
	if err == nil {
		e.Close()
		t.Fatal("a tls trunk started without a tls listener")
	}
	if !strings.Contains(err.Error(), `trunk "secure" uses transport tls`) {
		t.Fatalf("unclear error: %v", err)
	}
}
