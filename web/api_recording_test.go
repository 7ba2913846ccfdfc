package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"callgate/pool"
	"callgate/web/apiclient"
)

// recEnv is the business API with call records and recordings on a real store.
type recEnv struct {
	t     *testing.T
	store *pool.SQLiteStore
	api   *Internal
	srv   *httptest.Server
	dir   string
	clk   *apiClock
}

func newRecEnv(t *testing.T) *recEnv {
	t.Helper()
	dir := t.TempDir()
	clk := &apiClock{now: apiT0}
	s, err := pool.OpenSQLite(context.Background(), filepath.Join(dir, "callgate.db"), pool.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewInternal(InternalDeps{Bindings: s, Nonces: s, Policy: testPolicy(t), Apps: testApps, Now: clk.Now,
		Outbound: OutboundAPI{Records: s}, Recordings: s})
	if err != nil {
		t.Fatal(err)
	}
	e := &recEnv{t: t, store: s, api: h, srv: httptest.NewServer(h), dir: dir, clk: clk}
	t.Cleanup(func() { e.srv.Close(); s.Close() })
	return e
}

// recording stores a recording of call id for tenant, with a file of body.
func (e *recEnv) recording(id, tenant string, body []byte) string {
	e.t.Helper()
	path := filepath.Join(e.dir, "rec", id+".wav")
	if body != nil {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	err := e.store.SaveRecording(context.Background(), pool.Recording{CallID: id, Tenant: tenant, Path: path,
		State: pool.RecordingDone, StartedAt: apiT0, EndedAt: apiT0.Add(time.Minute), Bytes: int64(len(body))})
	if err != nil {
		e.t.Fatal(err)
	}
	return path
}

// get sends a GET signed by app.
func (e *recEnv) get(app, secret, target string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+target, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if app != "" {
		if err := apiclient.Sign(req, app, secret, e.clk.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func TestRecordingDownload(t *testing.T) {
	e := newRecEnv(t)
	wav := append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), bytes.Repeat([]byte{7}, 100)...)
	e.recording("call-1", "acme", wav)
	e.recording("call-g", "globex", wav)
	e.recording("call-gone", "acme", nil)

	res, body := e.get("crm", crmSecret, "/v1/tenants/acme/calls/call-1/recording")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "audio/wav" || !bytes.Equal(body, wav) ||
		res.Header.Get("X-Callgate-Recording-State") != "done" {
		t.Fatalf("download: %d %v %q", res.StatusCode, res.Header, body)
	}
	for _, tc := range []struct {
		name, app, secret, target string
		status                    int
		code                      string
	}{
		{"no recording", "crm", crmSecret, "/v1/tenants/acme/calls/call-2/recording", 404, "not_found"},
		{"another tenant's call", "crm", crmSecret, "/v1/tenants/acme/calls/call-g/recording", 404, "not_found"},
		{"another tenant", "crm", crmSecret, "/v1/tenants/globex/calls/call-g/recording", 403, "tenant_not_allowed"},
		{"file gone", "crm", crmSecret, "/v1/tenants/acme/calls/call-gone/recording", 404, "not_found"},
		{"unsigned", "", "", "/v1/tenants/acme/calls/call-1/recording", 401, "missing_header"},
		{"query", "crm", crmSecret, "/v1/tenants/acme/calls/call-1/recording?x=1", 400, "unknown_field"},
	} {
		res, body := e.get(tc.app, tc.secret, tc.target)
		var eb apiclient.ErrorBody
		if err := json.Unmarshal(body, &eb); err != nil || res.StatusCode != tc.status || eb.Error.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, res.StatusCode, body, tc.status, tc.code)
		}
	}

	res, body = e.get("crm", crmSecret, "/v1/tenants/acme/recordings")
	var list RecordingList
	if err := json.Unmarshal(body, &list); err != nil || res.StatusCode != 200 || len(list.Recordings) != 2 {
		t.Fatalf("list: %d %s", res.StatusCode, body)
	}
	for _, r := range list.Recordings {
		if r.State != "done" || r.URL != "/v1/tenants/acme/calls/"+r.CallID+"/recording" {
			t.Errorf("listed %+v", r)
		}
	}
}
