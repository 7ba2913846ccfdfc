//go:build !linux

package media

import (
	"net/netip"
)

// relaySupported says whether WithRelay takes effect on this system.
const relaySupported = false

// Relay is the epoll relay engine of Linux (relay_linux.go). Elsewhere
// NewRelay returns ErrRelayUnsupported and legs relay with goroutines.
type Relay struct{}

// NewRelay returns ErrRelayUnsupported: the relay needs Linux.
func NewRelay(workers int) (*Relay, error) { return nil, ErrRelayUnsupported }

// Close does nothing; it is safe to call more than once, and on a nil Relay.
func (r *Relay) Close() error { return nil }

// rawSocket, rawSockaddr and their methods exist only so leg.go builds:
// WithRelay is ignored here, so no leg ever has a rawSocket.
type rawSocket struct{}

type rawSockaddr struct{}

func openRawSocket(*Relay, netip.Addr, int, int, int) (*rawSocket, netip.AddrPort, error) {
	return nil, netip.AddrPort{}, ErrRelayUnsupported
}

func (s *rawSocket) sockaddr(netip.AddrPort) rawSockaddr    { return rawSockaddr{} }
func (s *rawSocket) send([]byte, *rawSockaddr) (int, error) { return 0, ErrRelayUnsupported }
func (s *rawSocket) read([]byte) (int, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, ErrRelayUnsupported
}
func (s *rawSocket) attach(*Leg, *flow) error { return ErrRelayUnsupported }
func (s *rawSocket) detach(*flow)             {}
func (s *rawSocket) close() error             { return nil }
func (s *rawSocket) setInterrupted(bool)      {}
