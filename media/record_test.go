package media

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memFile is an in-memory RecordingFile. If gate is set, data writes (past the
// header) wait for it; if failData is set, they fail.
type memFile struct {
	mu       sync.Mutex
	b        []byte
	closed   int
	gate     chan struct{}
	failData error
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if off >= wavHeaderSize {
		if f.gate != nil {
			<-f.gate
		}
		if f.failData != nil {
			return 0, f.failData
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := int(off) + len(p); end > len(f.b) {
		f.b = append(f.b, make([]byte, end-len(f.b))...)
	}
	copy(f.b[off:], p)
	return len(p), nil
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

func (f *memFile) bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.b...)
}

// readWAV checks a recording's header against its length and returns its left
// and right channels.
func readWAV(t *testing.T, b []byte) (left, right []int16) {
	t.Helper()
	if len(b) < wavHeaderSize || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("not a WAV header: %q", b[:min(len(b), 44)])
	}
	le := binary.LittleEndian
	if ch, rate, bits := le.Uint16(b[22:]), le.Uint32(b[24:]), le.Uint16(b[34:]); ch != 2 || rate != 8000 || bits != 16 {
		t.Fatalf("format: %d channels, %d Hz, %d bits", ch, rate, bits)
	}
	data := int(le.Uint32(b[40:]))
	if riff := int(le.Uint32(b[4:])); riff != 36+data || len(b) != wavHeaderSize+data {
		t.Fatalf("sizes: riff %d, data %d, file %d", riff, data, len(b))
	}
	for i := wavHeaderSize; i+4 <= len(b); i += 4 {
		left = append(left, int16(le.Uint16(b[i:])))
		right = append(right, int16(le.Uint16(b[i+2:])))
	}
	return left, right
}

// energy is the mean absolute sample of s.
func energy(s []int16) int {
	if len(s) == 0 {
		return 0
	}
	sum := 0
	for _, v := range s {
		sum += max(int(v), -int(v))
	}
	return sum / len(s)
}

// TestRecorderAlignsSidesAndFillsGaps: A speaks 1 kHz from the start with a
// 100 ms loss in the middle; B answers 200 ms later with 440 Hz, on another
// timestamp base, its packets arriving out of order once. The WAV has A left and
// B right, each tone where it was sent, silence in the gap and before B began.
func TestRecorderAlignsSidesAndFillsGaps(t *testing.T) {
	checkGoroutines(t)
	f := &memFile{}
	rec, err := NewRecorder(f, RecorderOptions{Queue: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	pkt := make([]byte, 160)
	const packets = 150 // 3 s per side: the window is written out several times
	for i := range packets {
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		if i < 60 || i >= 65 { // packets 60-64 of A are lost
			Tone(pkt, MuLaw, 1000, 8000, i*160)
			rec.TapRTP(SideA, MuLaw, 0xFFFFF000+uint32(i*160), pkt, at)
		}
		if i >= 10 {
			j := i - 10
			if j == 20 { // B's packets 20 and 21 arrive swapped
				j = 21
			} else if j == 21 {
				j = 20
			}
			Tone(pkt, ALaw, 440, 8000, j*160)
			rec.TapRTP(SideB, ALaw, 777+uint32(j*160), pkt, at)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil || f.closed != 1 {
		t.Fatalf("second Close: %v, file closed %d times", err, f.closed)
	}
	left, right := readWAV(t, f.bytes())
	if len(left) != packets*160 {
		t.Fatalf("%d frames, want %d", len(left), packets*160)
	}
	st := rec.Stats()
	if st.Frames != packets*160 || st.Dropped != 0 || st.Late != 0 || st.Err != nil {
		t.Fatalf("stats %+v", st)
	}
	block := func(ch []int16, i int) []int16 { return ch[i*160 : (i+1)*160] }
	for i := range packets {
		l, r := block(left, i), block(right, i)
		lost := i >= 60 && i < 65
		if got := ToneLevel(l, 1000, 8000); lost != (got < 100) {
			t.Fatalf("left block %d: 1 kHz level %.0f (lost %v)", i, got, lost)
		}
		if lost && energy(l) != 0 {
			t.Fatalf("left block %d: the gap is not silent", i)
		}
		if got := ToneLevel(r, 440, 8000); (i >= 10) != (got > 4000) {
			t.Fatalf("right block %d: 440 Hz level %.0f", i, got)
		}
		if i < 10 && energy(r) != 0 {
			t.Fatalf("right block %d: not silent before B began", i)
		}
	}
	// Sample-exact: the right channel is B's tone from frame 1600 on, samples in
	// order even where packets arrived swapped.
	want := make([]byte, 160)
	for j := range packets - 10 {
		Tone(want, ALaw, 440, 8000, j*160)
		for k, b := range want {
			if got := right[1600+j*160+k]; got != ALaw.Decode(b) {
				t.Fatalf("right frame %d: %d, want %d", 1600+j*160+k, got, ALaw.Decode(b))
			}
		}
	}
}

// TestRecorderDropsWhenWriterIsBehind: with the disk stuck, the taps neither
// block nor allocate; packets beyond the queue are dropped and counted, and the
// recording is complete up to the drop once the disk comes back.
func TestRecorderDropsWhenWriterIsBehind(t *testing.T) {
	checkGoroutines(t)
	f := &memFile{gate: make(chan struct{})}
	rec, err := NewRecorder(f, RecorderOptions{Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	pkt := make([]byte, 160)
	const packets = 500
	tapped := make(chan struct{})
	go func() { // if TapRTP blocked, this would never finish and the test times out
		defer close(tapped)
		for i := range packets {
			rec.TapRTP(SideA, MuLaw, uint32(i*160), pkt, t0.Add(time.Duration(i)*20*time.Millisecond))
		}
	}()
	select {
	case <-tapped:
	case <-time.After(time.Minute):
		t.Fatal("TapRTP blocked behind a stuck writer")
	}
	st := rec.Stats()
	// The writer holds at most a window (100 packets) and one packet in hand, the
	// queue 4: everything else was dropped.
	if st.Dropped < packets-110 {
		t.Fatalf("dropped %d of %d packets", st.Dropped, packets)
	}
	close(f.gate)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	left, _ := readWAV(t, f.bytes())
	if kept := uint64(packets) - rec.Stats().Dropped; len(left) < int(kept-1)*160 {
		t.Fatalf("%d frames written for %d packets kept", len(left), kept)
	}
}

// TestRecorderWriteErrorKeepsCall: the disk fails mid-call; the recording stops
// (one log line, the error in Stats and Close), the bridge relays every packet.
func TestRecorderWriteErrorKeepsCall(t *testing.T) {
	checkGoroutines(t)
	var errorsLogged atomic.Int32
	log := slog.New(countingHandler{n: &errorsLogged})
	diskFull := errors.New("no space left on device")
	f := &memFile{failData: diskFull}
	rec, err := NewRecorder(f, RecorderOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := g711Config()
	cfg.Tap = rec
	r := newRig(t, cfg)
	const n = 300
	payload := make([]byte, 160)
	received := make(chan int, 1)
	go func() {
		got := 0
		for range n {
			if r.pb.recv(10*time.Second) == nil {
				break
			}
			got++
		}
		received <- got
	}()
	for i := range n {
		r.clk.Advance(20 * time.Millisecond)
		r.pa.send(r.a.LocalAddr(), rtpPacket(0, false, uint16(i), uint32(160*i), 0x1111, payload))
		if i%20 == 0 {
			time.Sleep(time.Millisecond)
		}
		if i == 200 {
			eventually(t, "the recording to fail", func() bool { return rec.Stats().Err != nil })
		}
	}
	if got := <-received; got != n {
		t.Fatalf("the callee got %d of %d packets", got, n)
	}
	if !errors.Is(rec.Stats().Err, diskFull) {
		t.Fatalf("stats error %v", rec.Stats().Err)
	}
	r.br.Close()
	if err := rec.Close(); !errors.Is(err, diskFull) {
		t.Fatalf("Close: %v", err)
	}
	if got := errorsLogged.Load(); got != 1 {
		t.Fatalf("%d error lines logged, want 1", got)
	}
}

// TestCreateRecordingWritesHeaderFirst: a recording is readable (a valid, empty
// WAV) from the moment it is created, refuses to overwrite, and Close is safe
// twice.
func TestCreateRecordingWritesHeaderFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec", "call-1.wav")
	rec, err := CreateRecording(path, RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := readWAV(t, b); len(l) != 0 {
		t.Fatalf("new recording holds %d frames", len(l))
	}
	if _, err := CreateRecording(path, RecorderOptions{}); err == nil {
		t.Fatal("an existing recording was overwritten")
	}
	pkt := make([]byte, 160)
	now := time.Now()
	for i := range 10 {
		rec.TapRTP(SideB, MuLaw, uint32(i*160), pkt, now.Add(time.Duration(i)*20*time.Millisecond))
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if l, _ := readWAV(t, b); len(l) != 1600 {
		t.Fatalf("%d frames, want 1600", len(l))
	}
}

type countingHandler struct{ n *atomic.Int32 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// discardFile is a RecordingFile that writes nowhere.
type discardFile struct{}

func (discardFile) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }
func (discardFile) Close() error                           { return nil }

// BenchmarkForwardTapped is BenchmarkForward with a Recorder tapping the
// direction: the hand-over to the recording allocates nothing per packet
// (allocs/op counts the writer goroutine too).
func BenchmarkForwardTapped(b *testing.B) {
	ports := newTestPorts(b)
	a, c := newTestLeg(b, ports), newTestLeg(b, ports)
	rec, err := NewRecorder(discardFile{}, RecorderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	cfg := g711Config()
	cfg.Tap = rec
	br := NewBridge(a, c, cfg)
	defer br.Close()
	f := &br.flows[SideA]
	pkt := rtpPacket(0, false, 0, 0, 0x1111, make([]byte, 160))
	now := SystemClock().Now()
	var h Header
	b.ReportAllocs()
	seq, ts := uint16(0), uint32(0)
	for b.Loop() {
		seq++
		ts += 160
		now = now.Add(20 * time.Millisecond)
		SetSequenceNumber(pkt, seq)
		SetTimestamp(pkt, ts)
		SetSSRC(pkt, 0x1111)
		SetPayloadType(pkt, 0)
		off, err := h.Unmarshal(pkt)
		if err != nil {
			b.Fatal(err)
		}
		f.mu.Lock()
		send, _, _ := f.forward(pkt, &h, off, now)
		f.mu.Unlock()
		if !send {
			b.Fatal("dropped")
		}
	}
	b.ReportMetric(float64(rec.Stats().Dropped), "dropped")
}
