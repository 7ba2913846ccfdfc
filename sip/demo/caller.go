package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"callgate/media"
	cgsip "callgate/sip"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Caller is a carrier's originating side: it places calls into callgate as a carrier
// delivers its subscribers' calls (a customer calling back a number an agent used, a
// call to a virtual number), plays a tone to callgate and keeps what it hears. It has
// a SIP socket of its own; start it on the IP of a trunk's host (or its
// inbound_cidrs), so that callgate takes its INVITEs for that trunk's. Set the
// exported fields before Start.
type Caller struct {
	// ToneHz is the tone played to callgate once a call is answered; default 440.
	ToneHz float64
	// Log receives the caller's log lines; default: discard.
	Log *slog.Logger

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dialogs *sipgo.DialogClientCache
	conn    net.PacketConn
	addr    netip.AddrPort

	mu     sync.Mutex
	calls  map[string]*OutCall // by Call-ID
	wg     sync.WaitGroup
	closed atomic.Bool
}

// OutCall is one call the Caller placed. Its audio accessors (Heard, Sent, Digits,
// GotBye, Done) are Call's.
type OutCall struct {
	*Call

	k        *Caller
	dialog   *sipgo.DialogClientSession
	cancel   context.CancelFunc // cancelling while it rings sends CANCEL
	ringing  atomic.Bool
	answered chan struct{}
	final    chan struct{} // closed once the INVITE has its final answer
	code     atomic.Int32
	doneOnce sync.Once
}

// Start listens on UDP addr ("127.0.0.1:0" for any port) and serves until Close.
func (k *Caller) Start(addr string) error {
	if k.Log == nil {
		k.Log = slog.New(slog.DiscardHandler)
	}
	if k.ToneHz == 0 {
		k.ToneHz = 440
	}
	k.calls = map[string]*OutCall{}
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("demo caller: listen %s: %w", addr, err)
	}
	k.conn = conn
	k.addr = netip.MustParseAddrPort(conn.LocalAddr().String())
	if k.ua, err = sipgo.NewUA(sipgo.WithUserAgent("callgate-demo-caller")); err != nil {
		conn.Close()
		return err
	}
	k.srv, _ = sipgo.NewServer(k.ua, sipgo.WithServerLogger(k.Log))
	cli, err := sipgo.NewClient(k.ua, sipgo.WithClientConnectionAddr(k.addr.String()),
		sipgo.WithClientHostname(k.addr.Addr().String()), sipgo.WithClientPort(int(k.addr.Port())))
	if err != nil {
		conn.Close()
		k.ua.Close()
		return err
	}
	k.dialogs = sipgo.NewDialogClientCache(cli, sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: "caller", Host: k.addr.Addr().String(), Port: int(k.addr.Port())}})
	k.srv.OnBye(k.onBye)
	k.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = k.srv.ServeUDP(conn) }()
	cgsip.WaitListening(k.ua.TransportLayer(), "udp", k.addr.String())
	return nil
}

// Addr is the caller's SIP address.
func (k *Caller) Addr() netip.AddrPort { return k.addr }

// Close stops the caller; calls in progress lose their media. Safe twice.
func (k *Caller) Close() error {
	if k.closed.Swap(true) || k.ua == nil {
		return nil
	}
	k.mu.Lock()
	for _, c := range k.calls {
		c.cancel()
		c.rtp.Close()
	}
	k.mu.Unlock()
	k.conn.Close()
	k.ua.Close()
	k.wg.Wait()
	return nil
}

// Call sends an INVITE from number from to number to at callgate's SIP address
// target, offering PCMU, PCMA and telephone-event, and returns at once; the call's
// progress shows on the OutCall.
func (k *Caller) Call(target netip.AddrPort, from, to string) (*OutCall, error) {
	rtp, err := net.ListenPacket("udp", net.JoinHostPort(k.addr.Addr().String(), "0"))
	if err != nil {
		return nil, fmt.Errorf("demo caller: rtp socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	oc := &OutCall{
		Call:     &Call{From: from, To: to, rtp: rtp, done: make(chan struct{})},
		k:        k,
		cancel:   cancel,
		answered: make(chan struct{}),
		final:    make(chan struct{}),
	}
	port := netip.MustParseAddrPort(rtp.LocalAddr().String()).Port()
	offer := media.SessionDesc{Username: "caller", SessionID: 77, Version: 1, Addr: k.addr.Addr(), Port: int(port),
		Formats: []media.Format{{PT: 0, Name: "PCMU", Rate: 8000}, {PT: 8, Name: "PCMA", Rate: 8000},
			{PT: telephoneEventPT, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"}},
		Direction: media.SendRecv, Ptime: 20}.Marshal()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: to, Host: target.Addr().String(), Port: int(target.Port())})
	fromH := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: k.addr.Addr().String()}, Params: sip.NewParams()}
	fromH.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(&fromH)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: target.Addr().String()}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	d, err := k.dialogs.WriteInvite(ctx, req)
	if err != nil {
		cancel()
		rtp.Close()
		return nil, fmt.Errorf("demo caller: INVITE: %w", err)
	}
	oc.dialog = d
	oc.CallID = req.CallID().Value()
	k.mu.Lock()
	k.calls[oc.CallID] = oc
	k.mu.Unlock()
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		oc.run(ctx)
	}()
	return oc, nil
}

