package media

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// relayBufferSize is the size of each relay goroutine's packet buffer. A
// datagram that fills it is dropped as possibly truncated.
const relayBufferSize = 2048

// Bridge relays RTP between two endpoints (legs), one goroutine per
// direction: two *Leg toward SIP peers, or a *BrowserLeg and a *Leg. Each
// goroutine reads into its own preallocated buffer, rewrites the header in
// place and sends the same buffer on: no allocation per packet, and no lock
// shared between the directions. A direction whose input is a *Leg created
// WithRelay has no goroutine: its Relay's workers read the leg and run the
// same per-packet code (relay.go).
//
// Per direction, the output stream is the output leg's own: SSRC is the
// output leg's SSRC; sequence numbers continue the output sequence (they
// start random, keep the input's gaps and order, and stay continuous when the
// input stream changes SSRC or jumps, e.g. after a re-INVITE, or when packets
// are dropped); timestamps are shifted by an offset that is recomputed on an
// input change so that the output timeline advances with wall-clock time
// (the first packet after a change carries the marker bit). Payload types
// are mapped by the direction's PTMap; unmapped packets are dropped and
// counted.
//
// The caller owns the legs: Close stops the relay without closing them, and
// they may then join another bridge.
type Bridge struct {
	legs  [2]Endpoint
	flows [2]flow // indexed by input side: flows[SideA] relays A to B
	log   *slog.Logger

	mu        sync.Mutex // guards started, closed and starting DTMF senders
	started   bool
	closed    bool
	closing   atomic.Bool
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// BridgeStats is a snapshot of a bridge's counters, per direction.
type BridgeStats struct {
	AtoB, BtoA FlowStats
}

// FlowStats counts what one direction of a bridge did with the packets its
// input leg delivered.
type FlowStats struct {
	Relayed     uint64 // packets sent on, telephone-event included
	DroppedPT   uint64 // packets whose payload type the PTMap does not map
	DroppedHeld uint64 // packets not sent because the output side is held
	Resyncs     uint64 // input stream changes: new SSRC or sequence jump
	DTMFIn      uint64 // DTMF events reported to OnDTMF
	DTMFSent    uint64 // digits sent by SendDTMF
}

// flow is one direction of a bridge.
type flow struct {
	from     Side
	in, out  Endpoint
	pt       PTMap
	dtmfIn   uint8 // telephone-event PT of the input leg, 0 = none
	dtmfOut  uint8 // telephone-event PT of the output leg, 0 = none
	rate     int
	clock    Clock
	onDTMF   func(Side, byte)
	tap      Tap // nil: no recording
	held     atomic.Bool
	ssrc     uint32 // the output leg's SSRC
	tsBase   uint32 // random start of the output timeline
	attached bool   // read by in's Relay, not a goroutine; set by Start (Bridge.mu)
	g711Out  [128]bool
	dtmfSent atomic.Uint64

	// senderRunning and dtmfQueue belong to Bridge.mu / the sender.
	senderRunning bool
	dtmfQueue     chan dtmfRequest

	// mu guards the rewrite state and orders writes to out between the
	// relay goroutine and the DTMF sender. Only those two ever take it.
	mu         sync.Mutex
	haveIn     bool
	inSSRC     uint32
	maxInSeq   uint16 // highest input sequence number seen (mod 2^16)
	seqOffset  uint16 // output seq = input seq + seqOffset
	tsOffset   uint32 // output ts = input ts + tsOffset
	nextSeq    uint16 // output seq after the newest packet sent
	haveOut    bool
	lastOutTS  uint32    // output timeline position at lastOutAt
	lastOutEnd uint32    // end of the media sent so far
	lastOutAt  time.Time // when lastOutTS was sent
	markNext   bool
	events     eventDetector

	relayed, droppedPT, droppedHeld, resyncs, dtmfReported atomic.Uint64
}

// NewBridge returns a bridge between legs a and b; Start starts relaying.
func NewBridge(a, b Endpoint, cfg BridgeConfig) *Bridge {
	if cfg.ClockRate <= 0 {
		cfg.ClockRate = G711Rate
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DTMFA > 127 {
		cfg.DTMFA = 0
	}
	if cfg.DTMFB > 127 {
		cfg.DTMFB = 0
	}
	br := &Bridge{legs: [2]Endpoint{a, b}, log: cfg.Logger, done: make(chan struct{})}
	dtmf := [2]uint8{cfg.DTMFA, cfg.DTMFB}
	maps := [2]PTMap{cfg.AtoB, cfg.BtoA}
	for s := SideA; s <= SideB; s++ {
		f := &br.flows[s]
		f.from = s
		f.in, f.out = br.legs[s], br.legs[s.Other()]
		f.pt = maps[s]
		f.dtmfIn, f.dtmfOut = dtmf[s], dtmf[s.Other()]
		f.rate = cfg.ClockRate
		f.clock = cfg.Clock
		f.onDTMF = cfg.OnDTMF
		f.tap = cfg.Tap
		f.ssrc = f.out.SSRC()
		f.nextSeq = uint16(rand.Uint32())
		f.tsBase = rand.Uint32()
		f.dtmfQueue = make(chan dtmfRequest, dtmfQueueLen)
		for in := range uint8(128) {
			if out, ok := f.pt.Lookup(in); ok && (out == 0 || out == 8) && (f.dtmfIn == 0 || in != f.dtmfIn) {
				f.g711Out[in] = true
			}
		}
	}
	return br
}

// Start starts relaying: it hands each direction whose input is a relay leg
// to the leg's Relay, and starts a goroutine for each other direction (and
// for a relay leg whose Relay is closed). It returns ErrLegBusy if a leg is
// already in a running bridge (or a and b are the same leg), ErrStarted if
// the bridge already started, ErrClosed after Close.
func (b *Bridge) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.started:
		return ErrStarted
	case b.legs[0] == b.legs[1]:
		return ErrLegBusy
	}
	if !b.legs[0].claim() {
		return ErrLegBusy
	}
	if !b.legs[1].claim() {
		b.legs[0].release()
		return ErrLegBusy
	}
	b.started = true
	for i := range b.flows {
		f := &b.flows[i]
		b.legs[i].resumeRead()
		if l, ok := b.legs[i].(*Leg); ok && l.attach(f) {
			f.attached = true
			continue
		}
		b.wg.Add(1)
		go f.run(b)
	}
	return nil
}

