package main

import (
	"io"
	"sync"
	"time"
)

// logBuffer batches log lines on their way to stderr: a busy edge logs a few lines
// per call state, and one write(2) per line cost ~5% of the CPU of a call setup at
// 800 calls/s. Lines are flushed every interval, when maxBuffered bytes are waiting,
// and on Close, so at most interval's worth of lines is lost if the process is
// killed (a panic's trace goes to stderr directly and is not affected).
//
// Write never fails because the destination failed: a log line must not fail a call.
// The first write error is kept and returned by Close.
type logBuffer struct {
	dst      io.Writer
	interval time.Duration

	mu      sync.Mutex
	buf     []byte
	spare   []byte
	err     error
	closed  bool
	flushMu sync.Mutex // one write to dst at a time, in order

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

const logBufferMax = 64 << 10

func newLogBuffer(dst io.Writer, interval time.Duration) *logBuffer {
	b := &logBuffer{
		dst:      dst,
		interval: interval,
		buf:      make([]byte, 0, logBufferMax),
		spare:    make([]byte, 0, logBufferMax),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go b.run()
	return b
}

// Write queues p; it writes through when the buffer is full or the buffer is closed.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.flushMu.Lock()
		defer b.flushMu.Unlock()
		if _, err := b.dst.Write(p); err != nil {
			b.keepErr(err)
		}
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= logBufferMax
	b.mu.Unlock()
	if full {
		b.flush()
	}
	return len(p), nil
}

// flush writes out what is queued. Two buffers are swapped so that writers append
// to one while the other is written.
func (b *logBuffer) flush() {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	out := b.buf
	b.buf = b.spare[:0]
	b.mu.Unlock()
	if len(out) > 0 {
		if _, err := b.dst.Write(out); err != nil {
			b.keepErr(err)
		}
	}
	b.mu.Lock()
	b.spare = out[:0]
	if cap(b.spare) > 4*logBufferMax { // a burst grew it: do not keep it
		b.spare = make([]byte, 0, logBufferMax)
	}
	b.mu.Unlock()
}

func (b *logBuffer) keepErr(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
}

func (b *logBuffer) run() {
	defer close(b.done)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.flush()
		}
	}
}

// Close flushes what is queued; later writes go straight through. Safe to call
// more than once; every call returns the first write error, if any.
func (b *logBuffer) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.flush()
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
