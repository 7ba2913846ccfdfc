package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"callgate/pool"
	"callgate/routing"
	"callgate/web/apiclient"
)

const (
	s1Secret = "s1-secret-0123456789abcdef0123456789abcdef"
	s2Secret = "s2-secret-0123456789abcdef0123456789abcdef"
)

// supplierRig is the pool env of api_pools_test.go with the supplier endpoint on a
// public handler of its own, over the same store: suppliers s1 (acme-sz's
// +8675500000001) and s2 (shared's numbers).
type supplierRig struct {
	*apiEnv
	board   *routing.PoolBoard
	public  *httptest.Server
	changes []pool.NumberStateChange
}

func newSupplierRig(t *testing.T) *supplierRig {
	e, board, _ := newPoolEnv(t)
	r := &supplierRig{apiEnv: e, board: board}
	api, err := NewSupplierAPI(SupplierDeps{Numbers: e.store, Nonces: e.store, Now: e.clk.Now,
		Suppliers: []SupplierApp{{Name: "s1", Secret: s1Secret}, {Name: "s2", Secret: s2Secret}},
		Changed: func(ctx context.Context, ch pool.NumberStateChange) {
			r.changes = append(r.changes, ch)
			if err := board.Refresh(ctx, e.store); err != nil {
				t.Error(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	r.public = httptest.NewServer(NewPublic(nil, WithSuppliers(api)))
	t.Cleanup(r.public.Close)
	return r
}

// send sends a request to srv signed by app with secret (unsigned if app is "").
func (r *supplierRig) send(srv *httptest.Server, app, secret, method, path string, body any) response {
	r.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
	if err != nil {
		r.t.Fatal(err)
	}
	if app != "" {
		if err := apiclient.Sign(req, app, secret, r.clk.Now()); err != nil {
			r.t.Fatal(err)
		}
	}
	return r.do(req)
}

func (r *supplierRig) report(app, secret, number, report string) response {
	r.t.Helper()
	return r.send(r.public, app, secret, "POST", "/supplier/v1/numbers/"+number, map[string]string{"report": report})
}

func TestSupplierReportsNumbers(t *testing.T) {
	r := newSupplierRig(t)
	ctx := context.Background()
	const v = "+8675500000001"
	crm := r.client("crm", crmSecret)
	bindV := func(a, b string) error {
		_, err := crm.CreateBinding(ctx, apiclient.CreateBindingRequest{Mode: "AXB", A: a, B: b, X: v})
		return err
	}

	// s1 blocks V: at once no binding may take it, and the pool shows it.
	res := r.report("s1", s1Secret, v, "blocked")
	var got NumberReportResponse
	if res.status != http.StatusOK || json.Unmarshal(res.body, &got) != nil || got.State != "blocked" || got.Previous != "available" || got.Pool != "acme-sz" {
		t.Fatalf("block: %d %s", res.status, res.body)
	}
	if s, _ := r.board.Score("acme-sz"); s.Remaining != 0 || s.Blocked != 1 {
		t.Errorf("acme-sz after the block: %+v", s)
	}
	if err := bindV("+8613800000001", "+8613900000001"); err == nil {
		t.Errorf("a binding took the blocked number %s", v)
	}
	// Blocking again changes nothing (and runs no refresh).
	if res := r.report("s1", s1Secret, v, "blocked"); res.status != http.StatusOK || len(r.changes) != 1 {
		t.Errorf("block twice: %d %s, %d changes", res.status, res.body, len(r.changes))
	}
	// Restored: bindings may take it again.
	if res := r.report("s1", s1Secret, v, "restored"); res.status != http.StatusOK {
		t.Fatalf("restore: %d %s", res.status, res.body)
	}
	if err := bindV("+8613800000001", "+8613900000001"); err != nil {
		t.Errorf("bind on the restored number: %v", err)
	}
	// Withdrawn: retired, out of the pool's numbers.
	if res := r.report("s1", s1Secret, v, "withdrawn"); res.status != http.StatusOK {
		t.Fatalf("withdraw: %d %s", res.status, res.body)
	}
	if s, _ := r.board.Score("acme-sz"); s.Total != 0 || s.Remaining != 0 {
		t.Errorf("acme-sz after the withdrawal: %+v", s)
	}
	if err := bindV("+8613800000002", "+8613900000002"); err == nil {
		t.Errorf("a binding took the withdrawn number %s", v)
	}

	for _, tc := range []struct {
		name, app, secret, method, path string
		body                            any
		status                          int
		code                            string
	}{
		{"another supplier's number", "s2", s2Secret, "POST", "/supplier/v1/numbers/" + v, map[string]string{"report": "restored"}, http.StatusNotFound, "not_found"},
		{"unknown number", "s1", s1Secret, "POST", "/supplier/v1/numbers/+8675500009999", map[string]string{"report": "blocked"}, http.StatusNotFound, "not_found"},
		{"bad report", "s1", s1Secret, "POST", "/supplier/v1/numbers/" + v, map[string]string{"report": "lost"}, http.StatusBadRequest, "invalid_field"},
		{"bad number", "s1", s1Secret, "POST", "/supplier/v1/numbers/12ab", map[string]string{"report": "blocked"}, http.StatusBadRequest, "invalid_field"},
		{"unknown field", "s1", s1Secret, "POST", "/supplier/v1/numbers/" + v, map[string]string{"reprot": "blocked"}, http.StatusBadRequest, ""},
		{"wrong method", "s1", s1Secret, "GET", "/supplier/v1/numbers/" + v, nil, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"unsigned", "", "", "POST", "/supplier/v1/numbers/" + v, map[string]string{"report": "blocked"}, http.StatusUnauthorized, "missing_header"},
		{"wrong secret", "s1", s2Secret, "POST", "/supplier/v1/numbers/" + v, map[string]string{"report": "blocked"}, http.StatusUnauthorized, "bad_signature"},
		{"a business app's signature", "ops", opsSecret, "POST", "/supplier/v1/numbers/" + v, map[string]string{"report": "restored"}, http.StatusUnauthorized, "unknown_app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.send(r.public, tc.app, tc.secret, tc.method, tc.path, tc.body)
			if res.status != tc.status || (tc.code != "" && res.err.Code != tc.code) {
				t.Errorf("%d %s, want %d %s", res.status, res.body, tc.status, tc.code)
			}
		})
	}
	// A supplier's signature opens nothing of the business API.
	if res := r.send(r.srv, "s1", s1Secret, "GET", "/v1/bindings?tenant=acme", nil); res.status != http.StatusUnauthorized || res.err.Code != "unknown_app" {
		t.Errorf("supplier on /v1/bindings: %d %s", res.status, res.body)
	}
	if res := r.send(r.srv, "s1", s1Secret, "GET", "/v1/pools", nil); res.status != http.StatusUnauthorized {
		t.Errorf("supplier on /v1/pools: %d %s", res.status, res.body)
	}
	// The refused requests changed nothing: the number is still withdrawn.
	if s, _ := r.board.Score("acme-sz"); s.Total != 0 {
		t.Errorf("acme-sz %+v", s)
	}
}

// A signed report cannot be replayed.
func TestSupplierReplay(t *testing.T) {
	r := newSupplierRig(t)
	body, _ := json.Marshal(map[string]string{"report": "blocked"})
	req, _ := http.NewRequest("POST", r.public.URL+"/supplier/v1/numbers/+8675500000001", bytes.NewReader(body))
	if err := apiclient.Sign(req, "s1", s1Secret, r.clk.Now()); err != nil {
		t.Fatal(err)
	}
	again, _ := http.NewRequest("POST", req.URL.String(), bytes.NewReader(body))
	again.Header = req.Header.Clone()
	if res := r.do(req); res.status != http.StatusOK {
		t.Fatalf("first: %d %s", res.status, res.body)
	}
	if res := r.do(again); res.status != http.StatusUnauthorized || res.err.Code != "replayed_nonce" {
		t.Errorf("replay: %d %s", res.status, res.body)
	}
}
