// Package demo is a small carrier on loopback: a real SIP user agent that answers the
// calls callgate sends it and echoes their audio. The built-in default config runs one
// so a fresh install has somewhere to call; tests use it as the far end of a trunk.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/icholy/digest"
)

// Carrier is a SIP user agent that plays a carrier: it answers INVITEs (after ringing
// for RingFor), echoes RTP back to where it came from, and hangs up when told to.
// Set the exported fields before Start.
type Carrier struct {
	// RingFor is how long it rings (180) before the final answer.
	RingFor time.Duration
	// EarlyMedia sends 183 with SDP instead of 180.
	EarlyMedia bool
	// Answer picks the final status for a call to number `to`; nil answers 200.
	Answer func(to string) int
	// User and Password, when set, make the carrier challenge every INVITE and
	// REGISTER with digest auth (SHA-256 if SHA256, else MD5).
	User, Password string
	SHA256         bool
	// RegisterExpires is the expiry granted to REGISTERs; default: what was asked.
	RegisterExpires time.Duration
	// Tone, when set, plays a ToneHz sine (default 440 Hz) to the caller for this
	// long after answering; the caller's audio is echoed only after it.
	Tone   time.Duration
	ToneHz float64
	// ReferStatus answers REFERs (blind transfer); default 202 Accepted.
	ReferStatus int
	// Log receives the carrier's log lines; default: discard.
	Log *slog.Logger

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dialog  *sipgo.DialogServerCache
	contact sip.ContactHeader
	conn    net.PacketConn
	addr    netip.AddrPort

	mu       sync.Mutex
	calls    map[string]*Call
	sockets  map[net.PacketConn]struct{} // every call's RTP socket until closed: Close closes them all
	nonces   map[string]bool
	invites  []*sip.Request
	register []*sip.Request
	wg       sync.WaitGroup
	closed   atomic.Bool
}

// Call is one call the carrier answered.
type Call struct {
	CallID string
	From   string // user part of From
	To     string // user part of the Request-URI
	Codec  string // PCMU or PCMA

	session *sipgo.DialogServerSession
	rtp     net.PacketConn
	remote  netip.AddrPort // from the offer
	law     media.Law
	echoed  atomic.Int64
	sent    atomic.Int64
	byeRecv atomic.Bool
	done    chan struct{}

	mu         sync.Mutex
	held       bool    // the other side's last re-INVITE put us on hold
	referredTo string  // Refer-To of the last REFER
	heard      []int16 // the caller's latest audio, decoded
	dtmf       []byte  // RFC 4733 digits received
	lastEvent  uint32
}

// Heard returns the caller's audio the carrier received, decoded to 8 kHz samples.
func (c *Call) Heard() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.heard...)
}

// Digits returns the DTMF digits received as RFC 4733 events, in order.
func (c *Call) Digits() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.dtmf)
}

// Held reports whether the other side's last re-INVITE put the call on hold.
func (c *Call) Held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// ReferredTo is the Refer-To of the last REFER received on the call.
func (c *Call) ReferredTo() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.referredTo
}

// Sent counts the tone packets the carrier played.
func (c *Call) Sent() int64 { return c.sent.Load() }

// telephoneEventPT is the payload type the carrier answers for telephone-event.
const telephoneEventPT = 100

// Echoed counts the RTP packets echoed on this call.
func (c *Call) Echoed() int64 { return c.echoed.Load() }

