package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadyzNamesWhatFailed(t *testing.T) {
	ok := func(context.Context) error { return nil }
	bad := func(context.Context) error { return errors.New("database is locked") }
	tests := []struct {
		checks map[string]Check
		code   int
		failed map[string]string
	}{
		{checks: map[string]Check{"store": ok, "sip": ok}, code: 200},
		{checks: map[string]Check{"store": bad, "sip": ok}, code: 503, failed: map[string]string{"store": "database is locked"}},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(NewPublic(tt.checks))
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Status string            `json:"status"`
			Failed map[string]string `json:"failed"`
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		srv.Close()
		if res.StatusCode != tt.code || len(body.Failed) != len(tt.failed) || body.Failed["store"] != tt.failed["store"] {
			t.Fatalf("readyz = %d %+v, want %d failed %v", res.StatusCode, body, tt.code, tt.failed)
		}
	}
}

func TestHealthzAndUnknownPaths(t *testing.T) {
	srv := httptest.NewServer(NewPublic(nil))
	defer srv.Close()
	for path, want := range map[string]int{"/healthz": 200, "/": 200, "/nope": 404} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, res.StatusCode, want)
		}
	}
	res, err := http.Post(srv.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", res.StatusCode)
	}
}
