package sip_test

import (
	"context"
	"testing"
)

// Media flows both with the epoll relay (the default, every other call test)
// and with it turned off (media.relay_workers < 0): a goroutine per direction.
func TestCallMediaWithRelayOff(t *testing.T) {
	r := newRig(t, func(c *rigConfig) { c.set.RelayWorkers = -1 })
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	a.sendRTP(d, 8, 50)
	eventually(t, "echoed audio back at the caller", func() bool { return len(a.packets()) >= 45 })
	if err := d.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec := r.record(); rec.Reason != "caller_bye" {
		t.Fatalf("record reason %q", rec.Reason)
	}
}
