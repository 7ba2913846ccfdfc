package media

import (
	"encoding/binary"
	"time"
)

// RFC 4733 telephone-event constants.
const (
	// DTMFInterval is how often SendDTMF sends an update for a running
	// event.
	DTMFInterval = 50 * time.Millisecond
	// DefaultDTMFDuration is the tone length SendDTMF uses for a duration
	// of 0.
	DefaultDTMFDuration = 100 * time.Millisecond
	// MaxDTMFDuration is the longest tone SendDTMF sends in one event.
	MaxDTMFDuration = 5 * time.Second
	// dtmfEndPackets is how many times the end of an event is sent.
	dtmfEndPackets = 3
	// dtmfVolume is the power level of injected events, in -dBm0.
	dtmfVolume = 10
	// eventPayloadSize is the size of a telephone-event payload.
	eventPayloadSize = 4
	// dtmfQueueLen is how many digits may wait per direction.
	dtmfQueueLen = 32
)

// DTMFEvent returns the RFC 4733 event code for a DTMF digit: 0-9, * (10),
// # (11), A-D or a-d (12-15), and ! for flash (16).
func DTMFEvent(digit byte) (event uint8, ok bool) {
	switch {
	case digit >= '0' && digit <= '9':
		return digit - '0', true
	case digit == '*':
		return 10, true
	case digit == '#':
		return 11, true
	case digit >= 'A' && digit <= 'D':
		return digit - 'A' + 12, true
	case digit >= 'a' && digit <= 'd':
		return digit - 'a' + 12, true
	case digit == '!':
		return 16, true
	}
	return 0, false
}

// DTMFDigit returns the digit for an RFC 4733 event code 0-16 (see
// DTMFEvent; A-D are upper case).
func DTMFDigit(event uint8) (digit byte, ok bool) {
	switch {
	case event <= 9:
		return '0' + event, true
	case event == 10:
		return '*', true
	case event == 11:
		return '#', true
	case event <= 15:
		return 'A' + event - 12, true
	case event == 16:
		return '!', true
	}
	return 0, false
}

// eventDetector turns a stream of telephone-event packets into one report
// per event. An event is identified by its SSRC and RTP timestamp (RFC 4733
// section 2.5.1.2): its start, updates and (usually three) end packets all
// carry the event's start timestamp.
type eventDetector struct {
	valid    bool
	reported bool
	ssrc, ts uint32
	event    uint8
}

// packet feeds one telephone-event packet to the detector and returns the
// digits to report now: usually none, one on the first end packet of an
// event, and two if a new event starts while an earlier one never showed an
// end (its end packets were lost) and this packet also ends the new one.
func (d *eventDetector) packet(ssrc, ts uint32, payload []byte) (digits [2]byte, n int) {
	if len(payload) < eventPayloadSize {
		return digits, 0
	}
	event, end := payload[0], payload[1]&0x80 != 0
	if !d.valid || d.ssrc != ssrc || d.ts != ts {
		if d.valid && !d.reported {
			if c, ok := DTMFDigit(d.event); ok {
				digits[n] = c
				n++
			}
		}
		*d = eventDetector{valid: true, ssrc: ssrc, ts: ts, event: event}
	}
	if end && !d.reported {
		d.reported = true
		if c, ok := DTMFDigit(event); ok {
			digits[n] = c
			n++
		}
	}
	return digits, n
}

// dtmfRequest is one digit waiting to be sent by a flow's DTMF sender.
type dtmfRequest struct {
	event uint8
	ticks int // number of DTMFInterval steps the tone lasts
}

// putEvent writes an RFC 4733 payload: event, E bit, volume, duration.
func putEvent(p []byte, event uint8, end bool, duration uint16) {
	p[0] = event
	p[1] = dtmfVolume
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], duration)
}

