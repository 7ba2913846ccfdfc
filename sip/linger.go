package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// SetTransactionLinger sets how long finished SIP transactions stay to absorb
// retransmissions (sip.transaction_linger): the non-INVITE server transaction's
// Completed state (RFC 3261 timer J) and the INVITE server and client transactions'
// Accepted state after a 2xx (timers L and M, RFC 6026); 0 puts back the RFCs' 64×T1
// (32 s over UDP). Every call holds its transactions, with their parsed messages, for
// that long, which at hundreds of calls a second is most of the heap; a shorter
// linger answers a request retransmitted after it as a new one (a late BYE gets 481:
// the call is gone anyway).
//
// sipgo keeps these timers in package variables that its goroutines read: call this
// once, before any SIP user agent of the process starts.
func SetTransactionLinger(d time.Duration) {
	if d <= 0 {
		d = 64 * sip.T1
	}
	sip.Timer_J, sip.Timer_L, sip.Timer_M = d, d, d
}
