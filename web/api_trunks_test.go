package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"callgate/pool"
	"callgate/routing"
	"callgate/web/apiclient"
)

// scoreBoard is a TrunkBoard over a real routing.Scoreboard (cmd/callgate adds the
// SIP edge's probes and live calls).
type scoreBoard struct{ b *routing.Scoreboard }

func (s scoreBoard) TrunkViews() []TrunkView {
	var out []TrunkView
	for _, sc := range s.b.Scores() {
		out = append(out, TrunkView{Name: sc.Trunk, State: string(sc.State), Why: sc.Why, Since: sc.Since, Score: sc.Score,
			ASR: sc.ASR, Seizures: sc.Seizures, Answers: sc.Answers, Weight: sc.Weight, Drained: sc.Drained,
			Disabled: sc.Disabled, Probe: ProbeView{State: string(sc.Probe)}})
	}
	return out
}

func (s scoreBoard) SetTrunkControl(name string, c routing.TrunkControl) bool {
	return s.b.SetControl(name, c)
}

func newTrunkEnv(t *testing.T) (*apiEnv, *routing.Scoreboard) {
	t.Helper()
	e := &apiEnv{t: t, path: filepath.Join(t.TempDir(), "callgate.db"), clk: &apiClock{now: apiT0}}
	s, err := pool.OpenSQLite(context.Background(), e.path, pool.WithClock(e.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	board := routing.NewScoreboard(routing.ScoreSettings{}, e.clk.Now)
	board.SetTrunks([]string{"carrier-a", "carrier-b"}, map[string]routing.TrunkControl{"carrier-b": {Weight: 2}})
	h, err := NewInternal(InternalDeps{Bindings: s, Nonces: s, Policy: testPolicy(t), Apps: testApps, Now: e.clk.Now,
		Trunks: scoreBoard{board}})
	if err != nil {
		t.Fatal(err)
	}
	e.store, e.srv = s, httptest.NewServer(h)
	t.Cleanup(e.close)
	return e, board
}

// trunkCall sends a request signed by app and decodes a 2xx answer strictly into out.
func (e *apiEnv) trunkCall(app, method, target string, body any, out any) response {
	e.t.Helper()
	req := e.request(method, target, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := apiclient.Sign(req, app, appSecrets[app], e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
	res := e.do(req)
	if res.status < 300 && out != nil {
		dec := json.NewDecoder(bytes.NewReader(res.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, target, res.body, err)
		}
	}
	return res
}

func TestAPITrunks(t *testing.T) {
	e, board := newTrunkEnv(t)
	for i := 0; i < 20; i++ {
		board.Observe(routing.Seizure{Trunk: "carrier-a", At: apiT0})
	}

	var list TrunkList
	if res := e.trunkCall("ops", "GET", "/v1/trunks", nil, &list); res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if len(list.Trunks) != 2 {
		t.Fatalf("trunks %+v", list.Trunks)
	}
	a, b := list.Trunks[0], list.Trunks[1]
	if a.Name != "carrier-a" || a.State != "degraded" || a.Why == "" || a.Seizures < 19 || a.Score <= 0 {
		t.Errorf("carrier-a %+v", a)
	}
	if b.Name != "carrier-b" || b.State != "up" || b.Weight != 2 || b.Score <= a.Score {
		t.Errorf("carrier-b %+v", b)
	}

	// Drain b by hand: it takes no new calls; its weight stays.
	var v TrunkView
	if res := e.trunkCall("ops", "PUT", "/v1/trunks/carrier-b", map[string]any{"drained": true}, &v); res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if v.State != "drained" || v.Weight != 2 || v.Score != 0 || !v.Drained {
		t.Errorf("drained %+v", v)
	}
	if s, _ := board.Score("carrier-b"); s.State != routing.TrunkDrained {
		t.Errorf("scoreboard says %s", s.State)
	}
	// Undrain and reweigh; disable a.
	e.trunkCall("ops", "PUT", "/v1/trunks/carrier-b", map[string]any{"drained": false, "weight": 0.5}, &v)
	if v.State != "up" || v.Weight != 0.5 {
		t.Errorf("undrained %+v", v)
	}
	e.trunkCall("ops", "PUT", "/v1/trunks/carrier-a", map[string]any{"disabled": true}, &v)
	if v.State != "disabled" || v.Why != "disabled by hand" {
		t.Errorf("disabled %+v", v)
	}
	if res := e.trunkCall("ops", "GET", "/v1/trunks/carrier-a", nil, &v); res.status != http.StatusOK || v.State != "disabled" {
		t.Errorf("GET one: %d %+v", res.status, v)
	}

	for _, tc := range []struct {
		name, app, method, target string
		body                      any
		status                    int
		code                      string
	}{
		{"tenant app may not read", "crm", "GET", "/v1/trunks", nil, http.StatusForbidden, "trunks_not_allowed"},
		{"tenant app may not change", "crm", "PUT", "/v1/trunks/carrier-a", map[string]any{"disabled": false}, http.StatusForbidden, "trunks_not_allowed"},
		{"unknown trunk", "ops", "PUT", "/v1/trunks/nope", map[string]any{"drained": true}, http.StatusNotFound, "not_found"},
		{"bad weight", "ops", "PUT", "/v1/trunks/carrier-a", map[string]any{"weight": -3}, http.StatusBadRequest, "invalid_field"},
		{"unknown field", "ops", "PUT", "/v1/trunks/carrier-a", map[string]any{"wieght": 1}, http.StatusBadRequest, ""},
		{"wrong method", "ops", "POST", "/v1/trunks", map[string]any{}, http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.trunkCall(tc.app, tc.method, tc.target, tc.body, nil)
			if res.status != tc.status || (tc.code != "" && res.err.Code != tc.code) {
				t.Errorf("%d %s, want %d %s", res.status, res.body, tc.status, tc.code)
			}
		})
	}
	// Unsigned requests are refused like every /v1/ request.
	if res := e.do(e.request("GET", "/v1/trunks", nil)); res.status != http.StatusUnauthorized {
		t.Errorf("unsigned: %d", res.status)
	}
	// The refused changes changed nothing.
	if s, _ := board.Score("carrier-a"); s.State != routing.TrunkDisabled {
		t.Errorf("carrier-a %s", s.State)
	}
}

func TestMetricsTrunkState(t *testing.T) {
	m := NewMetrics(MetricsSources{Trunks: func() []TrunkGauge {
		return []TrunkGauge{{Name: "a", State: "degraded", Score: 0.25, ASR: 0.1}, {Name: "unscored"}}
	}})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{
		`callgate_trunk_state{state="degraded",trunk="a"} 1`,
		`callgate_trunk_state{state="up",trunk="a"} 0`,
		`callgate_trunk_state{state="down",trunk="a"} 0`,
		`callgate_trunk_score{trunk="a"} 0.25`,
		`callgate_trunk_asr{trunk="a"} 0.1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(text, `trunk="unscored"`) && strings.Contains(text, `callgate_trunk_score{trunk="unscored"}`) {
		t.Error("an unscored trunk has a score")
	}
}
