package media

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// chromeDTMFPT is the telephone-event payload type Chrome offers.
const chromeDTMFPT = 126

// testBrowser is a pion PeerConnection playing the agent's browser: it
// offers audio sendrecv (PCMU, PCMA and telephone-event at PT 126, like
// Chrome), sends RTP with any payload type on one SSRC through rawTrack,
// and queues the RTP it receives.
type testBrowser struct {
	t      testing.TB
	pc     *webrtc.PeerConnection
	track  *rawTrack
	got    chan *rtp.Packet
	tracks chan *webrtc.TrackRemote // with browserOptions.manual

	mu       sync.Mutex
	seq      uint16
	ts       uint32
	toneFrom int // samples of tone sent so far
}

type browserOptions struct {
	codecs []webrtc.RTPCodecParameters // audio codecs to offer; nil = PCMU, PCMA, telephone-event/126
	video  bool                        // offer video only
	manual bool                        // hand the remote track to tracks instead of reading it
}

func newTestBrowser(t testing.TB, o browserOptions) *testBrowser {
	t.Helper()
	m := &webrtc.MediaEngine{}
	codecs := o.codecs
	if codecs == nil {
		// Chromium's audio offer: 111 63 9 0 8 13 110 126 (63, RED, left out).
		codecs = []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}, PayloadType: 9},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/CN", ClockRate: 8000}, PayloadType: 13},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 48000}, PayloadType: 110},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 8000}, PayloadType: chromeDTMFPT},
		}
	}
	kind := webrtc.RTPCodecTypeAudio
	if o.video {
		kind = webrtc.RTPCodecTypeVideo
		codecs = []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96},
		}
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c, kind); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.LoggerFactory = pionLogs{discardLogger()}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBrowser{t: t, pc: pc, track: &rawTrack{kind: kind}, got: make(chan *rtp.Packet, 4096),
		tracks: make(chan *webrtc.TrackRemote, 1), seq: 1000, ts: 50000}
	t.Cleanup(func() { pc.Close() })
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := r.Read(buf); err != nil {
					return
				}
			}
		}()
		if o.manual {
			b.tracks <- tr
			return
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			select {
			case b.got <- p:
			default:
			}
		}
	})
	if _, err := pc.AddTransceiverFromTrack(b.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	return b
}

// offer creates the offer and waits for ICE gathering.
func (b *testBrowser) offer() string {
	b.t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		b.t.Fatal(err)
	}
	<-gathered
	return b.pc.LocalDescription().SDP
}

// answer applies the answer and waits for the connection.
func (b *testBrowser) answer(sdp string) {
	b.t.Helper()
	connected := make(chan struct{})
	var once sync.Once
	b.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		b.t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		b.t.Fatal("test browser did not connect")
	}
	b.track.waitBound(b.t)
}

// connect offers to w and applies the answer.
func (b *testBrowser) connect(w *WebRTC) (*BrowserLeg, string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leg, answer, err := w.NewBrowserLeg(ctx, b.offer())
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { leg.Close() })
	if _, ok := b.t.(*testing.T); ok {
		b.t.Logf("offer:\n%s\nanswer:\n%s", b.pc.LocalDescription().SDP, answer)
	}
	b.answer(answer)
	for deadline := time.Now().Add(10 * time.Second); leg.pc.ConnectionState() != webrtc.PeerConnectionStateConnected; {
		if time.Now().After(deadline) {
			b.t.Fatal("browser leg did not connect")
		}
		time.Sleep(time.Millisecond)
	}
	return leg, answer
}

// sendTone sends one 20 ms packet of 1 kHz μ-law tone with PT 0.
func (b *testBrowser) sendTone() {
	b.mu.Lock()
	defer b.mu.Unlock()
	payload := make([]byte, 160)
	Tone(payload, MuLaw, 1000, 8000, b.toneFrom)
	b.toneFrom += 160
	b.seq++
	b.ts += 160
	b.track.write(b.t, &rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: b.seq, Timestamp: b.ts}, payload)
}

// sendDigit sends an RFC 4733 event (start, update, three ends) with PT 126
// on the audio SSRC, as Chrome does.
func (b *testBrowser) sendDigit(event uint8) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ts += 160
	start := b.ts
	for i, ev := range []struct {
		end bool
		dur uint16
	}{{false, 0}, {false, 400}, {true, 800}, {true, 800}, {true, 800}} {
		b.seq++
		b.track.write(b.t, &rtp.Header{Version: 2, Marker: i == 0, PayloadType: chromeDTMFPT, SequenceNumber: b.seq, Timestamp: start},
			eventPayload(event, ev.end, 10, ev.dur))
	}
	b.ts += 800
}

// recv returns the next packet the browser received, or nil after timeout.
func (b *testBrowser) recv(timeout time.Duration) *rtp.Packet {
	select {
	case p := <-b.got:
		return p
	case <-time.After(timeout):
		return nil
	}
}

// rawTrack is a TrackLocal that writes packets with any payload type on its
// one SSRC, which TrackLocalStaticRTP cannot (it rewrites the PT).
type rawTrack struct {
	kind  webrtc.RTPCodecType
	mu    sync.Mutex
	w     webrtc.TrackLocalWriter
	ssrc  webrtc.SSRC
	bound chan struct{}
	once  sync.Once
}

var _ webrtc.TrackLocal = (*rawTrack)(nil)

func (r *rawTrack) boundCh() chan struct{} {
	r.once.Do(func() { r.bound = make(chan struct{}) })
	return r.bound
}

func (r *rawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codecs := ctx.CodecParameters()
	if len(codecs) == 0 {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	r.mu.Lock()
	r.w, r.ssrc = ctx.WriteStream(), ctx.SSRC()
	r.mu.Unlock()
	close(r.boundCh())
	return codecs[0], nil
}

func (r *rawTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (r *rawTrack) ID() string                            { return "mic" }
func (r *rawTrack) RID() string                           { return "" }
func (r *rawTrack) StreamID() string                      { return "browser" }
func (r *rawTrack) Kind() webrtc.RTPCodecType             { return r.kind }

func (r *rawTrack) waitBound(t testing.TB) {
	t.Helper()
	select {
	case <-r.boundCh():
	case <-time.After(5 * time.Second):
		t.Fatal("test browser track not bound")
	}
}

func (r *rawTrack) write(t testing.TB, h *rtp.Header, payload []byte) {
	r.mu.Lock()
	w, ssrc := r.w, r.ssrc
	r.mu.Unlock()
	h.SSRC = uint32(ssrc)
	if _, err := w.WriteRTP(h, payload); err != nil {
		t.Errorf("browser write: %v", err)
	}
}
