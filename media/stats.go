package media

import (
	"sync/atomic"
	"time"
)

// This file measures the quality of a leg's received RTP: packets lost, from the
// gaps in sequence numbers (RFC 3550 A.1), and interarrival jitter (RFC 3550 A.8).
// It runs on the leg's reader goroutine for every packet and allocates nothing.

// jitterRate is the RTP clock rate jitter is measured in: every codec callgate
// relays (G.711, telephone-event) runs at 8 kHz.
const jitterRate = 8000

// rxQuality follows one leg's received RTP. update is called by the one reader
// goroutine; the results are published through atomics for Stats.
type rxQuality struct {
	// The reader's state of the current stream (one SSRC).
	started     bool
	ssrc        uint32
	pt          uint8 // the stream's first payload type: jitter is of its packets only
	baseSeq     uint32
	maxSeq      uint16
	cycles      uint32 // wraps of the sequence number, times 65536
	received    uint64 // packets of the current stream
	first       time.Time
	lastTransit int64 // in RTP clock units; valid once haveTransit
	haveTransit bool
	jitter16    uint64 // the RFC 3550 jitter estimate, times 16

	lostBefore uint64 // packets lost by the streams before the current one

	lost   atomic.Uint64 // published: all streams' loss
	jitter atomic.Uint64 // published: jitter16 of the current stream
}

// update accounts for one received packet with header h, arrived at at.
func (q *rxQuality) update(h *Header, at time.Time) {
	seq := h.SequenceNumber
	if !q.started || h.SSRC != q.ssrc {
		if q.started {
			q.lostBefore += q.streamLost()
		}
		q.started, q.ssrc, q.pt = true, h.SSRC, h.PayloadType
		q.baseSeq, q.maxSeq, q.cycles, q.received = uint32(seq), seq, 0, 0
		q.first, q.haveTransit, q.jitter16 = at, false, 0
	} else if d := seq - q.maxSeq; d != 0 && d < 0x8000 { // in order, maybe after a gap
		if seq < q.maxSeq {
			q.cycles += 1 << 16
		}
		q.maxSeq = seq
	} // else: a duplicate, or late (reordered): counted as received only
	q.received++
	if h.PayloadType == q.pt {
		arrival := at.Sub(q.first).Nanoseconds() * jitterRate / int64(time.Second)
		transit := arrival - int64(h.Timestamp)
		if q.haveTransit {
			d := transit - q.lastTransit
			if d < 0 {
				d = -d
			}
			// J += (|D| - J) / 16, kept times 16 (RFC 3550 A.8).
			q.jitter16 += uint64(d) - (q.jitter16+8)>>4
		}
		q.lastTransit, q.haveTransit = transit, true
	}
	q.lost.Store(q.lostBefore + q.streamLost())
	q.jitter.Store(q.jitter16)
}

// streamLost is the current stream's packets expected and not received; duplicates
// can make received exceed expected, which counts as no loss.
func (q *rxQuality) streamLost() uint64 {
	expected := uint64(q.cycles) + uint64(q.maxSeq) - uint64(q.baseSeq) + 1
	if q.received >= expected {
		return 0
	}
	return expected - q.received
}

// snapshot returns the packets lost so far and the current jitter.
func (q *rxQuality) snapshot() (lost uint64, jitter time.Duration) {
	j16 := q.jitter.Load()
	return q.lost.Load(), time.Duration(j16 * uint64(time.Second) / (16 * jitterRate))
}
