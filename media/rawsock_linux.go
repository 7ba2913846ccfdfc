//go:build linux

package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relaySupported says whether WithRelay takes effect on this system.
const relaySupported = true

// rawPollInterval is how long a ReadRTP on a relay leg waits in poll before
// it looks again at Close and interruptRead (poll does not wake when another
// goroutine closes the socket).
const rawPollInterval = 20 // milliseconds

// errAddrFamily is a send to an address the socket's family cannot reach
// (IPv6 from an IPv4 socket).
var errAddrFamily = errors.New("media: remote address of another family than the rtp socket")

// rawSocket is the UDP socket of a leg created WithRelay: non-blocking, never
// given to Go's netpoller (a socket in Go's edge-triggered epoll too would
// wake the scheduler on every packet).
//
// Locks: regMu before the worker's mu (attach, detach, close); a worker holds
// its mu while it sends on other legs, which takes their mu shared. Nothing
// takes regMu while holding a worker's mu, so the order has no cycle.
type rawSocket struct {
	fd     int
	family int // unix.AF_INET or unix.AF_INET6
	relay  *Relay

	interrupted atomic.Bool // readRTP returns os.ErrDeadlineExceeded

	// mu is held shared around every use of fd outside the relay worker, and
	// exclusively to close it, so that no send reaches a reused fd number.
	mu     sync.RWMutex
	closed bool

	// regMu orders attach and detach against close: a registered fd is
	// always removed from the worker's epoll set before it is closed.
	regMu sync.Mutex
	gone  bool     // close began: attach fails
	reg   relayReg // the flow the relay reads this socket for; w nil if none

	// The blocking reader's source address (one reader at a time).
	from    unix.RawSockaddrInet6
	fromLen uint32
}

// rawSockaddr is a socket address in the kernel's layout: an IPv6 one, or an
// IPv4 one in its first bytes. len 0 means "cannot send there".
type rawSockaddr struct {
	sa  unix.RawSockaddrInet6
	len uint32
}

// openRawSocket opens a non-blocking UDP socket bound to ip:port, with the
// given buffer sizes (0 keeps the default). Like net.ListenUDP("udp", ...), an
// IPv6 socket also takes IPv4 (IPV6_V6ONLY off).
func openRawSocket(r *Relay, ip netip.Addr, port, rcv, snd int) (*rawSocket, netip.AddrPort, error) {
	family := unix.AF_INET6
	if ip.Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("media: open rtp socket: %w", os.NewSyscallError("socket", err))
	}
	s := &rawSocket{fd: fd, family: family, relay: r}
	local, err := s.setup(ip, port, rcv, snd)
	if err != nil {
		unix.Close(fd)
		return nil, netip.AddrPort{}, err
	}
	return s, local, nil
}

func (s *rawSocket) setup(ip netip.Addr, port, rcv, snd int) (netip.AddrPort, error) {
	var sa unix.Sockaddr
	if s.family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return netip.AddrPort{}, fmt.Errorf("media: open rtp socket: %w", os.NewSyscallError("setsockopt", err))
		}
		sa = &unix.SockaddrInet6{Port: port, Addr: ip.As16(), ZoneId: zoneIndex(ip.Zone())}
	} else {
		sa = &unix.SockaddrInet4{Port: port, Addr: ip.As4()}
	}
	if rcv > 0 {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcv); err != nil {
			return netip.AddrPort{}, fmt.Errorf("media: set receive buffer: %w", os.NewSyscallError("setsockopt", err))
		}
	}
	if snd > 0 {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, snd); err != nil {
			return netip.AddrPort{}, fmt.Errorf("media: set send buffer: %w", os.NewSyscallError("setsockopt", err))
		}
	}
	if err := unix.Bind(s.fd, sa); err != nil {
		err = os.NewSyscallError("bind", err)
		if errors.Is(err, syscall.EADDRINUSE) {
			return netip.AddrPort{}, err // NewLeg tries the next port
		}
		return netip.AddrPort{}, fmt.Errorf("media: open rtp socket: %w", err)
	}
	bound, err := unix.Getsockname(s.fd)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("media: open rtp socket: %w", os.NewSyscallError("getsockname", err))
	}
	switch a := bound.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).WithZone(ip.Zone()), uint16(a.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("media: open rtp socket: bound to %T", bound)
}