// Close stops relaying and DTMF sending and waits for the bridge's
// goroutines to end; a direction on a Relay is removed from it, and no relay
// worker touches the bridge once Close returns. It does not close the legs.
// It is safe to call more than once and concurrently; every call returns
// after the goroutines end.
func (b *Bridge) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		started := b.started
		b.mu.Unlock()
		b.closing.Store(true)
		close(b.done)
		if started {
			for i, l := range b.legs {
				if f := &b.flows[i]; f.attached {
					l.(*Leg).detach(f)
				} else {
					l.interruptRead()
				}
			}
		}
		b.wg.Wait()
		if started {
			for _, l := range b.legs {
				l.resumeRead()
				l.release()
			}
		}
	})
	return nil
}

// Hold stops (on) or resumes (off) sending toward side. Packets that would
// have gone there are dropped and counted in DroppedHeld; sequence numbers
// stay continuous across the hold.
func (b *Bridge) Hold(side Side, on bool) { b.flows[side.Other()].held.Store(on) }

// Stats returns a snapshot of the bridge's counters. It is safe to call
// while packets flow.
func (b *Bridge) Stats() BridgeStats {
	return BridgeStats{AtoB: b.flows[SideA].stats(), BtoA: b.flows[SideB].stats()}
}

func (f *flow) stats() FlowStats {
	return FlowStats{
		Relayed:     f.relayed.Load(),
		DroppedPT:   f.droppedPT.Load(),
		DroppedHeld: f.droppedHeld.Load(),
		Resyncs:     f.resyncs.Load(),
		DTMFIn:      f.dtmfReported.Load(),
		DTMFSent:    f.dtmfSent.Load(),
	}
}

