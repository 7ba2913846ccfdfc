package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// BrowserLeg is the WebRTC leg of one logged-in agent: a PeerConnection
// with one audio stream each way, kept for the whole session while calls
// come and go. It is a bridge Endpoint: a Bridge reads the browser's RTP
// (G.711 audio and RFC 4733 telephone-event, with the payload types the
// browser negotiated, see Audio and DTMF) and writes audio toward it.
//
// Between calls, while no bridge holds the leg, the leg itself reads and
// discards the browser's audio, so that pion's buffers never fill and the
// next call starts with fresh audio. Bridge.Start takes the leg from that
// reader and Bridge.Close gives it back, for any number of calls in turn.
//
// Toward the browser the leg keeps one continuous RTP stream across calls:
// sequence numbers and timestamps carry on from the previous bridge's
// (SRTP replay protection in the browser drops packets whose index goes
// back). Only audio is sent: telephone-event packets written to the leg
// (DTMF a carrier sends, or Bridge.SendDTMF toward it) are dropped and
// counted in LegStats.NotSent; the browser has no use for them.
//
// Done is closed when the PeerConnection fails (ICE failed) or closes (the
// browser hung up DTLS); the leg then closes itself. WriteRTP, Stats,
// Audio, DTMF, Done and Close are safe for concurrent use.
type BrowserLeg struct {
	w     *WebRTC
	pc    *webrtc.PeerConnection
	local *webrtc.TrackLocalStaticRTP
	ssrc  uint32
	audio Format
	dtmf  *Format
	log   *slog.Logger
	clock Clock

	bridged     atomic.Bool
	interrupted atomic.Bool
	closing     atomic.Bool
	remote      atomic.Pointer[webrtc.TrackRemote] // the browser's audio; nil until it arrives

	// mu guards the reader state below and the writes of remote and
	// interrupted; a change wakes goroutines waiting for a track by closing
	// wake.
	mu        sync.Mutex
	wake      chan struct{}
	closed    bool
	drainDone chan struct{} // closed when the discarding reader ends; nil if none runs

	wg        sync.WaitGroup // the discarding reader and the RTCP readers
	done      chan struct{}
	doneOnce  sync.Once
	closeOnce sync.Once
	closeErr  error

	// wmu orders writes toward the browser and guards out and seq.
	wmu sync.Mutex
	wh  Header
	out rtp.Packet
	seq outSequence

	packetsIn, bytesIn   atomic.Uint64
	packetsOut, bytesOut atomic.Uint64
	dropped, sendErrors  atomic.Uint64
	discarded, notSent   atomic.Uint64
	lastReceived         atomic.Int64 // unix nanoseconds, 0 = never
}

