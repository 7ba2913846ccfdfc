package sip_test

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo"
)

// BenchmarkInboundCall measures one whole masked call on loopback, serially: INVITE
// from the carrier, binding lookup in SQLite, B-leg INVITE/180/200/ACK, A-leg 200/ACK,
// BYE from A and the call record written. Both peers are sipgo UAs in this process, so
// the figure includes their work too.
func BenchmarkInboundCall(b *testing.B) {
	r := newRig(b, func(c *rigConfig) { c.carrier.RingFor = 0 })
	a := newCaller(b, "127.0.0.2")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		d, err := a.invite(cctx, r.edge.Addr("udp"), numA, numV)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.WaitAnswer(cctx, sipgo.AnswerOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := d.Ack(cctx); err != nil {
			b.Fatal(err)
		}
		if err := d.Bye(cctx); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
	b.StopTimer()
	for r.edge.ActiveCalls() > 0 {
		time.Sleep(time.Millisecond)
	}
}