// run is the relay goroutine of one direction.
func (f *flow) run(b *Bridge) {
	defer b.wg.Done()
	buf := make([]byte, relayBufferSize)
	var h Header
	failing := false // log a run of read errors once
	for {
		n, off, at, err := f.in.readRTP(buf, &h)
		if err != nil {
			if b.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if !failing && !errors.Is(err, os.ErrDeadlineExceeded) {
				b.log.Warn("rtp read failed", "side", f.from, "err", err)
			}
			failing = true
			// Back off rather than spin on a persistent error.
			select {
			case <-b.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		failing = false
		f.relay(buf[:n], &h, off, at)
	}
}

// relay rewrites one packet received on f.in and sends it on f.out, then
// reports DTMF digits it completed. It runs on the direction's goroutine or
// on a Relay worker.
func (f *flow) relay(pkt []byte, h *Header, off int, now time.Time) {
	f.mu.Lock()
	send, digits, nd := f.forward(pkt, h, off, now)
	if send {
		_ = f.out.WriteRTP(pkt) // counted by the leg
	}
	f.mu.Unlock()
	for _, d := range digits[:nd] {
		f.dtmfReported.Add(1)
		if f.onDTMF != nil {
			f.onDTMF(f.from, d)
		}
	}
}

// forward rewrites pkt (parsed into h, payload at off) in place for f.out
// and reports whether to send it, plus any DTMF digits the packet completed.
// f.mu must be held. It allocates nothing.
func (f *flow) forward(pkt []byte, h *Header, off int, now time.Time) (send bool, digits [2]byte, nd int) {
	newer := f.track(h, now)
	isEvent := f.dtmfIn != 0 && h.PayloadType == f.dtmfIn
	if isEvent {
		digits, nd = f.events.packet(h.SSRC, h.Timestamp, pkt[off:len(pkt)-int(h.PaddingSize)])
	}
	outPT, ok := f.pt.Lookup(h.PayloadType)
	if !ok || f.held.Load() {
		if !ok {
			f.droppedPT.Add(1)
		} else {
			f.droppedHeld.Add(1)
		}
		if newer {
			// Close the gap this packet leaves in the output sequence.
			f.seqOffset--
		}
		return false, digits, nd
	}
	seq := h.SequenceNumber + f.seqOffset
	ts := h.Timestamp + f.tsOffset
	SetPayloadType(pkt, outPT)
	SetSequenceNumber(pkt, seq)
	SetTimestamp(pkt, ts)
	SetSSRC(pkt, f.ssrc)
	if f.markNext && !isEvent {
		SetMarker(pkt, true)
		f.markNext = false
	}
	if newer {
		f.nextSeq = seq + 1
		switch {
		case isEvent && len(pkt)-int(h.PaddingSize)-off >= eventPayloadSize:
			end := ts + uint32(binary.BigEndian.Uint16(pkt[off+2:]))
			f.advanceTimeline(end, end, now)
		case f.g711Out[h.PayloadType]:
			// One G.711 byte is one sample.
			f.advanceTimeline(ts, ts+uint32(len(pkt)-off-int(h.PaddingSize)), now)
		default:
			f.advanceTimeline(ts, ts, now)
		}
	}
	if f.tap != nil && f.g711Out[h.PayloadType] {
		f.tap.TapRTP(f.from, g711Law(outPT), ts, pkt[off:len(pkt)-int(h.PaddingSize)], now)
	}
	f.relayed.Add(1)
	return true, digits, nd
}

// Input stream changes: a sequence jump larger than this (either way) is
// treated like a new SSRC (RFC 3550 appendix A.1 uses 3000 for dropouts).
const maxSeqJump = 3000

// track follows the input stream and reports whether h is the newest packet
// seen so far. On a new input stream it rebases the sequence and timestamp
// offsets so the output continues where it was. f.mu must be held.
func (f *flow) track(h *Header, now time.Time) (newer bool) {
	d := int16(h.SequenceNumber - f.maxInSeq)
	if f.haveIn && h.SSRC == f.inSSRC && d <= maxSeqJump && d >= -maxSeqJump {
		if d > 0 {
			f.maxInSeq = h.SequenceNumber
			return true
		}
		return false
	}
	if f.haveIn {
		f.resyncs.Add(1)
		f.markNext = true
	}
	f.seqOffset = f.nextSeq - h.SequenceNumber
	f.tsOffset = f.timelineNow(now) - h.Timestamp
	f.haveIn, f.inSSRC, f.maxInSeq = true, h.SSRC, h.SequenceNumber
	return true
}

// timelineNow returns the output timestamp that corresponds to now: the
// last position sent plus the time since, but never before the end of the
// media already sent. f.mu must be held.
func (f *flow) timelineNow(now time.Time) uint32 {
	if !f.haveOut {
		f.advanceTimeline(f.tsBase, f.tsBase, now)
		return f.tsBase
	}
	ts := f.lastOutTS
	if el := now.Sub(f.lastOutAt); el > 0 {
		ts += uint32(el.Nanoseconds() * int64(f.rate) / int64(time.Second))
	}
	if int32(ts-f.lastOutEnd) < 0 {
		ts = f.lastOutEnd
	}
	return ts
}

// advanceTimeline records that the output timeline was at pos at time now,
// with media sent up to end. f.mu must be held.
func (f *flow) advanceTimeline(pos, end uint32, now time.Time) {
	if !f.haveOut || int32(end-f.lastOutEnd) > 0 {
		f.lastOutEnd = end
	}
	f.haveOut = true
	f.lastOutTS, f.lastOutAt = pos, now
}
