package media

import (
	"errors"
	"net/netip"
)

// This file is the portable side of the epoll relay engine (relay_linux.go,
// rawsock_linux.go): the option that puts a leg on a Relay, and the remote
// address a leg sends to.
//
// A Relay serves the legs created WithRelay. Such a leg owns a raw
// non-blocking UDP socket that Go's netpoller never sees. While the leg is
// the input of a running Bridge, one of the relay's workers (an epoll loop on
// its own goroutine) receives its packets in small batches with recvmmsg and
// runs the same per-packet code a bridge goroutine runs: Leg.accept (checks,
// counters, loss and jitter, latching), then flow.relay (rewrite, DTMF, tap,
// send). Each relayed packet then costs a recvmmsg share, the rewrite and one
// sendto, instead of two reads, a goroutine park and wake, and a write.
//
// On systems other than Linux NewRelay returns ErrRelayUnsupported and
// WithRelay is ignored: legs keep a goroutine per bridge direction.

// ErrRelayUnsupported is returned by NewRelay where the epoll relay does not
// exist (systems other than Linux); legs then relay with goroutines.
var ErrRelayUnsupported = errors.New("media: epoll relay needs linux")

// errRelayClosed is why a flow cannot join a closed (or zero) Relay; the
// bridge then reads that leg on a goroutine.
var errRelayClosed = errors.New("media: relay closed")

// WithRelay makes the leg's packets relayed by r's workers while the leg is
// the input of a running Bridge, instead of by a goroutine of the bridge. A
// nil r, or any r on a system without the relay, keeps the goroutine path.
//
// The leg's ReadRTP works as before outside a bridge (it polls the socket).
// Close r only after the legs' bridges closed: a bridge still running when r
// closes stops relaying its relay-served directions.
func WithRelay(r *Relay) LegOption {
	return func(c *legConfig) error {
		if relaySupported {
			c.relay = r
		}
		return nil
	}
}

// peerAddr is a leg's remote address, and for a relay leg the same address
// as a socket address ready for sendto. A new one is made only when the
// address changes, so sending allocates nothing.
type peerAddr struct {
	addr netip.AddrPort
	sa   rawSockaddr // zero for a goroutine-path leg
}

// newPeerAddr returns addr prepared for sending through l.
func (l *Leg) newPeerAddr(addr netip.AddrPort) *peerAddr {
	p := &peerAddr{addr: addr}
	if l.raw != nil {
		p.sa = l.raw.sockaddr(addr)
	}
	return p
}
