//go:build linux

package media

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// relayEvents is how many ready sockets one epoll_wait returns at most.
	relayEvents = 128
	// relayBatch is how many datagrams one recvmmsg takes from a socket.
	// Level-triggered epoll reports the socket again if more are queued.
	relayBatch = 8
)

// Relay relays the RTP of legs created WithRelay (see relay.go): a fixed set
// of workers, each a goroutine blocked in epoll_wait on its own epoll set.
// Each input leg of a running Bridge is in one worker's set (round robin).
// The zero Relay relays nothing: bridges read its legs on goroutines.
type Relay struct {
	workers   []*relayWorker
	next      atomic.Uint32 // round robin over workers, per registration
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// relayWorker is one epoll loop and its buffers.
type relayWorker struct {
	epfd   int
	wakefd int // eventfd that wakes the worker to stop

	// mu guards closed and slots. The worker takes it once per epoll_wait
	// batch, not per packet; add and remove take it, so that once remove
	// returns the worker never touches the removed flow (events epoll_wait
	// returned for it before are ignored: its slot is empty, or has another
	// generation).
	mu     sync.Mutex
	closed bool
	slots  []relaySlot
	free   []int32

	// The worker's own, preallocated: nothing is allocated per packet.
	events [relayEvents]unix.EpollEvent
	msgs   [relayBatch]unix.Mmsghdr
	iovs   [relayBatch]unix.Iovec
	names  [relayBatch]unix.RawSockaddrInet6
	bufs   [relayBatch][relayBufferSize]byte
	h      Header
}

// relaySlot is one registration: the leg a worker reads and the flow it
// relays the packets with. The epoll event carries the slot number and gen.
type relaySlot struct {
	leg  *Leg
	flow *flow
	gen  int32
}

// relayReg is what a leg remembers of its registration, to remove it.
type relayReg struct {
	w    *relayWorker
	slot int32
	flow *flow
}

// wakeSlot is the epoll data of a worker's wake eventfd.
const wakeSlot = -1

// NewRelay starts a relay with the given number of workers; 0 or less means
// runtime.GOMAXPROCS(0). Close stops it.
func NewRelay(workers int) (*Relay, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	r := &Relay{}
	for range workers {
		w, err := newRelayWorker()
		if err != nil {
			for _, w := range r.workers {
				w.closeFDs()
			}
			return nil, err
		}
		r.workers = append(r.workers, w)
	}
	for _, w := range r.workers {
		r.wg.Add(1)
		go w.run(&r.wg)
	}
	return r, nil
}

func newRelayWorker() (*relayWorker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("media: relay: %w", os.NewSyscallError("epoll_create1", err))
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("media: relay: %w", os.NewSyscallError("eventfd", err))
	}
	w := &relayWorker{epfd: epfd, wakefd: wakefd}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeSlot}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		w.closeFDs()
		return nil, fmt.Errorf("media: relay: %w", os.NewSyscallError("epoll_ctl", err))
	}
	for i := range w.msgs {
		w.iovs[i].Base = &w.bufs[i][0]
		w.iovs[i].SetLen(relayBufferSize)
		w.msgs[i].Hdr.Iov = &w.iovs[i]
		w.msgs[i].Hdr.SetIovlen(1)
		w.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&w.names[i]))
	}
	return w, nil
}

func (w *relayWorker) closeFDs() {
	unix.Close(w.wakefd)
	unix.Close(w.epfd)
}

// Close stops the workers and waits for them to end. Flows still registered
// stop being relayed; their bridges and legs still close normally. Safe to
// call more than once, and on a nil Relay.
func (r *Relay) Close() error {
	if r == nil {
		return nil
	}
	r.closeOnce.Do(func() {
		one := [8]byte{1}
		*(*uint64)(unsafe.Pointer(&one)) = 1 // eventfd takes a native-endian uint64
		for _, w := range r.workers {
			w.mu.Lock()
			w.closed = true
			w.mu.Unlock()
			_, _ = unix.Write(w.wakefd, one[:])
		}
		r.wg.Wait()
		for _, w := range r.workers {
			w.closeFDs()
		}
	})
	return nil
}

// add registers f, whose input is the relay leg l, with one worker.
func (r *Relay) add(l *Leg, f *flow) (relayReg, error) {
	if r == nil || len(r.workers) == 0 {
		return relayReg{}, errRelayClosed
	}
	w := r.workers[(r.next.Add(1)-1)%uint32(len(r.workers))]
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return relayReg{}, errRelayClosed
	}
	var slot int32
	if n := len(w.free); n > 0 {
		slot, w.free = w.free[n-1], w.free[:n-1]
	} else {
		slot = int32(len(w.slots))
		w.slots = append(w.slots, relaySlot{})
	}
	s := &w.slots[slot]
	s.gen++
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: slot, Pad: s.gen}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, l.raw.fd, &ev); err != nil {
		w.free = append(w.free, slot)
		return relayReg{}, fmt.Errorf("media: relay: %w", os.NewSyscallError("epoll_ctl", err))
	}
	s.leg, s.flow = l, f
	return relayReg{w: w, slot: slot, flow: f}, nil
}

// remove ends a registration made by add; fd is the leg's socket, still
// open. When remove returns the worker no longer touches reg.flow.
func (w *relayWorker) remove(reg relayReg, fd int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed { // after Close the epoll fd may be gone (and its number reused)
		_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	s := &w.slots[reg.slot]
	s.leg, s.flow = nil, nil
	w.free = append(w.free, reg.slot)
}

// run is the worker's loop: wait for ready sockets, then, under mu, receive
// from each and relay what arrived.
func (w *relayWorker) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		n, err := unix.EpollWait(w.epfd, w.events[:], -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return // the epoll fd is unusable; it cannot be while the relay is open
		}
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return
		}
		for i := range n {
			ev := &w.events[i]
			if ev.Fd < 0 || int(ev.Fd) >= len(w.slots) {
				continue // the wake eventfd
			}
			s := &w.slots[ev.Fd]
			if s.flow == nil || s.gen != ev.Pad {
				continue // removed (and maybe reused) since epoll_wait returned
			}
			w.receive(s.leg, s.flow)
		}
		w.mu.Unlock()
	}
}

// receive takes up to relayBatch datagrams from l's socket and relays the
// valid RTP among them through f. w.mu is held, so l's socket is open.
func (w *relayWorker) receive(l *Leg, f *flow) {
	for i := range w.msgs {
		w.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		w.msgs[i].Len = 0
	}
	// RawSyscall: MSG_DONTWAIT never blocks, so no scheduler hand-off.
	got, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(l.raw.fd),
		uintptr(unsafe.Pointer(&w.msgs[0])), relayBatch, unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return // EAGAIN (nothing after all), or a socket error, now cleared
	}
	for i := range int(got) {
		buf := w.bufs[i][:]
		n := int(w.msgs[i].Len)
		if off, at, ok := l.accept(buf, n, sockaddrAddrPort(&w.names[i]), &w.h); ok {
			f.relay(buf[:n], &w.h, off, at)
		}
	}
}
