package main

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flusher and the test to share.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	fail   error
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	if l.fail != nil {
		return 0, l.fail
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogBufferBatchesAndFlushesOnTick(t *testing.T) {
	dst := &lockedBuffer{}
	lb := newLogBuffer(dst, 20*time.Millisecond)
	defer lb.Close()
	for i := range 100 {
		if n, err := lb.Write([]byte("line " + string(rune('a'+i%26)) + "\n")); err != nil || n != 7 {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(dst.String(), "\n") < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("lines not flushed by the ticker: %q", dst.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	dst.mu.Lock()
	writes := dst.writes
	dst.mu.Unlock()
	if writes >= 100 {
		t.Errorf("%d writes for 100 lines: not batched", writes)
	}
	if !strings.HasPrefix(dst.String(), "line a\nline b\n") {
		t.Errorf("order lost: %q", dst.String()[:20])
	}
}

func TestLogBufferCloseFlushesAndWritesThrough(t *testing.T) {
	dst := &lockedBuffer{}
	lb := newLogBuffer(dst, time.Hour)
	lb.Write([]byte("queued\n"))
	if dst.String() != "" {
		t.Fatalf("written before a flush: %q", dst.String())
	}
	if err := lb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lb.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if dst.String() != "queued\n" {
		t.Fatalf("after Close: %q", dst.String())
	}
	lb.Write([]byte("after\n"))
	if dst.String() != "queued\nafter\n" {
		t.Fatalf("a write after Close is not written through: %q", dst.String())
	}
}

func TestLogBufferFullBufferWritesAtOnce(t *testing.T) {
	dst := &lockedBuffer{}
	lb := newLogBuffer(dst, time.Hour)
	defer lb.Close()
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for range logBufferMax / len(line) {
		lb.Write(line)
	}
	if got := len(dst.String()); got != logBufferMax {
		t.Fatalf("%d bytes written once the buffer filled, want %d", got, logBufferMax)
	}
}

func TestLogBufferKeepsFirstError(t *testing.T) {
	boom := errors.New("disk full")
	dst := &lockedBuffer{fail: boom}
	lb := newLogBuffer(dst, time.Hour)
	if _, err := lb.Write([]byte("lost\n")); err != nil {
		t.Fatalf("Write failed with the destination: %v", err)
	}
	if err := lb.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want %v", err, boom)
	}
}
