package web

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"callgate/pool"
	"callgate/routing"

	"github.com/prometheus/client_golang/prometheus"
)

// This file exports a tenant's call records as CSV, and counts the records the
// retention pruner deletes:
//
//	GET /v1/tenants/{tenant}/calls.csv   every matching call (or attempt), streamed
//
// It takes the filters of GET …/calls (api_calls.go); cursor starts after a call of
// an earlier listing, limit caps the calls exported (default: all), and rows=attempts
// writes one row per attempt instead of one per call.

// exportPage is how many calls the export reads from the store at a time.
const exportPage = pool.MaxListLimit

// callColumns are the columns of a call row.
var callColumns = []string{"call_id", "tenant", "direction", "agent", "caller", "callee", "virtual", "in_trunk",
	"out_trunk", "state", "result", "sip_code", "reason", "hangup_by", "setup_at", "ring_at", "answer_at", "end_at",
	"billed_seconds", "cost_milli", "cost", "attempts", "feedback"}

// attemptColumns are the columns of an attempt row.
var attemptColumns = []string{"call_id", "tenant", "direction", "agent", "result", "seq", "trunk", "from", "to",
	"sip_code", "reason", "start_at", "ring_at", "answer_at", "end_at"}

// routeExport registers the CSV export when call records are served.
func (h *Internal) routeExport() {
	if h.outbound.Records != nil {
		h.mux.HandleFunc("/v1/tenants/{tenant}/calls.csv", h.api(h.callsCSV))
	}
}

// callsCSV serves GET /v1/tenants/{tenant}/calls.csv.
func (h *Internal) callsCSV(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	tenant, err := pathTenant(c)
	if err != nil {
		return err
	}
	cq, q, err := h.callQuery(c, tenant, "rows")
	if err != nil {
		return err
	}
	perAttempt := false
	switch q.Get("rows") {
	case "", "calls":
	case "attempts":
		perAttempt = true
	default:
		return badField("rows", "want calls or attempts")
	}
	total := cq.Limit // 0: every matching call
	cq.Limit = exportPage
	// The first page is read before anything is written, so that a store error
	// still gets a JSON error response.
	page, err := h.outbound.Records.ListCalls(c.ctx, cq)
	if err != nil {
		return err
	}
	hd := c.w.Header()
	hd.Set("Content-Type", "text/csv; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Disposition", `attachment; filename="`+csvFileName(tenant, c.now)+`"`)
	c.w.WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.w)
	w.UseCRLF = true // RFC 4180
	cols := callColumns
	if perAttempt {
		cols = attemptColumns
	}
	_ = w.Write(cols)
	written := 0
	for {
		for _, rec := range page.Calls {
			if total > 0 && written == total {
				break
			}
			written++
			if perAttempt {
				for _, a := range rec.Attempts {
					_ = w.Write(safeCells(attemptRow(rec, a)))
				}
				continue
			}
			_ = w.Write(safeCells(callRow(rec)))
		}
		w.Flush()
		if err := w.Error(); err != nil {
			// The client went away: nothing more can be said to it.
			h.log.Debug("call export ended early", "tenant", tenant, "err", err)
			return nil
		}
		if page.Next == "" || (total > 0 && written >= total) {
			return nil
		}
		cq.After = page.Next
		if page, err = h.outbound.Records.ListCalls(c.ctx, cq); err != nil {
			// The status is sent: the CSV is cut short, which the log says.
			h.log.Error("call export failed midway", "tenant", tenant, "calls", written, "err", err)
			return nil
		}
	}
}

// callRow is one call's row, in callColumns' order.
func callRow(rec pool.Call) []string {
	return []string{rec.ID, rec.Tenant, string(rec.Direction), rec.Agent, rec.Caller, rec.Callee, rec.Virtual,
		rec.InTrunk, rec.OutTrunk, rec.State, string(routing.OutcomeOf(rec)), strconv.Itoa(rec.SIPCode), rec.Reason,
		rec.HangupBy, csvTime(rec.SetupAt), csvTime(rec.RingAt), csvTime(rec.AnswerAt), csvTime(rec.EndAt),
		strconv.FormatInt(rec.BilledSec, 10), strconv.FormatInt(rec.CostMilli, 10), milliText(rec.CostMilli),
		strconv.Itoa(len(rec.Attempts)), feedbackKinds(rec.Feedback)}
}

// attemptRow is one attempt's row, in attemptColumns' order.
func attemptRow(rec pool.Call, a pool.Attempt) []string {
	return []string{rec.ID, rec.Tenant, string(rec.Direction), rec.Agent, string(routing.OutcomeOf(rec)),
		strconv.Itoa(a.Seq), a.Trunk, a.From, a.To, strconv.Itoa(a.SIPCode), a.Reason,
		csvTime(a.StartAt), csvTime(a.RingAt), csvTime(a.AnswerAt), csvTime(a.EndAt)}
}

// feedbackKinds lists the kinds of a call's feedback, "noise;no_ring".
func feedbackKinds(fs []pool.Feedback) string {
	kinds := make([]string, 0, len(fs))
	for _, f := range fs {
		kinds = append(kinds, string(f.Kind))
	}
	return strings.Join(kinds, ";")
}

// csvTime writes t in RFC 3339 UTC, or "" for the zero time.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// safeCells defuses spreadsheet formulas: a cell starting with = + - @ (or a tab
// or carriage return) gets a leading apostrophe, so that a spreadsheet shows it as
// text instead of evaluating it. E.164 numbers ("+86…") are shown as '+86…, which
// also keeps spreadsheets from reading them as numbers.
func safeCells(row []string) []string {
	for i, s := range row {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			row[i] = "'" + s
		}
	}
	return row
}

// csvFileName names the export file: calls-<tenant>-<UTC date>.csv, with anything
// but letters, digits, dot, dash and underscore in the tenant's name dropped.
func csvFileName(tenant string, now time.Time) string {
	clean := strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, tenant)
	return "calls-" + clean + "-" + now.UTC().Format("20060102") + ".csv"
}

// PrunedRecords counts the rows the call-record pruner deletes, by table, in m's
// registry as callgate_records_pruned_total; Add fits pool.PrunerSettings.OnPass.
type PrunedRecords struct{ rows *prometheus.CounterVec }

// NewPrunedRecords registers the counter in m.
func NewPrunedRecords(m *Metrics) (*PrunedRecords, error) {
	rows := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callgate_records_pruned_total",
		Help: "Call-record rows deleted by the retention pruner, by table (calls, attempts, feedback).",
	}, []string{"table"})
	if err := m.reg.Register(rows); err != nil {
		return nil, err
	}
	for _, t := range []string{"calls", "attempts", "feedback"} {
		rows.WithLabelValues(t) // shown as 0 before the first pass
	}
	return &PrunedRecords{rows: rows}, nil
}

// Add counts one pass.
func (p *PrunedRecords) Add(r pool.PruneResult) {
	p.rows.WithLabelValues("calls").Add(float64(r.Calls))
	p.rows.WithLabelValues("attempts").Add(float64(r.Attempts))
	p.rows.WithLabelValues("feedback").Add(float64(r.Feedback))
}