// NewBrowserLeg answers a browser's offer: it creates a PeerConnection with
// a local audio track in the first of PCMU and PCMA that the offer lists
// (the offerer's order), applies the offer, and returns the leg with the
// complete answer once ICE gathering finished (no trickle ICE). ctx bounds
// the gathering.
//
// The answer's audio stream lists that one codec and, if offered,
// telephone-event/8000, both with the offer's payload types. The offer
// must be WebRTC (UDP/TLS/RTP/SAVPF) with an audio stream: errors wrap
// ErrBadSDP (malformed, or not WebRTC), ErrNoAudio or ErrNoCommonCodec;
// after Close, ErrClosed.
func (w *WebRTC) NewBrowserLeg(ctx context.Context, offerSDP string) (leg *BrowserLeg, answerSDP string, err error) {
	offer, err := ParseSDP([]byte(offerSDP))
	if err != nil {
		return nil, "", fmt.Errorf("media: browser offer: %w", err)
	}
	if !strings.HasPrefix(offer.Proto, "UDP/TLS/RTP/SAVP") {
		return nil, "", fmt.Errorf("media: browser offer: %w", &SDPError{Msg: "audio stream is not DTLS-SRTP (UDP/TLS/RTP/SAVPF)"})
	}
	audio, dtmf, err := Negotiate(offer.Formats, []string{NamePCMU, NamePCMA})
	if err != nil {
		return nil, "", fmt.Errorf("media: browser offer: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}

	capability := webrtc.RTPCodecCapability{MimeType: "audio/" + audio.Name, ClockRate: G711Rate}
	local, err := webrtc.NewTrackLocalStaticRTP(capability, "audio", "callgate")
	if err != nil {
		return nil, "", fmt.Errorf("media: local track: %w", err)
	}
	cert, err := w.certificate()
	if err != nil {
		return nil, "", err
	}
	pc, err := w.api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return nil, "", fmt.Errorf("media: new peer connection: %w", err)
	}
	l := &BrowserLeg{
		w:     w,
		pc:    pc,
		local: local,
		log:   w.log,
		clock: w.clock,
		wake:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if !w.add(l) {
		_ = pc.Close()
		return nil, "", ErrClosed
	}
	pc.OnTrack(l.onTrack)
	pc.OnConnectionStateChange(l.onState)
	fail := func(err error) (*BrowserLeg, string, error) {
		_ = l.Close()
		return nil, "", err
	}

	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return fail(fmt.Errorf("media: browser offer: %w", err))
	}
	sender, err := pc.AddTrack(local)
	if err != nil {
		return fail(fmt.Errorf("media: add audio track: %w", err))
	}
	// Answer with the chosen codec only, so that the browser sends what
	// Audio reports.
	prefs := []webrtc.RTPCodecParameters{{RTPCodecCapability: capability, PayloadType: webrtc.PayloadType(audio.PT)}}
	if dtmf != nil {
		events := dtmf.Fmtp // the offer's, e.g. 0-15; pion writes it back as is
		if !isEventList(events) {
			events = ""
		}
		prefs = append(prefs, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: G711Rate, SDPFmtpLine: events},
			PayloadType:        webrtc.PayloadType(dtmf.PT),
		})
	}
	for _, t := range pc.GetTransceivers() {
		if t.Sender() == sender {
			if err := t.SetCodecPreferences(prefs); err != nil {
				return fail(fmt.Errorf("media: codec preferences: %w", err))
			}
		}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("media: create answer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(fmt.Errorf("media: set answer: %w", err))
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(fmt.Errorf("media: ice gathering: %w", ctx.Err()))
	}
	answerSDP = pc.LocalDescription().SDP
	if l.audio, l.dtmf, err = answerFormats(answerSDP); err != nil {
		return fail(err)
	}
	if enc := sender.GetParameters().Encodings; len(enc) > 0 {
		l.ssrc = uint32(enc[0].SSRC)
	}
	l.mu.Lock()
	if !l.closed {
		l.wg.Add(1)
		go l.drainRTCP(sender)
	}
	l.mu.Unlock()
	l.startDrain()
	return l, answerSDP, nil
}

// answerFormats reads the audio and telephone-event formats of our answer.
func answerFormats(answer string) (audio Format, dtmf *Format, err error) {
	desc, err := ParseSDP([]byte(answer))
	if err != nil {
		return Format{}, nil, fmt.Errorf("media: own answer: %w", err)
	}
	if desc.Port == 0 {
		return Format{}, nil, fmt.Errorf("media: own answer: %w", ErrNoAudio)
	}
	audio, dtmf, err = Negotiate(desc.Formats, []string{NamePCMU, NamePCMA})
	if err != nil {
		return Format{}, nil, fmt.Errorf("media: own answer: %w", err)
	}
	return audio, dtmf, nil
}

// Audio returns the negotiated audio format as the browser sees it: PCMU or
// PCMA with the offer's payload type, the one packets read from the leg
// carry and the one a bridge must write toward it.
func (l *BrowserLeg) Audio() Format { return l.audio }

// DTMF returns the negotiated telephone-event/8000 format, with the
// browser's payload type (Chrome offers 126), or nil if the browser offered
// none. The caller may modify the result.
func (l *BrowserLeg) DTMF() *Format {
	if l.dtmf == nil {
		return nil
	}
	d := *l.dtmf
	return &d
}

// SSRC returns the SSRC of the leg's audio toward the browser.
func (l *BrowserLeg) SSRC() uint32 { return l.ssrc }

// Done returns a channel that is closed when the PeerConnection failed or
// closed, or Close was called.
func (l *BrowserLeg) Done() <-chan struct{} { return l.done }

// Stats returns a snapshot of the leg's counters. PacketsIn counts every
// RTP packet read from the browser, Discarded those read between calls;
// PacketsDropped counts packets pion delivered that were not valid RTP of a
// negotiated payload type; NotSent counts telephone-event packets not sent
// to the browser. NoRemote and Relatches stay 0.
func (l *BrowserLeg) Stats() LegStats {
	s := LegStats{
		PacketsIn:      l.packetsIn.Load(),
		BytesIn:        l.bytesIn.Load(),
		PacketsOut:     l.packetsOut.Load(),
		BytesOut:       l.bytesOut.Load(),
		PacketsDropped: l.dropped.Load(),
		SendErrors:     l.sendErrors.Load(),
		Discarded:      l.discarded.Load(),
		NotSent:        l.notSent.Load(),
	}
	if ns := l.lastReceived.Load(); ns != 0 {
		s.LastReceived = time.Unix(0, ns)
	}
	return s
}

