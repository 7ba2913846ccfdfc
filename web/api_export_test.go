package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"callgate/pool"
	"callgate/web/apiclient"
)

// getCSV sends a GET signed by app and returns the status, Content-Type and body.
func (e *outEnv) getCSV(app, target string) (int, string, string) {
	e.t.Helper()
	req := e.request(http.MethodGet, target, nil)
	if err := apiclient.Sign(req, app, appSecrets[app], e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// readCSV parses body as RFC 4180 CSV (CRLF line ends) into maps by column.
func readCSV(t *testing.T, body string) ([]string, []map[string]string) {
	t.Helper()
	if body != "" && !strings.Contains(body, "\r\n") {
		t.Errorf("CSV lines do not end in CRLF: %q", body)
	}
	r := csv.NewReader(strings.NewReader(body))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, body)
	}
	if len(rows) == 0 {
		t.Fatal("no header row")
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			m[col] = row[i]
		}
		out = append(out, m)
	}
	return rows[0], out
}

func TestExportCallsCSV(t *testing.T) {
	e := newOutEnv(t)
	storeCalls(t, e.store)
	status, ct, body := e.getCSV("crm", "/v1/tenants/acme/calls.csv")
	if status != http.StatusOK || ct != "text/csv; charset=utf-8" {
		t.Fatalf("status %d, Content-Type %q: %s", status, ct, body)
	}
	header, rows := readCSV(t, body)
	if strings.Join(header, ",") != strings.Join(callColumns, ",") {
		t.Fatalf("header %v", header)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r["call_id"])
	}
	if strings.Join(ids, ",") != "a3,a2,a1,a0" {
		t.Fatalf("rows %v, want acme's calls newest first (not globex's)", ids)
	}
	a0 := rows[3]
	for col, want := range map[string]string{
		"caller": "'" + outFixA, "callee": "'+8613510001000", "out_trunk": "carrier-a", "result": "answered",
		"sip_code": "200", "setup_at": "2026-11-20T09:00:00Z", "answer_at": "2026-11-20T09:00:05Z",
		"end_at": "2026-11-20T09:01:06Z", "ring_at": "2026-11-20T09:00:02Z", "billed_seconds": "61",
		"cost_milli": "66", "cost": "0.066", "attempts": "2", "feedback": "noise",
	} {
		if a0[col] != want {
			t.Errorf("a0 %s = %q, want %q", col, a0[col], want)
		}
	}
	if rows[2]["result"] != "unanswered" || rows[2]["answer_at"] != "" || rows[2]["feedback"] != "" {
		t.Errorf("a1 row: %v", rows[2])
	}

	// Filters are the listing's; one row per attempt on request.
	_, _, body = e.getCSV("crm", "/v1/tenants/acme/calls.csv?agent=alice&rows=attempts")
	header, rows = readCSV(t, body)
	if strings.Join(header, ",") != strings.Join(attemptColumns, ",") || len(rows) != 2 {
		t.Fatalf("attempt rows: %v %v", header, rows)
	}
	if rows[0]["seq"] != "1" || rows[0]["trunk"] != "carrier-b" || rows[0]["sip_code"] != "503" ||
		rows[1]["seq"] != "2" || rows[1]["answer_at"] != "2026-11-20T09:00:05Z" {
		t.Errorf("attempt rows: %v", rows)
	}
	_, _, body = e.getCSV("crm", "/v1/tenants/acme/calls.csv?result=answered&direction=outbound")
	if _, rows = readCSV(t, body); len(rows) != 1 || rows[0]["call_id"] != "a0" {
		t.Errorf("result=answered&direction=outbound: %v", rows)
	}
	_, _, body = e.getCSV("crm", "/v1/tenants/acme/calls.csv?limit=2")
	if _, rows = readCSV(t, body); len(rows) != 2 {
		t.Errorf("limit=2: %d rows", len(rows))
	}

	// Bad parameters and other tenants are JSON errors, as on the listing.
	for _, tc := range []struct {
		app, target string
		status      int
		code        string
	}{
		{"crm", "/v1/tenants/acme/calls.csv?rows=legs", 400, "invalid_field"},
		{"crm", "/v1/tenants/acme/calls.csv?bogus=1", 400, "unknown_field"},
		{"crm", "/v1/tenants/acme/calls.csv?direction=sideways", 400, "invalid_field"},
		{"crm", "/v1/tenants/globex/calls.csv", 403, "tenant_not_allowed"},
	} {
		res := e.call(tc.app, http.MethodGet, tc.target, nil, nil)
		if res.status != tc.status || res.err.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.target, res.status, res.err.Code, tc.status, tc.code)
		}
	}
	if res := e.call("crm", http.MethodPost, "/v1/tenants/acme/calls.csv", nil, nil); res.status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", res.status)
	}
}

