package web

import (
	"net/http"
	"testing"
)

// suppliedBoard names each trunk's supplier, as cmd/callgate's board does from the
// config.
type suppliedBoard struct {
	scoreBoard
	of map[string]string
}

func (s suppliedBoard) TrunkViews() []TrunkView {
	vs := s.scoreBoard.TrunkViews()
	for i := range vs {
		vs[i].Supplier = s.of[vs[i].Name]
	}
	return vs
}

// Draining a supplier drains each of its trunks and no other; bringing it back
// undrains them; each keeps its weight. Only apps for every tenant may do it.
func TestAPISupplierControl(t *testing.T) {
	e, board := newTrunkEnv(t)
	h := e.srv.Config.Handler.(*Internal)
	h.trunks = suppliedBoard{scoreBoard{board}, map[string]string{"carrier-a": "acme-tel", "carrier-b": "other-tel"}}

	var v SupplierView
	if res := e.trunkCall("ops", http.MethodPut, "/v1/suppliers/acme-tel", map[string]any{"drained": true}, &v); res.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	if len(v.Trunks) != 1 || v.Trunks[0].Name != "carrier-a" || !v.Trunks[0].Drained || v.Trunks[0].State != "drained" {
		t.Fatalf("after draining acme-tel: %+v", v)
	}
	if b, _ := board.Score("carrier-b"); b.Drained || b.Weight != 2 {
		t.Errorf("another supplier's trunk changed: %+v", b)
	}
	if res := e.trunkCall("ops", http.MethodPut, "/v1/suppliers/acme-tel", map[string]any{"drained": false}, &v); res.status != http.StatusOK || v.Trunks[0].Drained {
		t.Fatalf("undrain: %d %+v", res.status, v)
	}
	if res := e.trunkCall("ops", http.MethodPut, "/v1/suppliers/other-tel", map[string]any{"disabled": true}, &v); res.status != http.StatusOK ||
		!v.Trunks[0].Disabled || v.Trunks[0].Weight != 2 {
		t.Fatalf("disable other-tel: %d %+v", res.status, v)
	}
	for _, tc := range []struct {
		app, method, target string
		body                any
		status              int
	}{
		{"crm", http.MethodGet, "/v1/suppliers/acme-tel", nil, http.StatusForbidden},
		{"ops", http.MethodGet, "/v1/suppliers/nobody", nil, http.StatusNotFound},
		{"ops", http.MethodDelete, "/v1/suppliers/acme-tel", nil, http.StatusMethodNotAllowed},
		{"ops", http.MethodPut, "/v1/suppliers/acme-tel", map[string]any{"weight": 3}, http.StatusBadRequest},
	} {
		if res := e.trunkCall(tc.app, tc.method, tc.target, tc.body, nil); res.status != tc.status {
			t.Errorf("%s %s %s: %d %s, want %d", tc.app, tc.method, tc.target, res.status, res.body, tc.status)
		}
	}
}
