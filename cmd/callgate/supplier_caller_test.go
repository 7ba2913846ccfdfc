package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"callgate/web/apiclient"
)

const supplierSecret = "supplier-c-secret-0123456789abcdef0123"

// supplierReport posts a signed report on number to the public listener.
func supplierReport(t *testing.T, base, number, report string) int {
	t.Helper()
	body := []byte(`{"report":"` + report + `"}`)
	req, err := http.NewRequest(http.MethodPost, base+"supplier/v1/numbers/"+number, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := apiclient.Sign(req, "c", supplierSecret, time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// A supplier blocking one of the tenant's caller numbers stops it at the next dial,
// with no SIP sent; restored, it calls again.
func TestSupplierBlocksACallerNumber(t *testing.T) {
	t.Setenv("SUPPLIER_C_SECRET", supplierSecret)
	r := newAgentRig(t, 2, "suppliers:\n  - {name: c, secret_env: SUPPLIER_C_SECRET}\n")
	a := newGoAgent(t, r.base, agentToken)
	if code := supplierReport(t, r.base, "+862100000001", "blocked"); code != http.StatusOK {
		t.Fatalf("block: HTTP %d", code)
	}
	a.send(map[string]any{"type": "dial", "id": "d1", "to": "+8613900000002"})
	if m := a.next("call", "error"); m["type"] != "error" || m["code"] != "no_route" {
		t.Fatalf("dial with the only caller number blocked: %v; want error no_route", m)
	}
	if n := len(r.carrier.Invites()); n != 0 {
		t.Fatalf("%d INVITEs reached the carrier", n)
	}
	if code := supplierReport(t, r.base, "+862100000001", "restored"); code != http.StatusOK {
		t.Fatalf("restore: HTTP %d", code)
	}
	id := a.dial("+8613900000002")
	a.state("connected")
	eventually(t, "the carrier has the call", func() bool { return len(r.carrier.Calls()) == 1 })
	if from := r.carrier.Calls()[0].From; from != "+862100000001" {
		t.Fatalf("after the restore the call shows %q", from)
	}
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended")
	if code := supplierReport(t, r.base, "+862100009999", "blocked"); code != http.StatusNotFound {
		t.Errorf("a number the supplier does not have: HTTP %d, want 404", code)
	}
}
