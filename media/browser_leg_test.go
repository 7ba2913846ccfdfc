package media

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// discardLogger is a logger for tests; CALLGATE_TEST_LOG=1 prints debug.
func discardLogger() *slog.Logger {
	if os.Getenv("CALLGATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newTestWebRTC(t testing.TB, cfg WebRTCConfig) *WebRTC {
	t.Helper()
	cfg.Loopback = true
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	w, err := NewWebRTC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// carrier is a carrier trunk's RTP: a plain UDP socket and the Leg that
// faces it.
type carrier struct {
	peer *peer
	leg  *Leg
}

func newCarrier(t testing.TB, ports *Ports) carrier {
	t.Helper()
	c := carrier{peer: newPeer(t), leg: newTestLeg(t, ports)}
	c.leg.SetRemote(c.peer.addr())
	return c
}

var (
	carrierAudio = Format{PT: 0, Name: NamePCMU, Rate: 8000, Channels: 1}
	carrierDTMF  = Format{PT: 101, Name: NameTelephoneEvent, Rate: 8000, Channels: 1, Fmtp: "0-16"}
)

// call bridges the browser leg (side A) with a carrier leg (side B) the way
// the sip package does.
type call struct {
	br     *Bridge
	mu     sync.Mutex
	digits []byte
}

func startCall(t testing.TB, bl *BrowserLeg, c carrier) *call {
	t.Helper()
	cfg, err := NewBridgeConfig(bl.Audio(), bl.DTMF(), carrierAudio, &carrierDTMF)
	if err != nil {
		t.Fatal(err)
	}
	k := &call{}
	cfg.OnDTMF = func(from Side, d byte) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if from == SideA {
			k.digits = append(k.digits, d)
		}
	}
	k.br = NewBridge(bl, c.leg, cfg)
	if err := k.br.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.br.Close() })
	return k
}

func (k *call) gotDigits() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return string(k.digits)
}

// pump sends tone from the browser every 5 ms until stop is closed.
func pump(b *testBrowser, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				b.sendTone()
			}
		}
	}()
	return &wg
}

// expectTone reads n audio packets at the carrier and checks PT, SSRC,
// continuity and the 1 kHz tone in them. It skips telephone-event packets.
func expectTone(t *testing.T, c carrier, n int) {
	t.Helper()
	var samples []int16
	var prev Header
	for got := 0; got < n; {
		h, pl := c.peer.mustRecv()
		if h.PayloadType == carrierDTMF.PT {
			continue
		}
		if h.PayloadType != carrierAudio.PT || h.SSRC != c.leg.SSRC() || len(pl) != 160 {
			t.Fatalf("carrier got %+v, %d bytes", h, len(pl))
		}
		if got > 0 && h.SequenceNumber != prev.SequenceNumber+1 {
			t.Fatalf("carrier seq %d after %d", h.SequenceNumber, prev.SequenceNumber)
		}
		prev = h
		got++
		for _, b := range pl {
			samples = append(samples, MuLawDecode(b))
		}
	}
	on, off := ToneLevel(samples, 1000, 8000), ToneLevel(samples, 1500, 8000)
	if on < 6000 || off > 200 {
		t.Fatalf("tone level at 1 kHz %.0f, at 1.5 kHz %.0f; want about 8000 and 0", on, off)
	}
}

// carrierSends sends n packets of 440 Hz A-side-bound μ-law audio from the
// carrier and checks that the browser gets them as one continuous stream.
// It returns the last packet's sequence number and timestamp.
func carrierSends(t *testing.T, b *testBrowser, c carrier, n int, ssrc uint32) (lastSeq uint16, lastTS uint32) {
	t.Helper()
	var samples []int16
	for i := range n {
		pl := make([]byte, 160)
		Tone(pl, MuLaw, 440, 8000, 160*i)
		c.peer.send(c.leg.LocalAddr(), rtpPacket(0, i == 0, uint16(7000+i), uint32(123456+160*i), ssrc, pl))
		p := b.recv(3 * time.Second)
		if p == nil {
			t.Fatalf("browser got nothing for carrier packet %d", i)
		}
		if p.PayloadType != 0 || len(p.Payload) != 160 {
			t.Fatalf("browser got %v", p.Header)
		}
		if i > 0 && (p.SequenceNumber != lastSeq+1 || p.Timestamp != lastTS+160) {
			t.Fatalf("browser packet %d: seq %d ts %d after %d %d", i, p.SequenceNumber, p.Timestamp, lastSeq, lastTS)
		}
		lastSeq, lastTS = p.SequenceNumber, p.Timestamp
		for _, x := range p.Payload {
			samples = append(samples, MuLawDecode(x))
		}
	}
	if on, off := ToneLevel(samples, 440, 8000), ToneLevel(samples, 1000, 8000); on < 6000 || off > 200 {
		t.Fatalf("browser tone level at 440 Hz %.0f, at 1 kHz %.0f", on, off)
	}
	return lastSeq, lastTS
}

