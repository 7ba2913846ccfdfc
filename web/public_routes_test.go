package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The supplier endpoint and the agent page share the public listener: building it
// with both must not panic on overlapping patterns, and each request reaches its own.
func TestPublicRoutesSupplierBesideAssets(t *testing.T) {
	supplier := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	p := NewPublic(nil, WithSuppliers(supplier), WithAssets(Assets()))
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/supplier/v1/numbers/+8613800000000", http.StatusTeapot},
		{"GET", "/", http.StatusOK},
		{"GET", "/supplier/v1/numbers/+8613800000000", http.StatusTeapot}, // the endpoint answers its own 405
		{"POST", "/", http.StatusMethodNotAllowed},
	} {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
		}
	}
}