// run waits for the final answer; once answered it ACKs, plays the tone, keeps what it
// hears, and waits for the end of the call.
func (oc *OutCall) run(ctx context.Context) {
	defer oc.end()
	err := oc.dialog.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode == 180 || res.StatusCode == 183 {
			oc.ringing.Store(true)
		}
		return nil
	}})
	if err != nil {
		var de *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de):
			oc.code.Store(int32(de.Res.StatusCode))
		case oc.dialog.InviteResponse != nil && oc.dialog.InviteResponse.StatusCode >= 300:
			oc.code.Store(int32(oc.dialog.InviteResponse.StatusCode)) // 487 after our CANCEL
		default:
			oc.code.Store(-1)
			oc.k.Log.Warn("call failed", "err", err)
		}
		close(oc.final)
		return
	}
	oc.code.Store(200)
	close(oc.final)
	if err := oc.dialog.Ack(context.Background()); err != nil {
		oc.k.Log.Warn("ACK", "err", err)
	}
	ans, err := media.ParseSDP(oc.dialog.InviteResponse.Body())
	if err == nil {
		for _, f := range ans.Formats {
			if law, ok := media.LawOf(f); ok {
				oc.Codec, oc.law = f.Name, law
				break
			}
		}
		oc.remote = netip.AddrPortFrom(ans.Addr, uint16(ans.Port))
	}
	close(oc.answered)
	oc.k.wg.Add(2)
	go func() { defer oc.k.wg.Done(); oc.listenRTP() }()
	go func() { defer oc.k.wg.Done(); oc.playTone() }()
	select {
	case <-oc.dialog.Context().Done(): // BYE either way
	case <-oc.done:
	}
}

// end closes the call's media and marks it done. Safe twice.
func (oc *OutCall) end() {
	oc.doneOnce.Do(func() {
		oc.rtp.Close()
		close(oc.done)
	})
}

func (oc *OutCall) listenRTP() {
	buf := make([]byte, 1500)
	for {
		n, _, err := oc.rtp.ReadFrom(buf)
		if err != nil {
			return
		}
		oc.listen(buf[:n])
	}
}

// playTone sends 20 ms G.711 packets of the tone until the call ends.
func (oc *OutCall) playTone() {
	pt := uint8(0)
	if oc.law == media.ALaw {
		pt = 8
	}
	dst := net.UDPAddrFromAddrPort(oc.remote)
	pkt := make([]byte, media.HeaderSize+160)
	h := media.Header{PayloadType: pt, SSRC: 0xCA11E4, SequenceNumber: 1}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		h.SequenceNumber, h.Timestamp, h.Marker = uint16(i), uint32(i*160), i == 0
		if _, err := h.MarshalTo(pkt); err != nil {
			return
		}
		media.Tone(pkt[media.HeaderSize:], oc.law, oc.k.ToneHz, 8000, i*160)
		if _, err := oc.rtp.WriteTo(pkt, dst); err != nil {
			return
		}
		oc.sent.Add(1)
		select {
		case <-tick.C:
		case <-oc.done:
			return
		}
	}
}

// Ringing reports whether callgate answered 180 or 183.
func (oc *OutCall) Ringing() bool { return oc.ringing.Load() }

// Answered is closed when callgate answered 200 (and was ACKed).
func (oc *OutCall) Answered() <-chan struct{} { return oc.answered }

// Final is closed when the INVITE has its final answer; Code says which.
func (oc *OutCall) Final() <-chan struct{} { return oc.final }

// Code is the final status of the INVITE: 200, a failure status (487 after Cancel),
// -1 if no final answer came, 0 while it rings.
func (oc *OutCall) Code() int { return int(oc.code.Load()) }

// Cancel gives up a call that rings (CANCEL); on an answered call it does nothing.
func (oc *OutCall) Cancel() { oc.cancel() }

// Hangup sends BYE on an answered call.
func (oc *OutCall) Hangup(ctx context.Context) error {
	select {
	case <-oc.answered:
	case <-oc.final: // answered 200: the ACK and the media set-up follow at once
		if oc.Code() != 200 {
			return errors.New("demo caller: call not answered")
		}
		select {
		case <-oc.answered:
		case <-ctx.Done():
			return ctx.Err()
		}
	default:
		return errors.New("demo caller: call not answered")
	}
	err := oc.dialog.Bye(ctx)
	oc.end()
	return err
}

// onBye ends a call callgate hangs up.
func (k *Caller) onBye(req *sip.Request, tx sip.ServerTransaction) {
	k.mu.Lock()
	oc := k.calls[req.CallID().Value()]
	k.mu.Unlock()
	if oc != nil {
		oc.byeRecv.Store(true)
	}
	if err := k.dialogs.ReadBye(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}
}