// GotBye reports whether the other side sent BYE.
func (c *Call) GotBye() bool { return c.byeRecv.Load() }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Start listens on UDP addr ("127.0.0.1:0" for any port) and serves until Close.
func (k *Carrier) Start(addr string) error {
	if k.Log == nil {
		k.Log = slog.New(slog.DiscardHandler)
	}
	k.calls = map[string]*Call{}
	k.nonces = map[string]bool{}
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("demo carrier: listen %s: %w", addr, err)
	}
	k.conn = conn
	k.addr = netip.MustParseAddrPort(conn.LocalAddr().String())
	if k.ua, err = sipgo.NewUA(sipgo.WithUserAgent("callgate-demo-carrier")); err != nil {
		conn.Close()
		return err
	}
	k.srv, _ = sipgo.NewServer(k.ua, sipgo.WithServerLogger(k.Log))
	cli, err := sipgo.NewClient(k.ua, sipgo.WithClientConnectionAddr(k.addr.String()),
		sipgo.WithClientHostname(k.addr.Addr().String()), sipgo.WithClientPort(int(k.addr.Port())))
	if err != nil {
		conn.Close()
		return err
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "carrier", Host: k.addr.Addr().String(), Port: int(k.addr.Port())}}
	k.contact = contact
	k.dialog = sipgo.NewDialogServerCache(cli, contact)
	k.srv.OnInvite(k.onInvite)
	k.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = k.dialog.ReadAck(req, tx) })
	k.srv.OnBye(k.onBye)
	k.srv.OnRegister(k.onRegister)
	k.srv.OnRefer(k.onRefer)
	k.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	k.srv.OnInfo(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = k.srv.ServeUDP(conn) }()
	cgsip.WaitListening(k.ua.TransportLayer(), "udp", k.addr.String())
	return nil
}

// Addr is the carrier's SIP address.
func (k *Carrier) Addr() netip.AddrPort { return k.addr }

// Calls returns the calls answered so far.
func (k *Carrier) Calls() []*Call {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*Call, 0, len(k.calls))
	for _, c := range k.calls {
		out = append(out, c)
	}
	return out
}

// Invites returns every INVITE received (including challenged ones).
func (k *Carrier) Invites() []*sip.Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*sip.Request(nil), k.invites...)
}

// Registers returns every REGISTER received.
func (k *Carrier) Registers() []*sip.Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*sip.Request(nil), k.register...)
}

// Hangup sends BYE on an answered call.
func (k *Carrier) Hangup(ctx context.Context, c *Call) error {
	return c.session.Bye(ctx)
}

// ReInvite sends a re-INVITE on an answered call with direction dir (hold: sendonly).
func (k *Carrier) ReInvite(ctx context.Context, c *Call, dir media.Direction) (*sip.Response, error) {
	sdp := k.sdp(c, dir, 2)
	req := sip.NewRequest(sip.INVITE, c.session.InviteRequest.Contact().Address)
	req.SetBody(sdp)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := c.session.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, c.session.InviteRequest.Contact().Address)
		ack.AppendHeader(sip.HeaderClone(req.CSeq()))
		ack.CSeq().MethodName = sip.ACK
		if err := c.session.WriteRequest(ack); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Close stops the carrier. Safe twice.
func (k *Carrier) Close() error {
	if k.closed.Swap(true) || k.ua == nil {
		return nil
	}
	k.mu.Lock()
	for conn := range k.sockets { // calls not yet confirmed too: their readers must stop
		conn.Close()
	}
	k.sockets = nil
	k.mu.Unlock()
	k.conn.Close()
	k.ua.Close()
	k.wg.Wait()
	return nil
}

// track remembers a call's RTP socket for Close; false once Close has begun.
func (k *Carrier) track(conn net.PacketConn) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed.Load() {
		return false
	}
	if k.sockets == nil {
		k.sockets = map[net.PacketConn]struct{}{}
	}
	k.sockets[conn] = struct{}{}
	return true
}

// release closes a call's RTP socket and forgets it.
func (k *Carrier) release(conn net.PacketConn) {
	conn.Close()
	k.mu.Lock()
	delete(k.sockets, conn)
	k.mu.Unlock()
}