// Close closes the PeerConnection and waits for the leg's goroutines. A
// bridge still holding the leg stops relaying from it; close the bridge
// too. Calling Close again returns the first call's result. Never call it
// from a pion callback: it waits for them.
func (l *BrowserLeg) Close() error {
	l.closeOnce.Do(func() {
		l.closing.Store(true)
		l.mu.Lock()
		l.closed = true
		l.wakeLocked()
		l.mu.Unlock()
		l.closeErr = l.pc.Close()
		l.wg.Wait()
		l.doneOnce.Do(func() { close(l.done) })
		l.w.forget(l)
	})
	return l.closeErr
}

// onState is pion's connection state callback. It must not close the
// PeerConnection itself (pion #2404): the leg closes on another goroutine.
func (l *BrowserLeg) onState(s webrtc.PeerConnectionState) {
	switch s {
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		if l.closing.Load() {
			return
		}
		l.log.Info("browser leg ended", "state", s.String())
		l.doneOnce.Do(func() { close(l.done) })
		go l.Close()
	default:
		l.log.Debug("browser leg state", "state", s.String())
	}
}

// onTrack is pion's callback for a new remote track: the first audio track
// becomes the leg's input; any other is read and thrown away.
func (l *BrowserLeg) onTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.wg.Add(1)
	go l.drainRTCP(r)
	if t.Kind() != webrtc.RTPCodecTypeAudio || l.remote.Load() != nil {
		l.log.Warn("browser sent an extra track; discarding it", "kind", t.Kind().String(), "ssrc", uint32(t.SSRC()))
		l.wg.Add(1)
		go l.discardTrack(t)
		return
	}
	if l.interrupted.Load() {
		_ = t.SetReadDeadline(time.Unix(1, 0))
	}
	l.remote.Store(t)
	l.wakeLocked()
}

// wakeLocked wakes the goroutines waiting in waitTrack. l.mu must be held.
func (l *BrowserLeg) wakeLocked() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// rtcpReader is what RTPSender and RTPReceiver offer to read RTCP.
type rtcpReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// rtcpDrainSize is the buffer of the goroutines that discard the browser's
// RTCP, two per leg for its whole life. A browser's compound reports (SR or
// RR, SDES) take 100-200 bytes; a larger packet is read in part and thrown
// away like the others.
const rtcpDrainSize = 512

// drainRTCP reads RTCP until the PeerConnection closes, so that pion
// processes it (reports) and its buffers never fill.
func (l *BrowserLeg) drainRTCP(r rtcpReader) {
	defer l.wg.Done()
	buf := make([]byte, rtcpDrainSize)
	for {
		if _, _, err := r.Read(buf); err != nil && !errors.Is(err, io.ErrShortBuffer) {
			return
		}
	}
}

// discardTrack reads a track the leg does not use until it ends.
func (l *BrowserLeg) discardTrack(t *webrtc.TrackRemote) {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil && !errors.Is(err, webrtc.ErrCodecNotFound) {
			return
		}
	}
}

// readRTP implements Endpoint: it reads the browser's next RTP packet,
// waiting for the browser's track if it has not arrived yet.
func (l *BrowserLeg) readRTP(b []byte, h *Header) (n, payloadOffset int, at time.Time, err error) {
	for {
		if l.interrupted.Load() {
			return 0, 0, time.Time{}, os.ErrDeadlineExceeded
		}
		t := l.remote.Load()
		if t == nil {
			if err := l.waitTrack(); err != nil {
				return 0, 0, time.Time{}, err
			}
			continue
		}
		n, _, err := t.Read(b)
		if err != nil {
			switch {
			case l.closing.Load():
				return 0, 0, time.Time{}, net.ErrClosed
			case l.interrupted.Load():
				return 0, 0, time.Time{}, os.ErrDeadlineExceeded
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe):
				// The track ended (the connection is closing): wait for
				// Close or a new track.
				l.dropTrack(t)
				continue
			case errors.Is(err, webrtc.ErrCodecNotFound):
				l.dropped.Add(1)
				continue
			}
			return 0, 0, time.Time{}, err
		}
		if n < HeaderSize || n >= len(b) {
			l.dropped.Add(1)
			continue
		}
		off, err := h.Unmarshal(b[:n])
		if err != nil {
			l.dropped.Add(1)
			continue
		}
		now := l.clock.Now()
		l.packetsIn.Add(1)
		l.bytesIn.Add(uint64(n))
		l.lastReceived.Store(now.UnixNano())
		return n, off, now, nil
	}
}