func TestBrowserLegCallsAttachAndDetach(t *testing.T) {
	checkGoroutines(t)
	w := newTestWebRTC(t, WebRTCConfig{PortMin: 42000, PortMax: 42999})
	b := newTestBrowser(t, browserOptions{})
	bl, answer := b.connect(w)

	// The answer carries only PCMU and the browser's telephone-event PT.
	if !strings.Contains(answer, "m=audio 9 UDP/TLS/RTP/SAVPF 0 126\r\n") {
		t.Fatalf("answer audio line:\n%s", answer)
	}
	if a := bl.Audio(); a.PT != 0 || a.Name != NamePCMU || a.Rate != 8000 {
		t.Fatalf("Audio() = %+v", a)
	}
	if d := bl.DTMF(); d == nil || d.PT != chromeDTMFPT || d.Name != NameTelephoneEvent || d.Rate != 8000 {
		t.Fatalf("DTMF() = %+v", d)
	}
	t.Logf("answer audio: %+v dtmf: %+v", bl.Audio(), *bl.DTMF())

	ports := newTestPorts(t)
	stop := make(chan struct{})
	pumping := pump(b, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		pumping.Wait()
	}()

	// Before any call the leg reads and discards.
	eventually(t, "discarded audio", func() bool { return bl.Stats().Discarded > 10 })

	// Call 1.
	c1 := newCarrier(t, ports)
	k1 := startCall(t, bl, c1)
	expectTone(t, c1, 25)
	seq1, ts1 := carrierSends(t, b, c1, 10, 0x1111)
	b.sendDigit(5)
	// The digit reaches the carrier with its PT and the carrier leg's SSRC.
	var ends int
	for ends < 3 {
		h, pl := c1.peer.mustRecv()
		if h.PayloadType != carrierDTMF.PT {
			continue
		}
		if h.SSRC != c1.leg.SSRC() || len(pl) != 4 || pl[0] != 5 {
			t.Fatalf("carrier dtmf %+v %x", h, pl)
		}
		if pl[1]&0x80 != 0 {
			ends++
		}
	}
	eventually(t, "OnDTMF", func() bool { return k1.gotDigits() == "5" })
	// DTMF from the carrier is not sent to the browser.
	c1.peer.send(c1.leg.LocalAddr(), rtpPacket(101, true, 7100, 999999, 0x1111, eventPayload(1, false, 10, 0)))
	eventually(t, "NotSent", func() bool { return bl.Stats().NotSent == 1 })

	// Detach: the carrier hears nothing more, the leg discards again.
	if err := k1.br.Close(); err != nil {
		t.Fatal(err)
	}
	for c1.peer.recv(50*time.Millisecond) != nil {
	}
	before := bl.Stats().Discarded
	eventually(t, "discarding after the call", func() bool { return bl.Stats().Discarded > before+10 })
	if c1.peer.recv(50*time.Millisecond) != nil {
		t.Fatal("carrier 1 still gets audio after its bridge closed")
	}
	time.Sleep(100 * time.Millisecond) // time passes between calls

	// Call 2 on the same browser leg with a new carrier leg.
	c2 := newCarrier(t, ports)
	k2 := startCall(t, bl, c2)
	expectTone(t, c2, 25)
	// The browser sees one stream: the second call's audio continues the
	// sequence (SRTP replay protection would drop a jump back) and moves
	// the timestamp on by at least the time between the calls.
	c2.peer.send(c2.leg.LocalAddr(), rtpPacket(0, false, 300, 777, 0x2222, make([]byte, 160)))
	p := b.recv(3 * time.Second)
	if p == nil {
		t.Fatal("browser got nothing in call 2")
	}
	if p.SequenceNumber != seq1+1 || !p.Marker || int32(p.Timestamp-ts1) < 160+800 {
		t.Fatalf("call 2 first packet seq %d ts %d marker %v; call 1 ended at seq %d ts %d", p.SequenceNumber, p.Timestamp, p.Marker, seq1, ts1)
	}
	carrierSends(t, b, c2, 10, 0x2222)
	b.sendDigit(11)
	eventually(t, "OnDTMF in call 2", func() bool { return k2.gotDigits() == "#" })
	if k1.gotDigits() != "5" {
		t.Fatalf("call 1 got digits %q after it ended", k1.gotDigits())
	}

	// The leg counts a packet after its write returns: the browser may read
	// the last one first.
	eventually(t, "21 packets counted out", func() bool { return bl.Stats().PacketsOut >= 21 })
	st := bl.Stats()
	if st.PacketsIn == 0 || st.PacketsOut != 21 || st.NotSent != 1 || st.PacketsDropped != 0 || st.SendErrors != 0 || st.LastReceived.IsZero() {
		t.Fatalf("stats %+v", st)
	}
	close(stop)
	pumping.Wait()

	// The browser leg outlives its bridge; closing it ends a running one's
	// reads quietly.
	if err := bl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bl.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bl.Done():
	default:
		t.Fatal("Done open after Close")
	}
	if err := k2.br.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserLegDoneWhenBrowserHangsUp(t *testing.T) {
	checkGoroutines(t)
	w := newTestWebRTC(t, WebRTCConfig{})
	b := newTestBrowser(t, browserOptions{})
	bl, _ := b.connect(w)
	ports := newTestPorts(t)
	c := newCarrier(t, ports)
	k := startCall(t, bl, c)
	b.sendTone()
	c.peer.mustRecv()

	if err := b.pc.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bl.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the browser closed the connection")
	}
	if err := k.br.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bl.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWebRTCMuxAndClose(t *testing.T) {
	checkGoroutines(t)
	w := newTestWebRTC(t, WebRTCConfig{MuxAddr: "127.0.0.1:0"})
	_, p, _ := strings.Cut(w.mux.GetListenAddresses()[0].String(), ":")
	b1, b2 := newTestBrowser(t, browserOptions{}), newTestBrowser(t, browserOptions{})
	l1, a1 := b1.connect(w)
	_, a2 := b2.connect(w)
	for _, a := range []string{a1, a2} {
		if !strings.Contains(a, " 127.0.0.1 "+p+" typ host") {
			t.Fatalf("answer without the mux port %s:\n%s", p, a)
		}
	}
	ports := newTestPorts(t)
	c := newCarrier(t, ports)
	k := startCall(t, l1, c)
	b1.sendTone()
	c.peer.mustRecv()
	k.br.Close()

	// Close closes the legs and the socket; twice is fine.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l1.Done():
	default:
		t.Fatal("leg open after WebRTC.Close")
	}
	if _, _, err := w.NewBrowserLeg(context.Background(), b1.pc.LocalDescription().SDP); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewBrowserLeg after Close: %v", err)
	}
}

