package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// WaitListening blocks (up to a second) until sipgo's transport layer has registered
// the listener on addr. sipgo adds a served socket to its connection pool from the
// serving goroutine; a request sent before that would try to bind the same port again.
func WaitListening(tl *sip.TransportLayer, network, addr string) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if c, err := tl.GetConnection(network, addr); err == nil && c != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