// waitTrack waits until the browser's track is there, the leg is
// interrupted or it is closed.
func (l *BrowserLeg) waitTrack() error {
	l.mu.Lock()
	for {
		switch {
		case l.closed:
			l.mu.Unlock()
			return net.ErrClosed
		case l.interrupted.Load():
			l.mu.Unlock()
			return os.ErrDeadlineExceeded
		case l.remote.Load() != nil:
			l.mu.Unlock()
			return nil
		}
		wake := l.wake
		l.mu.Unlock()
		<-wake
		l.mu.Lock()
	}
}

// dropTrack forgets t after it ended.
func (l *BrowserLeg) dropTrack(t *webrtc.TrackRemote) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remote.CompareAndSwap(t, nil)
}

// interruptRead implements Endpoint.
func (l *BrowserLeg) interruptRead() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.interrupted.Store(true)
	if t := l.remote.Load(); t != nil {
		_ = t.SetReadDeadline(time.Unix(1, 0))
	}
	l.wakeLocked()
}

// resumeRead implements Endpoint.
func (l *BrowserLeg) resumeRead() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.interrupted.Store(false)
	if t := l.remote.Load(); t != nil {
		_ = t.SetReadDeadline(time.Time{})
	}
}

// claim implements Endpoint: it stops the discarding reader, and starts a
// new segment of the stream toward the browser.
func (l *BrowserLeg) claim() bool {
	if !l.bridged.CompareAndSwap(false, true) {
		return false
	}
	l.mu.Lock()
	d := l.drainDone
	l.drainDone = nil
	l.mu.Unlock()
	if d != nil {
		l.interruptRead()
		<-d
	}
	l.wmu.Lock()
	l.seq.going = false
	l.wmu.Unlock()
	return true
}

// release implements Endpoint: the leg goes back to discarding.
func (l *BrowserLeg) release() {
	l.resumeRead()
	l.bridged.Store(false)
	l.startDrain()
}

// startDrain starts the discarding reader unless it runs or the leg is
// closed.
func (l *BrowserLeg) startDrain() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.drainDone != nil {
		return
	}
	d := make(chan struct{})
	l.drainDone = d
	l.wg.Add(1)
	go l.drain(d)
}

// drain reads and discards the browser's RTP until claim interrupts it or
// the leg closes.
func (l *BrowserLeg) drain(done chan struct{}) {
	defer l.wg.Done()
	defer close(done)
	// Only a leg between calls needs the buffer: a bridge reads into its own.
	buf := l.w.drainBufs.Get().(*[]byte)
	defer l.w.drainBufs.Put(buf)
	var h Header
	for {
		_, _, _, err := l.readRTP(*buf, &h)
		switch {
		case err == nil:
			l.discarded.Add(1)
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed):
			return
		}
		// Some other read error: back off rather than spin.
		select {
		case <-l.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WriteRTP sends one audio packet to the browser. Its payload type must be
// Audio's; other packets (telephone-event) are dropped, counted in NotSent,
// and nil is returned. The leg renumbers the packet into its own continuous
// stream and sets its SSRC; pkt is not modified. Before the connection is
// up, pion drops the packet.
func (l *BrowserLeg) WriteRTP(pkt []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	h := &l.wh
	off, err := h.Unmarshal(pkt)
	if err != nil {
		l.sendErrors.Add(1)
		return err
	}
	end := len(pkt) - int(h.PaddingSize)
	seq, ts, mark, send := l.seq.next(h, end-off, h.PayloadType == l.audio.PT, l.clock.Now(), G711Rate)
	if !send {
		l.notSent.Add(1)
		return nil
	}
	l.out.Header = rtp.Header{
		Version:        RTPVersion,
		Marker:         mark,
		PayloadType:    h.PayloadType,
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           l.ssrc,
	}
	l.out.Payload = pkt[off:end]
	err = l.local.WriteRTP(&l.out)
	l.out.Payload = nil
	if err != nil {
		l.sendErrors.Add(1)
		return err
	}
	l.packetsOut.Add(1)
	l.bytesOut.Add(uint64(HeaderSize + end - off))
	return nil
}