func TestNewBrowserLegRejects(t *testing.T) {
	checkGoroutines(t)
	w := newTestWebRTC(t, WebRTCConfig{})
	ctx := context.Background()

	for _, garbage := range []string{"", "hello", "v=0\r\nm=audio x\r\n"} {
		if _, _, err := w.NewBrowserLeg(ctx, garbage); !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoAudio) {
			t.Errorf("%q: %v", garbage, err)
		}
	}
	plain := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	if _, _, err := w.NewBrowserLeg(ctx, plain); !errors.Is(err, ErrBadSDP) {
		t.Errorf("plain RTP offer: %v", err)
	}

	video := newTestBrowser(t, browserOptions{video: true})
	if _, _, err := w.NewBrowserLeg(ctx, video.offer()); !errors.Is(err, ErrNoAudio) {
		t.Errorf("video-only offer: %v", err)
	}

	opus := newTestBrowser(t, browserOptions{codecs: []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
	}})
	if _, _, err := w.NewBrowserLeg(ctx, opus.offer()); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("opus-only offer: %v", err)
	}

	b := newTestBrowser(t, browserOptions{})
	expired, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := w.NewBrowserLeg(expired, b.offer()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	w.mu.Lock()
	n := len(w.legs)
	w.mu.Unlock()
	if n != 0 {
		t.Errorf("%d legs left after failed NewBrowserLeg", n)
	}
}

