package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// signaller is carrier A's SIP side: a sipgo UAC on -local:5061 placing calls to the
// edge, and answering the edge's BYEs.
type signaller struct {
	s      settings
	ua     *sipgo.UserAgent
	conn   net.PacketConn
	dialog *sipgo.DialogClientCache
	edge   netip.AddrPort

	mu       sync.Mutex
	sessions []*sipgo.DialogClientSession
	from     int64
}

func newSignaller(s settings) (*signaller, error) {
	edge, err := netip.ParseAddrPort(s.edge)
	if err != nil {
		return nil, fmt.Errorf("-edge: %w", err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("rtpgen"))
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenPacket("udp4", s.local+":5061")
	if err != nil {
		ua.Close()
		return nil, err
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(8 << 20)
	}
	addr := netip.MustParseAddrPort(conn.LocalAddr().String())
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		ua.Close()
		return nil, err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(addr.String()),
		sipgo.WithClientHostname(s.local), sipgo.WithClientPort(int(addr.Port())))
	if err != nil {
		ua.Close()
		return nil, err
	}
	g := &signaller{s: s, ua: ua, conn: conn, edge: edge, from: s.fromBase}
	g.dialog = sipgo.NewDialogClientCache(cli, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: s.local, Port: int(addr.Port())}})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := g.dialog.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call Does Not Exist", nil))
		}
	})
	go func() { _ = srv.ServeUDP(conn) }()
	time.Sleep(100 * time.Millisecond)
	return g, nil
}

func (g *signaller) close() {
	g.conn.Close()
	g.ua.Close()
}

// placeCalls sets up n calls at cps calls/s, activating each in gen once answered;
// it returns how many failed.
func (g *signaller) placeCalls(ctx context.Context, n int, cps float64, gen *generator) (int, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	var firstErr error
	interval := time.Duration(float64(time.Second) / cps)
	next := time.Now()
	for range n {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		if ctx.Err() != nil {
			break
		}
		idx, port := gen.reserve()
		g.mu.Lock()
		from := "+" + strconv.FormatInt(g.from, 10)
		g.from++
		g.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst, err := g.call(ctx, idx, port, from)
			if err != nil {
				mu.Lock()
				failed++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			gen.activate(idx, dst)
		}()
	}
	wg.Wait()
	if failed > 0 {
		fmt.Printf("# %d of %d call setups failed, first: %v\n", failed, n, firstErr)
	}
	return failed, ctx.Err()
}

// call places one call and returns where the edge wants its RTP.
func (g *signaller) call(ctx context.Context, idx, port int, from string) (netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: g.s.to, Host: g.edge.Addr().String(), Port: int(g.edge.Port())})
	fromH := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: g.s.local}, Params: sip.NewParams()}
	fromH.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(&fromH)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer(g.s.local, port, idx, g.s.pt))
	d, err := g.dialog.WriteInvite(ctx, req)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if err := d.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return netip.AddrPort{}, err
	}
	if err := d.Ack(ctx); err != nil {
		return netip.AddrPort{}, err
	}
	dst, err := mediaAddr(d.InviteResponse.Body())
	if err != nil {
		_ = d.Bye(context.Background())
		return netip.AddrPort{}, err
	}
	g.mu.Lock()
	g.sessions = append(g.sessions, d)
	g.mu.Unlock()
	return dst, nil
}

// hangupAll sends BYE on every call, at most rate per second.
func (g *signaller) hangupAll(ctx context.Context, rate float64) {
	g.mu.Lock()
	ss := g.sessions
	g.sessions = nil
	g.mu.Unlock()
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	for _, d := range ss {
		time.Sleep(interval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = d.Bye(c)
		}()
	}
	wg.Wait()
}

// offer is carrier A's SDP: PCMU (or PCMA) and telephone-event, 20 ms.
func offer(ip string, port, idx, pt int) []byte {
	name := "PCMU"
	if pt == 8 {
		name = "PCMA"
	}
	return []byte(fmt.Sprintf("v=0\r\no=rtpgen %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP %d 101\r\na=rtpmap:%d %s/8000\r\na=rtpmap:101 telephone-event/8000\r\n"+
		"a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n", 1000+idx, ip, ip, port, pt, pt, name))
}

// mediaAddr reads the audio address of an SDP answer.
func mediaAddr(sdp []byte) (netip.AddrPort, error) {
	var ip netip.Addr
	port := 0
	for _, l := range strings.Split(string(sdp), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "c=IN IP4 "):
			if a, err := netip.ParseAddr(strings.TrimSpace(strings.TrimPrefix(l, "c=IN IP4 "))); err == nil {
				ip = a
			}
		case strings.HasPrefix(l, "m=audio "):
			f := strings.Fields(l)
			if len(f) > 1 {
				port, _ = strconv.Atoi(f[1])
			}
		}
	}
	if !ip.IsValid() || port <= 0 {
		return netip.AddrPort{}, fmt.Errorf("no audio address in the answer: %q", sdp)
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}
