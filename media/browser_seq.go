package media

import "time"

// outSequence keeps the RTP stream toward a browser continuous across the
// bridges that write to it: each bridge numbers its packets from a random
// start, and the browser must not see the sequence number jump (SRTP
// replay protection would drop everything after a jump back).
type outSequence struct {
	started bool   // a packet has been sent
	going   bool   // a segment (one bridge's stream) is under way
	maxIn   uint16 // highest input sequence number of the segment
	seqOff  uint16 // output seq = input seq + seqOff
	tsOff   uint32 // output ts = input ts + tsOff
	lastSeq uint16 // output seq of the newest packet sent
	lastTS  uint32 // output ts of the newest packet sent
	lastEnd uint32 // end of the media sent so far
	lastAt  time.Time
}

// next maps one written packet (h, samples of payload) into the output
// stream: its sequence number, timestamp and marker, and whether to send
// it (only audio is). A dropped packet's sequence number is taken out of
// the output so that the browser sees no loss.
func (s *outSequence) next(h *Header, samples int, audio bool, now time.Time, rate int) (seq uint16, ts uint32, mark, send bool) {
	mark = h.Marker
	if !s.going {
		s.going = true
		s.seqOff, s.tsOff = 0, 0
		if s.started {
			// Continue after the last packet sent, at the time elapsed
			// since, but never before the end of the media already sent.
			pos := s.lastTS
			if el := now.Sub(s.lastAt); el > 0 {
				pos += uint32(el.Nanoseconds() * int64(rate) / int64(time.Second))
			}
			if int32(pos-s.lastEnd) < 0 {
				pos = s.lastEnd
			}
			s.seqOff = s.lastSeq + 1 - h.SequenceNumber
			s.tsOff = pos - h.Timestamp
			mark = true
		}
		s.maxIn = h.SequenceNumber - 1
	}
	newer := int16(h.SequenceNumber-s.maxIn) > 0
	if newer {
		s.maxIn = h.SequenceNumber
	}
	if !audio {
		if newer {
			s.seqOff--
		}
		return 0, 0, false, false
	}
	seq, ts = h.SequenceNumber+s.seqOff, h.Timestamp+s.tsOff
	if newer {
		end := ts + uint32(samples)
		if !s.started || int32(end-s.lastEnd) > 0 {
			s.lastEnd = end
		}
		s.lastSeq, s.lastTS, s.lastAt, s.started = seq, ts, now, true
	}
	return seq, ts, mark, true
}