// TestExportCallsCSVHostileCells shows that cells a spreadsheet would run as a
// formula are defused, and that quotes, commas and line breaks are quoted.
func TestExportCallsCSVHostileCells(t *testing.T) {
	e := newOutEnv(t)
	ctx := context.Background()
	c := pool.Call{ID: "h0", Tenant: "acme", Direction: pool.Outbound, Agent: "=HYPERLINK(\"http://x\")",
		Caller: outFixA, Callee: "+8613510001000", Reason: "@SUM(A1)", HangupBy: "-2+3", State: "ended",
		OutTrunk: "a,\"b\"\r\nc", SetupAt: apiT0, EndAt: apiT0.Add(time.Second)}
	if err := e.store.StartCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, _, body := e.getCSV("crm", "/v1/tenants/acme/calls.csv")
	_, rows := readCSV(t, body)
	if len(rows) != 1 {
		t.Fatalf("rows: %v", rows)
	}
	for col, want := range map[string]string{
		"agent": "'=HYPERLINK(\"http://x\")", "reason": "'@SUM(A1)", "hangup_by": "'-2+3",
		"out_trunk": "a,\"b\"\nc", // encoding/csv reads a quoted CRLF as LF
	} {
		if rows[0][col] != want {
			t.Errorf("%s = %q, want %q", col, rows[0][col], want)
		}
	}
	if !strings.Contains(body, `"a,""b""`) {
		t.Errorf("quotes are not doubled inside a quoted cell: %q", body)
	}
}

// TestExportCallsCSVPages streams more calls than one store page holds.
func TestExportCallsCSVPages(t *testing.T) {
	e := newOutEnv(t)
	ctx := context.Background()
	n := exportPage + 3
	var calls []pool.Call
	for i := range n {
		calls = append(calls, pool.Call{ID: fmt.Sprintf("p%04d", i), Tenant: "acme", Direction: pool.Outbound,
			Caller: outFixA, Callee: "+8613510001000", State: "ended", SetupAt: apiT0.Add(time.Duration(i) * time.Second),
			EndAt: apiT0.Add(time.Duration(i)*time.Second + time.Millisecond)})
	}
	if err := e.store.SaveBatch(ctx, pool.Batch{Calls: calls}); err != nil {
		t.Fatal(err)
	}
	_, _, body := e.getCSV("ops", "/v1/tenants/acme/calls.csv")
	_, rows := readCSV(t, body)
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r["call_id"]] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct calls in %d rows", len(seen), n)
	}
}

func TestSafeCellsAndFileName(t *testing.T) {
	got := safeCells([]string{"=1", "+1", "-1", "@a", "\tx", "a=b", "", "1"})
	want := []string{"'=1", "'+1", "'-1", "'@a", "'\tx", "a=b", "", "1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("safeCells = %q, want %q", got, want)
	}
	if n := csvFileName("ac\"me/../x", apiT0); n != "calls-acme..x-20261120.csv" {
		t.Errorf("file name %q", n)
	}
}