func (k *Carrier) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		k.onReInvite(req, tx)
		return
	}
	k.mu.Lock()
	k.invites = append(k.invites, req)
	k.mu.Unlock()
	if !k.authorized(req, tx) {
		return
	}
	ds, err := k.dialog.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		_ = ds.Respond(488, "Not Acceptable Here", nil)
		return
	}
	c := &Call{CallID: req.CallID().Value(), From: req.From().Address.User, To: req.Recipient.User, session: ds, done: make(chan struct{})}
	for _, f := range offer.Formats {
		if f.Name == "PCMU" || f.Name == "PCMA" {
			c.Codec = f.Name
			c.law, _ = media.LawOf(f)
			break
		}
	}
	c.remote = netip.AddrPortFrom(offer.Addr, uint16(offer.Port))
	if c.Codec == "" {
		_ = ds.Respond(488, "Not Acceptable Here", nil)
		return
	}
	if c.rtp, err = net.ListenPacket("udp", net.JoinHostPort(k.addr.Addr().String(), "0")); err != nil {
		_ = ds.Respond(500, "Server Internal Error", nil)
		return
	}
	if !k.track(c.rtp) { // closing: a goroutine started now would never be stopped
		k.release(c.rtp)
		_ = ds.Respond(503, "Service Unavailable", nil)
		return
	}
	code := 200
	if k.Answer != nil {
		code = k.Answer(c.To)
	}
	if k.EarlyMedia {
		k.startEcho(c)
		_ = ds.Respond(183, "Session Progress", k.sdp(c, media.SendRecv, 1), sip.NewHeader("Content-Type", "application/sdp"))
	} else {
		_ = ds.Respond(180, "Ringing", nil)
	}
	select {
	case <-time.After(k.RingFor):
	case <-ds.Context().Done(): // canceled
		k.release(c.rtp)
		return
	}
	if code != 200 {
		k.release(c.rtp)
		_ = ds.Respond(code, "Demo Answer", nil)
		return
	}
	if !k.EarlyMedia {
		k.startEcho(c)
	}
	if err := ds.RespondSDP(k.sdp(c, media.SendRecv, 1)); err != nil {
		k.Log.Warn("answer", "err", err)
	}
	// Listed once confirmed: the session is not touched by two goroutines before.
	k.mu.Lock()
	k.calls[c.CallID] = c
	k.mu.Unlock()
	go func() {
		<-ds.Context().Done()
		k.release(c.rtp)
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}()
}

func (k *Carrier) sdp(c *Call, dir media.Direction, version uint64) []byte {
	pt := uint8(0)
	if c.Codec == "PCMA" {
		pt = 8
	}
	port := netip.MustParseAddrPort(c.rtp.LocalAddr().String()).Port()
	return media.SessionDesc{
		Username: "carrier", SessionID: 42, Version: version,
		Addr: k.addr.Addr(), Port: int(port),
		Formats:   []media.Format{{PT: pt, Name: c.Codec, Rate: 8000}, {PT: telephoneEventPT, Name: "telephone-event", Rate: 8000, Fmtp: "0-16"}},
		Direction: dir, Ptime: 20,
	}.Marshal()
}

// startEcho plays the tone (if any), then sends every RTP packet back to its source.
// It keeps what it hears: decoded audio and DTMF digits.
func (k *Carrier) startEcho(c *Call) {
	toneUntil := time.Now().Add(k.Tone)
	if k.Tone > 0 {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			k.playTone(c, toneUntil)
		}()
	}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := c.rtp.ReadFrom(buf)
			if err != nil {
				return
			}
			c.listen(buf[:n])
			if time.Now().Before(toneUntil) {
				continue
			}
			if _, err := c.rtp.WriteTo(buf[:n], from); err == nil {
				c.echoed.Add(1)
			}
		}
	}()
}

// listen keeps the caller's audio and DTMF.
func (c *Call) listen(pkt []byte) {
	var h media.Header
	off, err := h.Unmarshal(pkt)
	if err != nil {
		return
	}
	payload := pkt[off:]
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case h.PayloadType == telephoneEventPT && len(payload) >= 4:
		end := payload[1]&0x80 != 0
		if end && h.Timestamp != c.lastEvent {
			c.lastEvent = h.Timestamp
			if d, ok := media.DTMFDigit(payload[0]); ok {
				c.dtmf = append(c.dtmf, d)
			}
		}
	case h.PayloadType == 0 || h.PayloadType == 8:
		for _, b := range payload {
			c.heard = append(c.heard, c.law.Decode(b))
		}
		if keep := 10 * media.G711Rate; len(c.heard) > 2*keep { // the last 10-20 s
			c.heard = append(c.heard[:0], c.heard[len(c.heard)-keep:]...)
		}
	}
}

