package sip_test

import (
	"context"
	"testing"
	"time"

	cgsip "callgate/sip"

	"github.com/emiago/sipgo/sip"
)

// TestTransactionLinger: sip.transaction_linger shortens sipgo's timers J, L and M
// (process-wide, as sipgo keeps them), and calls go on as before with it; 0 puts the
// RFC values back.
func TestTransactionLinger(t *testing.T) {
	rfc := 64 * sip.T1
	if sip.Timer_J != rfc || sip.Timer_L != rfc || sip.Timer_M != rfc {
		t.Fatalf("before: timers J %s L %s M %s, want the RFC's %s", sip.Timer_J, sip.Timer_L, sip.Timer_M, rfc)
	}
	// Set before any user agent of the test starts, as serve does.
	cgsip.SetTransactionLinger(3 * time.Second)
	t.Cleanup(func() { cgsip.SetTransactionLinger(0) })
	if sip.Timer_J != 3*time.Second || sip.Timer_L != 3*time.Second || sip.Timer_M != 3*time.Second {
		t.Fatalf("with linger 3s: timers J %s L %s M %s", sip.Timer_J, sip.Timer_L, sip.Timer_M)
	}
	r := newRig(t)
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := r.record(); rec.SIPCode != 200 || rec.HangupBy != "caller" {
		t.Fatalf("record %+v", rec)
	}
}

func TestTransactionLingerZeroIsTheRFCs(t *testing.T) {
	cgsip.SetTransactionLinger(5 * time.Second)
	cgsip.SetTransactionLinger(0)
	if rfc := 64 * sip.T1; sip.Timer_J != rfc || sip.Timer_L != rfc || sip.Timer_M != rfc {
		t.Fatalf("timers J %s L %s M %s, want the RFC's %s", sip.Timer_J, sip.Timer_L, sip.Timer_M, rfc)
	}
}
