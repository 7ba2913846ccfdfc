package media

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Ports hands out even UDP ports for RTP from a range. The odd port above
// each (RTCP, RFC 3550 section 11) belongs to the same reservation, although
// callgate may not open it.
//
// Free ports wait in a first-in first-out queue: Acquire takes the port that
// has been free longest and Release puts a port at the back, so the range is
// used round robin and a port is reused as late as possible. A released port
// is not handed out again until its cool-down has passed, so late packets of
// an old call drain before a new call owns the port. Acquire and Release are
// O(1) and safe for concurrent use.
type Ports struct {
	min, n   int // first port, number of even ports
	cooldown time.Duration
	clock    Clock

	mu    sync.Mutex
	queue []freePort // ring buffer of free ports, oldest release first
	head  int
	size  int
	inUse []bool // by index (port-min)/2
	used  int
}

type freePort struct {
	port    int
	readyAt time.Time // zero: never used
}

// PortsOption configures NewPorts.
type PortsOption func(*Ports) error

// WithPortsClock sets the clock cool-downs are measured with.
func WithPortsClock(c Clock) PortsOption {
	return func(p *Ports) error {
		if c == nil {
			return errors.New("media: nil clock")
		}
		p.clock = c
		return nil
	}
}

// NewPorts returns the even ports p with min <= p and p+1 <= max, each
// reserving p (RTP) and p+1 (RTCP). A negative cooldown counts as zero.
func NewPorts(min, max int, cooldown time.Duration, opts ...PortsOption) (*Ports, error) {
	if min < 1 || max > 65535 || min > max {
		return nil, fmt.Errorf("%w: %d-%d", ErrPortRange, min, max)
	}
	first := min + min%2
	n := 0
	if max-first >= 1 {
		n = (max-first-1)/2 + 1
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %d-%d holds no even port with its odd neighbour", ErrPortRange, min, max)
	}
	p := &Ports{
		min:      first,
		n:        n,
		cooldown: max0(cooldown),
		clock:    SystemClock(),
		queue:    make([]freePort, n),
		size:     n,
		inUse:    make([]bool, n),
	}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	for i := range p.queue {
		p.queue[i].port = first + 2*i
	}
	return p, nil
}

func max0(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// Acquire returns the port that has been free longest, or ErrNoPorts if every
// port is in use or still cooling down.
func (p *Ports) Acquire() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.size == 0 {
		return 0, ErrNoPorts
	}
	fp := p.queue[p.head]
	if !fp.readyAt.IsZero() && p.clock.Now().Before(fp.readyAt) {
		// Every port is released with the same cool-down, so the queue is
		// ordered by readyAt: if the oldest is not ready, none is.
		return 0, ErrNoPorts
	}
	p.head = (p.head + 1) % p.n
	p.size--
	p.inUse[(fp.port-p.min)/2] = true
	p.used++
	return fp.port, nil
}

// Release returns a port acquired from p. It is handed out again after the
// cool-down, and after every port released before it. Releasing a port that
// is not in use, or not from this range, does nothing.
func (p *Ports) Release(port int) {
	if port < p.min || (port-p.min)%2 != 0 || (port-p.min)/2 >= p.n {
		return
	}
	i := (port - p.min) / 2
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inUse[i] {
		return
	}
	p.inUse[i] = false
	p.used--
	p.queue[(p.head+p.size)%p.n] = freePort{port: port, readyAt: p.clock.Now().Add(p.cooldown)}
	p.size++
}

// InUse returns the number of ports currently acquired.
func (p *Ports) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// Cap returns the number of ports in the range.
func (p *Ports) Cap() int { return p.n }