// playTone sends 20 ms G.711 packets of the tone to the caller until `until`.
func (k *Carrier) playTone(c *Call, until time.Time) {
	hz := k.ToneHz
	if hz == 0 {
		hz = 440
	}
	pt := uint8(0)
	if c.law == media.ALaw {
		pt = 8
	}
	dst := net.UDPAddrFromAddrPort(c.remote)
	pkt := make([]byte, media.HeaderSize+160)
	h := media.Header{PayloadType: pt, SSRC: 0x70E70E, SequenceNumber: 1}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; time.Now().Before(until); i++ {
		h.SequenceNumber, h.Timestamp, h.Marker = uint16(i), uint32(i*160), i == 0
		if _, err := h.MarshalTo(pkt); err != nil {
			return
		}
		media.Tone(pkt[media.HeaderSize:], c.law, hz, 8000, i*160)
		if _, err := c.rtp.WriteTo(pkt, dst); err != nil {
			return
		}
		c.sent.Add(1)
		select {
		case <-tick.C:
		case <-c.done:
			return
		}
	}
}

func (k *Carrier) onBye(req *sip.Request, tx sip.ServerTransaction) {
	k.mu.Lock()
	c := k.calls[req.CallID().Value()]
	k.mu.Unlock()
	if c != nil {
		c.byeRecv.Store(true)
	}
	if err := k.dialog.ReadBye(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}
}

// onReInvite answers hold and resume inside a call, mirroring the offered direction.
func (k *Carrier) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	k.mu.Lock()
	c := k.calls[req.CallID().Value()]
	k.mu.Unlock()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	c.mu.Lock()
	c.held = !offer.Receiving()
	c.mu.Unlock()
	res := sip.NewSDPResponseFromRequest(req, k.sdp(c, offer.Direction.Answer(), 3))
	res.AppendHeader(sip.HeaderClone(&k.contact))
	_ = tx.Respond(res)
}

// onRefer records a blind transfer and answers ReferStatus.
func (k *Carrier) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	k.mu.Lock()
	c := k.calls[req.CallID().Value()]
	k.mu.Unlock()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if h := req.GetHeader("Refer-To"); h != nil {
		c.mu.Lock()
		c.referredTo = h.Value()
		c.mu.Unlock()
	}
	code := k.ReferStatus
	if code == 0 {
		code = 202
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Demo", nil))
}

func (k *Carrier) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	k.mu.Lock()
	k.register = append(k.register, req)
	k.mu.Unlock()
	if !k.authorized(req, tx) {
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if k.RegisterExpires > 0 {
		res.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(int(k.RegisterExpires/time.Second))))
	} else if h := req.GetHeader("Expires"); h != nil {
		res.AppendHeader(sip.NewHeader("Expires", h.Value()))
	}
	_ = tx.Respond(res)
}

// authorized checks digest credentials when the carrier requires them, answering 401
// with a fresh single-use nonce when they are missing or wrong.
func (k *Carrier) authorized(req *sip.Request, tx sip.ServerTransaction) bool {
	if k.User == "" {
		return true
	}
	if h := req.GetHeader("Authorization"); h != nil {
		if err := k.verify(req, h.Value()); err == nil {
			return true
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	chal := digest.Challenge{Realm: "demo", Nonce: hex.EncodeToString(b[:]), QOP: []string{"auth"}, Algorithm: "MD5"}
	if k.SHA256 {
		chal.Algorithm = "SHA-256"
	}
	k.mu.Lock()
	k.nonces[chal.Nonce] = true
	k.mu.Unlock()
	res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
	_ = tx.Respond(res)
	return false
}

func (k *Carrier) verify(req *sip.Request, header string) error {
	cred, err := digest.ParseCredentials(header)
	if err != nil {
		return err
	}
	k.mu.Lock()
	fresh := k.nonces[cred.Nonce]
	delete(k.nonces, cred.Nonce) // single use
	k.mu.Unlock()
	if !fresh {
		return errors.New("unknown or used nonce")
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: []string{cred.QOP}, Opaque: cred.Opaque}
	want, err := digest.Digest(chal, digest.Options{Method: req.Method.String(), URI: cred.URI, Username: k.User,
		Password: k.Password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil {
		return err
	}
	if cred.Username != k.User || want.Response != cred.Response {
		return errors.New("wrong credentials")
	}
	return nil
}