// zoneIndex returns the interface index of an IPv6 zone: a number, or an
// interface name; 0 if there is none or it is unknown.
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

// sockaddr returns ap in the kernel's layout for this socket's family: an
// IPv4 address from an IPv6 socket is sent to as IPv4-mapped.
func (s *rawSocket) sockaddr(ap netip.AddrPort) rawSockaddr {
	var r rawSockaddr
	ip := ap.Addr()
	switch {
	case s.family == unix.AF_INET && ip.Is4():
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.sa))
		p.Family = unix.AF_INET
		putPort(&p.Port, ap.Port())
		p.Addr = ip.As4()
		r.len = unix.SizeofSockaddrInet4
	case s.family == unix.AF_INET6 && ip.IsValid():
		r.sa.Family = unix.AF_INET6
		putPort(&r.sa.Port, ap.Port())
		r.sa.Addr = ip.As16()
		r.sa.Scope_id = zoneIndex(ip.Zone())
		r.len = unix.SizeofSockaddrInet6
	}
	return r
}

// putPort stores port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// sockaddrAddrPort returns the address the kernel wrote into sa (an IPv4 or
// an IPv6 socket address). It allocates nothing, except for a link-local
// source with an interface number above 99 (the zone string).
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	b := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port := uint16(b[0])<<8 | uint16(b[1])
	switch sa.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), port)
	case unix.AF_INET6:
		ip := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(ip, port)
	}
	return netip.AddrPort{}
}

// send sends pkt to to with one sendto: no allocation, and it never blocks
// (a full send buffer is an error, EAGAIN).
func (s *rawSocket) send(pkt []byte, to *rawSockaddr) (int, error) {
	if to.len == 0 {
		return 0, errAddrFamily
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return 0, net.ErrClosed
	}
	// RawSyscall: a non-blocking send needs no scheduler hand-off.
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(pkt))), uintptr(len(pkt)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&to.sa)), uintptr(to.len))
	s.mu.RUnlock()
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// read waits for and receives the next datagram into b, outside the relay
// (ReadRTP, or a bridge that could not use the relay). It returns
// net.ErrClosed after close and os.ErrDeadlineExceeded while interrupted,
// noticed within rawPollInterval.
func (s *rawSocket) read(b []byte) (int, netip.AddrPort, error) {
	for {
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return 0, netip.AddrPort{}, net.ErrClosed
		}
		if s.interrupted.Load() {
			s.mu.RUnlock()
			return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
		}
		s.fromLen = unix.SizeofSockaddrInet6
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(s.fd),
			uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), unix.MSG_DONTWAIT,
			uintptr(unsafe.Pointer(&s.from)), uintptr(unsafe.Pointer(&s.fromLen)))
		s.mu.RUnlock()
		switch errno {
		case 0:
			return int(n), sockaddrAddrPort(&s.from), nil
		case unix.EAGAIN, unix.EINTR:
		default:
			return 0, netip.AddrPort{}, os.NewSyscallError("recvfrom", errno)
		}
		// Wait without the lock: if close wins, poll sees a closed (or
		// reused) fd number and at worst returns early or times out.
		fds := [1]unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		_, _ = unix.Poll(fds[:], rawPollInterval)
	}
}

// attach registers f, whose input is l (this socket's leg), with the relay.
func (s *rawSocket) attach(l *Leg, f *flow) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if s.gone {
		return net.ErrClosed
	}
	if s.reg.w != nil {
		return ErrLegBusy
	}
	reg, err := s.relay.add(l, f)
	if err != nil {
		return err
	}
	s.reg = reg
	return nil
}

// detach removes f's registration, if f is still registered. When it
// returns, no relay worker touches f.
func (s *rawSocket) detach(f *flow) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if s.reg.w != nil && s.reg.flow == f {
		s.reg.w.remove(s.reg, s.fd)
		s.reg = relayReg{}
	}
}

// close deregisters the socket from the relay, then closes it.
func (s *rawSocket) close() error {
	s.regMu.Lock()
	s.gone = true
	if s.reg.w != nil {
		s.reg.w.remove(s.reg, s.fd)
		s.reg = relayReg{}
	}
	s.regMu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if err := unix.Close(s.fd); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// setInterrupted makes read return os.ErrDeadlineExceeded (on) or wait again
// (off); see interruptRead.
func (s *rawSocket) setInterrupted(on bool) { s.interrupted.Store(on) }
