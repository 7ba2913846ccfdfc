package main

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"callgate/bench/internal/benchkit"
	"callgate/bench/internal/rtpecho"

	"github.com/pion/webrtc/v4"
)

// Packet layout: a 12-byte RTP header, then a 160-byte G.711 payload (20 ms) whose
// first rtpecho.StampLen bytes carry the measurement, the rest μ-law silence.
const (
	payloadLen = 160
	packetLen  = rtpecho.HeaderLen + payloadLen
	nShards    = 8
)

// streamer sends every answered call's packets and measures the echo coming back.
type streamer struct {
	pt   uint8
	win  rtpecho.Window
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	buckets [20][]*agent // by the millisecond of the 20 ms frame each call sends in
	nLive   int

	sentMu sync.Mutex
	sent   int64

	shards [nShards]shard
}

// shard holds the receive figures of the agents idx % nShards.
type shard struct {
	mu       sync.Mutex
	received int64
	fwd, ret *benchkit.LatencyHist
}

func newStreamer(pt uint8) *streamer {
	s := &streamer{pt: pt, done: make(chan struct{})}
	for i := range s.shards {
		s.shards[i].fwd, s.shards[i].ret = benchkit.NewLatencyHist(), benchkit.NewLatencyHist()
	}
	return s
}

func (s *streamer) stop() { s.once.Do(func() { close(s.done) }) }

func (s *streamer) live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nLive
}

// activate starts a's call streaming.
func (s *streamer) activate(a *agent) {
	a.seq, a.ts = uint16(a.idx*97), uint32(a.idx)*7919
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.streaming.Swap(true) {
		return
	}
	b := (a.idx * 7) % 20
	s.buckets[b] = append(s.buckets[b], a)
	s.nLive++
}

// deactivate stops a's stream; it reports whether it was streaming.
func (s *streamer) deactivate(a *agent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !a.streaming.Swap(false) {
		return false
	}
	b := (a.idx * 7) % 20
	for i, x := range s.buckets[b] {
		if x == a {
			s.buckets[b] = append(s.buckets[b][:i], s.buckets[b][i+1:]...)
			break
		}
	}
	s.nLive--
	return true
}

// send wakes every millisecond and sends the packets of the calls whose millisecond
// of the 20 ms frame came due. One goroutine does it all: pion encrypts and writes
// each packet on the caller's goroutine.
func (s *streamer) send(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	buf := make([]byte, packetLen)
	for j := rtpecho.HeaderLen + rtpecho.StampLen; j < packetLen; j++ {
		buf[j] = 0xff
	}
	lastMS := time.Since(base).Milliseconds()
	var due []*agent
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
		}
		nowMS := time.Since(base).Milliseconds()
		// Catch up on missed milliseconds (a descheduled sender), up to 10 frames: a
		// late packet is sent late, not skipped.
		from := max(lastMS+1, nowMS-200)
		lastMS = nowMS
		due = due[:0]
		s.mu.Lock()
		for m := from; m <= nowMS; m++ {
			due = append(due, s.buckets[m%20]...)
		}
		s.mu.Unlock()
		var sent int64
		for _, a := range due {
			if !a.streaming.Load() {
				continue
			}
			t0 := now()
			encodePacket(buf, s.pt, a.seq, a.ts, rtpecho.Stamp{T0: t0, Call: uint32(a.idx), Seq: a.n})
			a.seq++
			a.ts += payloadLen
			a.n++
			if _, err := a.track.Write(buf); err == nil && s.win.In(t0) {
				sent++
			}
		}
		if sent > 0 {
			s.sentMu.Lock()
			s.sent += sent
			s.sentMu.Unlock()
		}
	}
}

// encodePacket writes an RTP header (the track rewrites SSRC and payload type) and the
// stamp into b, which holds packetLen bytes.
func encodePacket(b []byte, pt uint8, seq uint16, ts uint32, st rtpecho.Stamp) {
	b[0], b[1] = 0x80, pt
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], 0)
	st.Put(b[rtpecho.HeaderLen:])
}

// receive reads a call's audio coming back (pion calls it on its own goroutine).
func (s *streamer) receive(a *agent, tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	sh := &s.shards[a.idx%nShards]
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		t2 := now()
		st, ok := rtpecho.ReadStamp(buf[:n])
		if !ok || st.T1 == 0 || !s.win.In(st.T0) {
			continue
		}
		sh.mu.Lock()
		sh.received++
		sh.fwd.Add(float64(st.T1-st.T0) / 1e3)
		sh.ret.Add(float64(t2-st.T1) / 1e3)
		sh.mu.Unlock()
	}
}

func (s *streamer) resetWindow(start int64) {
	s.sentMu.Lock()
	s.sent = 0
	s.sentMu.Unlock()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.received = 0
		sh.fwd.Reset()
		sh.ret.Reset()
		sh.mu.Unlock()
	}
	s.win.Open(start)
}

func (s *streamer) closeWindow(end int64) { s.win.Close(end) }

// fill adds the agents' figures of the window to r.
func (s *streamer) fill(r *windowResult) {
	s.sentMu.Lock()
	r.Sent = s.sent
	s.sentMu.Unlock()
	fwd, ret := benchkit.NewLatencyHist(), benchkit.NewLatencyHist()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		r.Received += sh.received
		fwd.Merge(sh.fwd)
		ret.Merge(sh.ret)
		sh.mu.Unlock()
	}
	r.Forward, r.Return = fwd.Summary(), ret.Summary()
}
