package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"callgate/pool"
)

// fakeAdmin is a ConfigAdmin whose next reload result is set by the test.
type fakeAdmin struct {
	mu     sync.Mutex
	next   ReloadResult
	by     []string
	status ConfigStatus
}

func (a *fakeAdmin) Reload(_ context.Context, by string) ReloadResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.by = append(a.by, by)
	r := a.next
	r.By = by
	a.status.LastReload = &r
	return r
}

func (a *fakeAdmin) ConfigStatus() ConfigStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

func TestAdminConfigAndReload(t *testing.T) {
	ctx := context.Background()
	e := &apiEnv{t: t, path: filepath.Join(t.TempDir(), "callgate.db"), clk: &apiClock{now: apiT0}}
	s, err := pool.OpenSQLite(ctx, e.path, pool.WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	admin := &fakeAdmin{status: ConfigStatus{Version: "abc", Files: []string{"callgate.yaml"}, LoadedAt: apiT0}}
	h, err := NewInternal(InternalDeps{Bindings: s, Nonces: s, Policy: testPolicy(t), Apps: testApps, Now: e.clk.Now, Admin: admin})
	if err != nil {
		t.Fatal(err)
	}
	e.store, e.srv = s, httptest.NewServer(h)
	t.Cleanup(func() { e.srv.Close(); s.Close() })
	oe := &outEnv{apiEnv: e}

	var st ConfigStatus
	if res := oe.call("ops", http.MethodGet, "/v1/admin/config", nil, &st); res.status != 200 || st.Version != "abc" || st.LastReload != nil {
		t.Fatalf("config: %d %+v", res.status, st)
	}
	// A tenant's app may not administer.
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		path := map[string]string{http.MethodGet: "/v1/admin/config", http.MethodPost: "/v1/admin/reload"}[m]
		if res := oe.call("crm", m, path, nil, nil); res.status != http.StatusForbidden || res.err.Code != "admin_only" {
			t.Errorf("crm %s %s: %d %s", m, path, res.status, res.err.Code)
		}
	}
	if len(admin.by) != 0 {
		t.Fatalf("a refused request reloaded: %v", admin.by)
	}
	if res := oe.call("ops", http.MethodGet, "/v1/admin/reload", nil, nil); res.status != http.StatusMethodNotAllowed {
		t.Errorf("GET reload: %d", res.status)
	}

	admin.next = ReloadResult{At: apiT0, OK: true, Changed: true, Version: "def", Applied: []string{"trunks"}}
	var rr ReloadResult
	if res := oe.call("ops", http.MethodPost, "/v1/admin/reload", nil, &rr); res.status != 200 || !rr.OK || rr.By != "api:ops" {
		t.Fatalf("good reload: %d %+v", res.status, rr)
	}
	admin.next = ReloadResult{At: apiT0.Add(time.Minute), OK: false, Version: "def",
		Errors: []string{"callgate.yaml:7: trunks[0]: field hots not found"}}
	res := oe.call("ops", http.MethodPost, "/v1/admin/reload", nil, nil)
	if res.status != http.StatusOK {
		t.Fatalf("bad reload: %d %s", res.status, res.body)
	}
	if err := json.Unmarshal(res.body, &rr); err != nil || rr.OK || len(rr.Errors) != 1 {
		t.Fatalf("bad reload body %s: %v", res.body, err)
	}
	if res := oe.call("ops", http.MethodGet, "/v1/admin/config", nil, &st); res.status != 200 || st.LastReload == nil ||
		st.LastReload.Errors[0] != "callgate.yaml:7: trunks[0]: field hots not found" {
		t.Fatalf("config after a bad reload: %+v", st)
	}
}