func TestBrowserLegAnswersPCMAWhenOfferedFirst(t *testing.T) {
	checkGoroutines(t)
	w := newTestWebRTC(t, WebRTCConfig{})
	b := newTestBrowser(t, browserOptions{codecs: []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
	}})
	bl, answer := b.connect(w)
	if a := bl.Audio(); a.Name != NamePCMA || a.PT != 8 || bl.DTMF() != nil {
		t.Fatalf("Audio %+v DTMF %+v", a, bl.DTMF())
	}
	if !strings.Contains(answer, "m=audio 9 UDP/TLS/RTP/SAVPF 8\r\n") {
		t.Fatalf("answer:\n%s", answer)
	}
	if _, err := NewBridgeConfig(bl.Audio(), bl.DTMF(), carrierAudio, &carrierDTMF); !errors.Is(err, ErrCodecMismatch) {
		t.Fatalf("PCMA browser with PCMU carrier: %v", err)
	}
}

func TestNewWebRTCConfig(t *testing.T) {
	for _, cfg := range []WebRTCConfig{
		{PortMin: 5000},
		{PortMin: 6000, PortMax: 5000},
		{PortMin: -1, PortMax: 10},
		{PortMax: 70000, PortMin: 1},
		{PortMin: 5000, PortMax: 6000, MuxAddr: "127.0.0.1:0"},
		{MuxAddr: "localhost:3478"},
		{NAT1To1: []string{"example.com"}},
		{NAT1To1: []string{"203.0.113.1/nope"}},
	} {
		if w, err := NewWebRTC(cfg); err == nil {
			w.Close()
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestWebRTCNAT1To1(t *testing.T) {
	checkGoroutines(t)
	w := newTestWebRTC(t, WebRTCConfig{NAT1To1: []string{"203.0.113.7"}})
	b := newTestBrowser(t, browserOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bl, answer, err := w.NewBrowserLeg(ctx, b.offer())
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	if !strings.Contains(answer, " 203.0.113.7 ") || strings.Contains(answer, " 127.0.0.1 ") {
		t.Fatalf("answer does not advertise only the public address:\n%s", answer)
	}
}

func TestOutSequence(t *testing.T) {
	var s outSequence
	now := time.Unix(1000, 0)
	h := func(pt uint8, seq uint16, ts uint32) *Header {
		return &Header{PayloadType: pt, SequenceNumber: seq, Timestamp: ts}
	}
	type out struct {
		seq       uint16
		ts        uint32
		mark, ok_ bool
	}
	step := func(hd *Header, audio bool) out {
		seq, ts, m, ok := s.next(hd, 160, audio, now, 8000)
		return out{seq, ts, m, ok}
	}
	// Segment 1 passes through unchanged.
	if o := step(h(0, 100, 1000), true); o != (out{100, 1000, false, true}) {
		t.Fatal(o)
	}
	// A dropped telephone-event packet leaves no gap.
	if o := step(h(101, 101, 1160), false); o.ok_ {
		t.Fatal(o)
	}
	if o := step(h(0, 102, 1160), true); o != (out{101, 1160, false, true}) {
		t.Fatal(o)
	}
	// Reordered late packet keeps its place.
	if o := step(h(0, 99, 840), true); o.seq != 98 || o.ts != 840 {
		t.Fatal(o)
	}
	// Segment 2 (a new bridge) starts anywhere; the output continues, one
	// second later.
	s.going = false
	now = now.Add(time.Second)
	if o := step(h(0, 50000, 7), true); o != (out{102, 1160 + 8000, true, true}) {
		t.Fatal(o)
	}
	if o := step(h(0, 50001, 167), true); o != (out{103, 1160 + 8160, false, true}) {
		t.Fatal(o)
	}
	// A segment starting at once never goes back before the media sent.
	s.going = false
	if o := step(h(0, 1, 1), true); o.seq != 104 || o.ts != 1160+8320 {
		t.Fatal(o)
	}
}

func TestToneLevel(t *testing.T) {
	pl := make([]byte, 320)
	Tone(pl, ALaw, 1000, 8000, 0)
	s := make([]int16, len(pl))
	for i, b := range pl {
		s[i] = ALawDecode(b)
	}
	if l := ToneLevel(s, 1000, 8000); l < 7800 || l > 8200 {
		t.Fatalf("1 kHz level %.0f", l)
	}
	if l := ToneLevel(s, 2000, 8000); l > 100 {
		t.Fatalf("2 kHz level %.0f", l)
	}
	if ToneLevel(nil, 1000, 8000) != 0 || ToneLevel(s, 1000, 0) != 0 {
		t.Fatal("degenerate input")
	}
}
