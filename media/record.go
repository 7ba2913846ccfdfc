package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds call recording: a Recorder is a bridge's Tap that writes both
// directions of a call to one stereo WAV file (8 kHz, 16-bit PCM decoded from
// G.711): left is side A (the caller, or the agent), right is side B (the callee).
//
// The relay goroutines hand packets over without allocating or blocking: each
// packet is copied into a fixed-size slot on a bounded channel; when the channel
// is full (the writer is behind, the disk is slow), the packet is dropped from the
// recording and counted. The call's audio never waits for the recording.
//
// One writer goroutine places samples by RTP timestamp into a two-second stereo
// window, so gaps (lost packets, silence suppression, hold) become silence and
// both channels stay aligned; it writes the window out as it fills and rewrites
// the WAV header's sizes after every write, so a crash leaves a readable file
// whose header covers all but the last second or so. A write error stops the
// recording (logged once, reported by Stats and Close); the call goes on.

// Tap receives a copy of the audio a Bridge relays (BridgeConfig.Tap).
type Tap interface {
	// TapRTP is called on the relay goroutine of direction from for every G.711
	// audio packet the bridge sends on: law is its codec, ts its timestamp on the
	// output timeline, payload its samples (valid only during the call) and at
	// when it arrived. It must return at once and must not keep payload.
	TapRTP(from Side, law Law, ts uint32, payload []byte, at time.Time)
}

// RecordingFile is where a Recorder writes its WAV; *os.File is one.
type RecordingFile interface {
	io.WriterAt
	io.Closer
}

var (
	_ Tap           = (*Recorder)(nil)
	_ RecordingFile = (*os.File)(nil)
)

// Errors of recordings.
var (
	// ErrRecordingFull means a recording reached the WAV format's 4 GiB limit
	// (about 37 hours) and stopped.
	ErrRecordingFull = errors.New("media: recording reached the wav size limit")
)

// RecorderOptions tune a Recorder; zero values take the defaults.
type RecorderOptions struct {
	// Queue is the number of packet slots between the relay and the writer;
	// default 128 (over a second of both directions at 20 ms packets).
	Queue int
	// Logger receives the recording's one error message; nil discards.
	Logger *slog.Logger
}

// RecorderStats is a snapshot of a recording's counters.
type RecorderStats struct {
	// Frames is the number of stereo sample frames written (8000 a second).
	Frames int64
	// Dropped counts packets not recorded because the writer was behind.
	Dropped uint64
	// Late counts packets (or parts of them) that arrived after their place in
	// the file was written.
	Late uint64
	// Err is the error that stopped the recording, nil while it works.
	Err error
}

// Recording geometry.
const (
	recRate         = G711Rate
	recChannels     = 2
	recFrameBytes   = 2 * recChannels   // one stereo frame of 16-bit samples
	wavHeaderSize   = 44                // RIFF, fmt and data chunk headers
	recWindow       = 2 * recRate       // stereo frames kept open for placing packets
	recFlushAt      = recWindow * 3 / 4 // write out once the newest audio is this far ahead
	recKeepBehind   = recWindow / 4     // frames behind the newest audio kept open for late packets
	recSlotPayload  = 480               // bytes: 60 ms of G.711
	recDefaultQueue = 128
	// recMaxDrift is how far a side's RTP timeline may stray from its packets'
	// arrival times before the recorder follows the arrival times instead.
	recMaxDrift = recRate
	// recMaxData is the largest data chunk a WAV header can state.
	recMaxData = (1<<32 - 1 - 36) / recFrameBytes * recFrameBytes
)

// recSlot is one packet on its way to the writer: a fixed-size value, so the
// channel copies it without allocating.
type recSlot struct {
	at      int64 // arrival, unix nanoseconds
	ts      uint32
	n       uint16
	side    Side
	law     Law
	payload [recSlotPayload]byte
}

// recChannel is where the writer is on one side's timeline.
type recChannel struct {
	have  bool
	ts    uint32 // timestamp of the last packet placed
	frame int64  // its frame index in the file
}

// Recorder writes a call's two directions to a stereo WAV file. Create it with
// NewRecorder or CreateRecording, give it to a bridge as BridgeConfig.Tap, and
// Close it after the bridge closed.
type Recorder struct {
	file  RecordingFile
	log   *slog.Logger
	queue chan recSlot
	quit  chan struct{}
	done  chan struct{}

	stopped atomic.Bool // closing or failed: taps return at once
	dropped atomic.Uint64
	late    atomic.Uint64
	frames  atomic.Int64
	errMu   sync.Mutex
	err     error // the error that stopped the recording

	closeOnce sync.Once
	closeErr  error

	// The writer goroutine's own state.
	t0   int64 // arrival of the first packet, unix nanoseconds
	ch   [2]recChannel
	win  []int16 // recWindow stereo frames, ring-indexed by frame % recWindow
	base int64   // first frame not yet written
	head int64   // end of the newest audio placed
	out  []byte  // encoding buffer for writes
	hdr  [wavHeaderSize]byte
}

// CreateRecording creates the WAV file path (and its directory) and returns a
// Recorder writing to it. An existing file is an error: recordings are named by
// call id and never overwritten.
func CreateRecording(path string, o RecorderOptions) (*Recorder, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("media: recording directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("media: create recording: %w", err)
	}
	r, err := NewRecorder(f, o)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return r, nil
}