// SendDTMF queues a DTMF digit (0-9 * # A-D, ! for flash) to be sent as RFC
// 4733 telephone-event packets toward a side, with the payload type
// configured for it (DTMFA or DTMFB). It returns at once: a sender goroutine
// sends the digits of one side in order, each as a start packet (marker bit,
// duration 0), an update every DTMFInterval with the running duration, and
// three end packets, all with the event's start timestamp on the side's
// output timeline and sequence numbers continuous with relayed packets.
// Relayed audio toward that side keeps flowing meanwhile.
//
// duration is rounded to DTMFInterval steps (at least one); 0 means
// DefaultDTMFDuration, and it is capped at MaxDTMFDuration. It returns
// ErrNoDTMF if that side has no telephone-event payload type, ErrBadDigit,
// ErrDTMFQueueFull, or ErrClosed after Close.
func (b *Bridge) SendDTMF(toward Side, digit byte, duration time.Duration) error {
	f := &b.flows[toward.Other()]
	if f.dtmfOut == 0 {
		return ErrNoDTMF
	}
	event, ok := DTMFEvent(digit)
	if !ok {
		return ErrBadDigit
	}
	if duration <= 0 {
		duration = DefaultDTMFDuration
	}
	duration = min(duration, MaxDTMFDuration)
	ticks := max(1, int((duration+DTMFInterval/2)/DTMFInterval))

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if !f.senderRunning {
		f.senderRunning = true
		b.wg.Add(1)
		go f.sendLoop(b)
	}
	select {
	case f.dtmfQueue <- dtmfRequest{event: event, ticks: ticks}:
		return nil
	default:
		return ErrDTMFQueueFull
	}
}

// sendLoop sends queued digits toward f.out until the bridge closes.
func (f *flow) sendLoop(b *Bridge) {
	defer b.wg.Done()
	var pkt [HeaderSize + eventPayloadSize]byte
	for {
		select {
		case <-b.done:
			return
		case r := <-f.dtmfQueue:
			if !f.sendEvent(b.done, r, pkt[:]) {
				return
			}
			f.dtmfSent.Add(1)
		}
	}
}

// sendEvent sends one event; it returns false if the bridge closed first.
func (f *flow) sendEvent(done <-chan struct{}, r dtmfRequest, pkt []byte) bool {
	step := f.rate * int(DTMFInterval/time.Millisecond) / 1000
	t := f.clock.NewTicker(DTMFInterval)
	defer t.Stop()

	f.mu.Lock()
	ts := f.timelineNow(f.clock.Now())
	f.writeEvent(pkt, ts, r.event, true, false, 0)
	f.mu.Unlock()
	for i := 1; i <= r.ticks; i++ {
		select {
		case <-done:
			return false
		case <-t.C():
		}
		dur := uint16(min(i*step, 0xFFFF))
		f.mu.Lock()
		if i < r.ticks {
			f.writeEvent(pkt, ts, r.event, false, false, dur)
		} else {
			for range dtmfEndPackets {
				f.writeEvent(pkt, ts, r.event, false, true, dur)
			}
		}
		f.mu.Unlock()
	}
	return true
}

// writeEvent builds one telephone-event packet in pkt, numbers it in the
// output sequence and sends it. f.mu must be held.
func (f *flow) writeEvent(pkt []byte, ts uint32, event uint8, marker, end bool, dur uint16) {
	h := Header{Marker: marker, PayloadType: f.dtmfOut, SequenceNumber: f.nextSeq, Timestamp: ts, SSRC: f.ssrc}
	n, _ := h.MarshalTo(pkt)
	putEvent(pkt[n:], event, end, dur)
	// Take the sequence number from the relayed stream's future: the next
	// relayed packet comes after this one.
	f.nextSeq++
	f.seqOffset++
	f.advanceTimeline(ts+uint32(dur), ts+uint32(dur), f.clock.Now())
	if f.held.Load() {
		f.droppedHeld.Add(1)
		return
	}
	_ = f.out.WriteRTP(pkt[:n+eventPayloadSize])
}
