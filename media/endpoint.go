package media

import "time"

// Endpoint is one side of a Bridge: a *Leg toward a SIP peer, or a
// *BrowserLeg toward an agent's browser. Its unexported methods are the
// bridge's side of the contract, so only this package's types implement it;
// other packages name it to hold either kind of leg.
type Endpoint interface {
	// SSRC is the synchronisation source a Bridge writes on packets sent
	// through the endpoint.
	SSRC() uint32
	// WriteRTP sends one RTP packet toward the peer. It does not keep pkt.
	WriteRTP(pkt []byte) error

	// readRTP reads the next valid RTP packet into b, parses its header
	// into h and returns its length, payload offset and arrival time. Only
	// the goroutine that holds the claim calls it. It returns an error
	// wrapping net.ErrClosed once the endpoint is closed, and
	// os.ErrDeadlineExceeded while interrupted. (A *Leg on a Relay is not
	// read through it while its bridge runs: Bridge.Start hands the leg to
	// the Relay, whose workers call Leg.accept on what they receive.)
	readRTP(b []byte, h *Header) (n, payloadOffset int, at time.Time, err error)
	// claim takes the endpoint for a bridge; false if another bridge holds
	// it. From claim to release only the bridge reads from the endpoint.
	claim() bool
	// release gives the endpoint back after the bridge's readers stopped.
	release()
	// interruptRead makes a blocked (and every later) readRTP return
	// os.ErrDeadlineExceeded until resumeRead.
	interruptRead()
	resumeRead()
}

var (
	_ Endpoint = (*Leg)(nil)
	_ Endpoint = (*BrowserLeg)(nil)
)