// NewRecorder writes the WAV header to file and starts the writer. The Recorder
// owns file from now on and closes it in Close (also when NewRecorder fails).
func NewRecorder(file RecordingFile, o RecorderOptions) (*Recorder, error) {
	if o.Queue <= 0 {
		o.Queue = recDefaultQueue
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{
		file:  file,
		log:   o.Logger,
		queue: make(chan recSlot, o.Queue),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		win:   make([]int16, recWindow*recChannels),
		out:   make([]byte, recWindow*recFrameBytes),
	}
	if err := r.writeHeader(); err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("media: recording header: %w", err)
	}
	go r.run()
	return r, nil
}

// TapRTP queues a packet for the writer, or drops and counts it if the queue is
// full. It never blocks and allocates nothing. Payloads over 60 ms are cut.
func (r *Recorder) TapRTP(from Side, law Law, ts uint32, payload []byte, at time.Time) {
	if r.stopped.Load() || len(payload) == 0 {
		return
	}
	var s recSlot
	s.at, s.ts, s.side, s.law = at.UnixNano(), ts, from, law
	s.n = uint16(copy(s.payload[:], payload))
	select {
	case r.queue <- s:
	default:
		r.dropped.Add(1)
	}
}

// Stats returns the recording's counters; safe at any time.
func (r *Recorder) Stats() RecorderStats {
	return RecorderStats{Frames: r.frames.Load(), Dropped: r.dropped.Load(), Late: r.late.Load(), Err: r.failure()}
}

// Close stops recording, writes what is queued, fixes the WAV header up and
// closes the file. It returns the error that stopped the recording, if any. It
// is safe to call more than once; every call returns the same result.
func (r *Recorder) Close() error {
	r.closeOnce.Do(func() {
		r.stopped.Store(true)
		close(r.quit)
		<-r.done
		err := r.failure()
		if cerr := r.file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("media: close recording: %w", cerr)
		}
		r.closeErr = err
	})
	return r.closeErr
}

func (r *Recorder) failure() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// fail stops the recording on its first error; the call is not affected.
func (r *Recorder) fail(err error) {
	r.errMu.Lock()
	first := r.err == nil
	if first {
		r.err = err
	}
	r.errMu.Unlock()
	r.stopped.Store(true)
	if first {
		r.log.Error("recording stopped; the call goes on", "err", err, "frames", r.frames.Load())
	}
}

// run is the writer goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	for {
		select {
		case s := <-r.queue:
			r.place(&s)
		case <-r.quit:
			for {
				select {
				case s := <-r.queue:
					r.place(&s)
				default:
					if r.failure() == nil {
						r.flushTo(r.head)
					}
					return
				}
			}
		}
	}
}

// place decodes one packet into the window at its frame, writing the window
// out first if the packet lies beyond it.
func (r *Recorder) place(s *recSlot) {
	if r.failure() != nil {
		return
	}
	if r.t0 == 0 {
		r.t0 = s.at
	}
	wall := (s.at - r.t0) * recRate / int64(time.Second)
	c := &r.ch[s.side&1]
	start := wall
	if c.have {
		start = c.frame + int64(int32(s.ts-c.ts))
		if d := start - wall; d > recMaxDrift || d < -recMaxDrift {
			start = wall // a jump in the timeline: follow the clock
		}
	}
	c.have, c.ts, c.frame = true, s.ts, start
	n := int64(s.n)
	end := start + n
	if end-r.base > recWindow {
		r.flushTo(end - recWindow)
		if r.failure() != nil {
			return
		}
	}
	if start < r.base {
		r.late.Add(1)
	}
	for i := range n {
		f := start + i
		if f < r.base {
			continue
		}
		r.win[(f%recWindow)*recChannels+int64(s.side&1)] = s.law.Decode(s.payload[i])
	}
	if end > r.head {
		r.head = end
	}
	if r.head-r.base > recFlushAt {
		r.flushTo(r.head - recKeepBehind)
	}
}

// flushTo writes the frames from r.base up to to (silence where nothing was
// placed) and updates the header.
func (r *Recorder) flushTo(to int64) {
	if to > recMaxData/recFrameBytes {
		to = recMaxData / recFrameBytes
	}
	for r.base < to {
		pos := r.base % recWindow
		n := min(to-r.base, recWindow-pos) // up to the ring's end
		seg := r.win[pos*recChannels : (pos+n)*recChannels]
		buf := r.out[:len(seg)*2]
		for i, v := range seg {
			binary.LittleEndian.PutUint16(buf[2*i:], uint16(v))
			seg[i] = 0
		}
		if _, err := r.file.WriteAt(buf, wavHeaderSize+r.base*recFrameBytes); err != nil {
			r.fail(fmt.Errorf("media: write recording: %w", err))
			return
		}
		r.base += n
		r.frames.Store(r.base)
	}
	if err := r.writeHeader(); err != nil {
		r.fail(fmt.Errorf("media: write recording header: %w", err))
		return
	}
	if r.base >= recMaxData/recFrameBytes {
		r.fail(ErrRecordingFull)
	}
}

// writeHeader writes the 44-byte WAV header for the frames written so far.
func (r *Recorder) writeHeader() error {
	h := &r.hdr
	data := uint32(r.base * recFrameBytes)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+data)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], recChannels)
	binary.LittleEndian.PutUint32(h[24:], recRate)
	binary.LittleEndian.PutUint32(h[28:], recRate*recFrameBytes)
	binary.LittleEndian.PutUint16(h[32:], recFrameBytes)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], data)
	_, err := r.file.WriteAt(h[:], 0)
	return err
}

// g711Law is the law of a static G.711 payload type: 8 is PCMA, else PCMU.
func g711Law(pt uint8) Law {
	if pt == 8 {
		return ALaw
	}
	return MuLaw
}
