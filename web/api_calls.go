package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"callgate/pool"
	"callgate/routing"
)

// This file holds the tenant's call records on the business API, and what the
// endpoints about outbound calling share (OutboundAPI, their routes, reading a query):
//
//	GET /v1/tenants/{tenant}/calls        list calls with their attempts and feedback
//	GET /v1/tenants/{tenant}/calls/{id}   read one call
//	GET /v1/tenants/{tenant}/feedback     list the feedback agents filed
//
// api_dnc.go, api_explain.go and api_cost.go hold the others.

// OutboundAPI configures the endpoints about agents' outbound calls
// (InternalDeps.Outbound). Each part left nil is not served (404).
type OutboundAPI struct {
	// DoNotCall changes the do-not-call lists so that the next call obeys them, and
	// reads numbers as the tenant's calls do: the outbound router. With Lists it
	// serves /v1/dnc and /v1/tenants/{tenant}/dnc.
	DoNotCall DoNotCallRouter
	// Lists reads the do-not-call lists: the store.
	Lists DoNotCallStore
	// Explainer serves /v1/tenants/{tenant}/explain: the outbound router.
	Explainer CallerExplainer
	// Records serves /v1/tenants/{tenant}/calls and …/feedback: the store.
	Records CallRecordStore
	// Costs serves /v1/tenants/{tenant}/cost: the store.
	Costs CostStore
}

// NumberReader reads a number written in any format as E.164, the way a tenant's
// calls read it; *routing.Outbound is one.
type NumberReader interface {
	Normalize(tenant, number string) (string, error)
}

// CallRecordStore reads a tenant's call records; *pool.SQLiteStore is one.
type CallRecordStore interface {
	ListCalls(ctx context.Context, q pool.CallQuery) (pool.CallPage, error)
	Call(ctx context.Context, id string) (pool.Call, error)
	ListFeedback(ctx context.Context, q pool.FeedbackQuery) ([]pool.FeedbackRecord, int64, error)
}

var (
	_ NumberReader    = (*routing.Outbound)(nil)
	_ CallRecordStore = (*pool.SQLiteStore)(nil)
)

// routeOutbound registers the endpoints of o that are set.
func (h *Internal) routeOutbound(o OutboundAPI) {
	h.outbound = o
	if o.DoNotCall != nil && o.Lists != nil {
		h.mux.HandleFunc("/v1/dnc", h.api(h.dncAll))
		for _, base := range []string{"/v1/dnc/global", "/v1/tenants/{tenant}/dnc"} {
			h.mux.HandleFunc(base, h.api(h.dncList))
			h.mux.HandleFunc(base+"/import", h.apiBody(MaxDNCImportBody, h.dncImport))
			h.mux.HandleFunc(base+"/{number}", h.api(h.dncNumber))
		}
	}
	if o.Explainer != nil {
		h.mux.HandleFunc("/v1/tenants/{tenant}/explain", h.api(h.explain))
	}
	if o.Records != nil {
		h.mux.HandleFunc("/v1/tenants/{tenant}/calls", h.api(h.calls))
		h.mux.HandleFunc("/v1/tenants/{tenant}/calls/{id}", h.api(h.call))
		h.mux.HandleFunc("/v1/tenants/{tenant}/feedback", h.api(h.feedback))
	}
	if o.Costs != nil {
		h.mux.HandleFunc("/v1/tenants/{tenant}/cost", h.api(h.cost))
	}
}

// CallList answers GET /v1/tenants/{tenant}/calls.
type CallList struct {
	Calls []CallRecord `json:"calls"`
	// NextCursor, when set, is the cursor parameter of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// CallRecord is a call record as the API shows it.
type CallRecord struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Direction string `json:"direction"` // inbound or outbound
	Agent     string `json:"agent,omitempty"`
	Caller    string `json:"caller"`
	Callee    string `json:"callee"`
	Virtual   string `json:"virtual,omitempty"`
	InTrunk   string `json:"in_trunk,omitempty"`
	OutTrunk  string `json:"out_trunk,omitempty"`
	State     string `json:"state"`
	// Result is answered, unanswered (it rang, or the callee refused it: busy,
	// declined) or not_placed.
	Result    string     `json:"result"`
	SIPCode   int        `json:"sip_code"`
	Reason    string     `json:"reason,omitempty"`
	HangupBy  string     `json:"hangup_by,omitempty"`
	SetupAt   time.Time  `json:"setup_at"`
	RingAt    *time.Time `json:"ring_at,omitempty"`
	AnswerAt  *time.Time `json:"answer_at,omitempty"`
	EndAt     *time.Time `json:"end_at,omitempty"`
	BilledSec int64      `json:"billed_seconds"`
	// CostMilli is what the supplier charges, in thousandths of the currency unit;
	// Cost is the same as a decimal ("0.120").
	CostMilli int64          `json:"cost_milli"`
	Cost      string         `json:"cost"`
	Packets   CallPackets    `json:"packets"`
	Attempts  []CallAttempt  `json:"attempts"`
	Feedback  []CallFeedback `json:"feedback"`
}

// CallPackets counts the RTP packets callgate received from and sent to each leg: A
// is the caller's (the agent's), B the callee's.
type CallPackets struct {
	FromA int64 `json:"from_a"`
	ToA   int64 `json:"to_a"`
	FromB int64 `json:"from_b"`
	ToB   int64 `json:"to_b"`
}

// CallAttempt is one leg tried for a call.
type CallAttempt struct {
	Seq      int        `json:"seq"`
	Trunk    string     `json:"trunk"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	SIPCode  int        `json:"sip_code"`
	Reason   string     `json:"reason,omitempty"`
	StartAt  *time.Time `json:"start_at,omitempty"`
	RingAt   *time.Time `json:"ring_at,omitempty"`
	AnswerAt *time.Time `json:"answer_at,omitempty"`
	EndAt    *time.Time `json:"end_at,omitempty"`
}

// CallFeedback is one report an agent filed about a call.
type CallFeedback struct {
	ID        int64     `json:"id"`
	CallID    string    `json:"call_id"`
	Kind      string    `json:"kind"`
	Note      string    `json:"note,omitempty"`
	Agent     string    `json:"agent,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Call is the call it is about, without attempts and feedback (in the feedback
	// list only).
	Call *CallRecord `json:"call,omitempty"`
}

// FeedbackList answers GET /v1/tenants/{tenant}/feedback.
type FeedbackList struct {
	Feedback   []CallFeedback `json:"feedback"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// errNoCall answers a call id that names no call of the tenant.
var errNoCall = &requestError{status: http.StatusNotFound, code: "not_found", msg: "no such call"}

// calls serves GET /v1/tenants/{tenant}/calls.
func (h *Internal) calls(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	tenant, err := pathTenant(c)
	if err != nil {
		return err
	}
	cq, _, err := h.callQuery(c, tenant)
	if err != nil {
		return err
	}
	page, err := h.outbound.Records.ListCalls(c.ctx, cq)
	if err != nil {
		return err
	}
	out := CallList{Calls: make([]CallRecord, 0, len(page.Calls)), NextCursor: page.Next}
	for _, rec := range page.Calls {
		out.Calls = append(out.Calls, wireCall(rec, true))
	}
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

// callQuery reads the filters of a call listing (GET …/calls and its CSV export,
// api_export.go) from c's query, which may also hold the parameters extra; it
// returns the query with them.
func (h *Internal) callQuery(c *apiCall, tenant string, extra ...string) (pool.CallQuery, url.Values, error) {
	q, err := queryParams(c, append([]string{"since", "until", "agent", "caller", "callee", "direction", "result",
		"answered", "trunk", "feedback", "cursor", "limit"}, extra...)...)
	if err != nil {
		return pool.CallQuery{}, nil, err
	}
	cq := pool.CallQuery{Tenant: tenant, Agent: q.Get("agent"), Trunk: q.Get("trunk"), After: q.Get("cursor")}
	if cq.Since, cq.Until, err = window(q, time.Time{}); err != nil {
		return cq, nil, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"caller", &cq.Caller}, {"callee", &cq.Callee}} {
		if v := q.Get(f.name); v != "" {
			if *f.dst, err = h.filterNumber(tenant, f.name, v); err != nil {
				return cq, nil, err
			}
		}
	}
	switch d := pool.Direction(q.Get("direction")); d {
	case "", pool.Inbound, pool.Outbound:
		cq.Direction = d
	default:
		return cq, nil, badField("direction", "want inbound or outbound")
	}
	switch r := pool.Outcome(q.Get("result")); r {
	case "", pool.OutcomeAnswered, pool.OutcomeUnanswered, pool.OutcomeNotPlaced:
		cq.Result = r
	default:
		return cq, nil, badField("result", "want answered, unanswered or not_placed")
	}
	if v := q.Get("answered"); v != "" {
		a, err := strconv.ParseBool(v)
		if err != nil {
			return cq, nil, badField("answered", "want true or false")
		}
		cq.Answered = &a
	}
	switch k := pool.FeedbackKind(q.Get("feedback")); {
	case k == "" || k == pool.FeedbackAny || k.Valid():
		cq.Feedback = k
	default:
		return cq, nil, badField("feedback", "want any, no_ring, noise, one_way_audio, wrong_number or other")
	}
	if cq.After != "" && !validCallCursor(cq.After) {
		return cq, nil, badField("cursor", "not a cursor this API returned")
	}
	if cq.Limit, err = limitOf(q); err != nil {
		return cq, nil, err
	}
	return cq, q, nil
}

// call serves GET /v1/tenants/{tenant}/calls/{id}.
func (h *Internal) call(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	tenant, err := pathTenant(c)
	if err != nil {
		return err
	}
	if _, err := queryParams(c); err != nil {
		return err
	}
	rec, err := h.outbound.Records.Call(c.ctx, c.r.PathValue("id"))
	switch {
	case errors.Is(err, pool.ErrNotFound):
		return errNoCall
	case err != nil:
		return err
	case rec.Tenant != tenant: // another tenant's call is no call of this one
		return errNoCall
	}
	writeAPIJSON(c.w, http.StatusOK, wireCall(rec, true))
	return nil
}

// feedback serves GET /v1/tenants/{tenant}/feedback.
func (h *Internal) feedback(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	tenant, err := pathTenant(c)
	if err != nil {
		return err
	}
	q, err := queryParams(c, "since", "until", "agent", "kind", "cursor", "limit")
	if err != nil {
		return err
	}
	fq := pool.FeedbackQuery{Tenant: tenant, Agent: q.Get("agent"), Kind: pool.FeedbackKind(q.Get("kind"))}
	if fq.Since, fq.Until, err = window(q, time.Time{}); err != nil {
		return err
	}
	if fq.Kind != "" && !fq.Kind.Valid() {
		return badField("kind", "want no_ring, noise, one_way_audio, wrong_number or other")
	}
	if v := q.Get("cursor"); v != "" {
		if fq.After, err = strconv.ParseInt(v, 10, 64); err != nil || fq.After <= 0 {
			return badField("cursor", "not a cursor this API returned")
		}
	}
	if fq.Limit, err = limitOf(q); err != nil {
		return err
	}
	recs, next, err := h.outbound.Records.ListFeedback(c.ctx, fq)
	if err != nil {
		return err
	}
	out := FeedbackList{Feedback: make([]CallFeedback, 0, len(recs))}
	for _, r := range recs {
		f := wireFeedback(r.Feedback)
		call := wireCall(r.Call, false)
		f.Call = &call
		out.Feedback = append(out.Feedback, f)
	}
	if next != 0 {
		out.NextCursor = strconv.FormatInt(next, 10)
	}
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

// wireCall is rec as the API shows it; details adds its attempts and feedback.
func wireCall(rec pool.Call, details bool) CallRecord {
	out := CallRecord{
		ID: rec.ID, Tenant: rec.Tenant, Direction: string(rec.Direction), Agent: rec.Agent, Caller: rec.Caller,
		Callee: rec.Callee, Virtual: rec.Virtual, InTrunk: rec.InTrunk, OutTrunk: rec.OutTrunk, State: rec.State,
		Result: string(routing.OutcomeOf(rec)), SIPCode: rec.SIPCode, Reason: rec.Reason, HangupBy: rec.HangupBy,
		SetupAt: rec.SetupAt, RingAt: timeOrNil(rec.RingAt), AnswerAt: timeOrNil(rec.AnswerAt), EndAt: timeOrNil(rec.EndAt),
		BilledSec: rec.BilledSec, CostMilli: rec.CostMilli, Cost: milliText(rec.CostMilli),
		Packets: CallPackets{FromA: rec.PacketsFromA, ToA: rec.PacketsToA, FromB: rec.PacketsFromB, ToB: rec.PacketsToB},
	}
	if !details {
		return out
	}
	out.Attempts = make([]CallAttempt, 0, len(rec.Attempts))
	for _, a := range rec.Attempts {
		out.Attempts = append(out.Attempts, CallAttempt{Seq: a.Seq, Trunk: a.Trunk, From: a.From, To: a.To,
			SIPCode: a.SIPCode, Reason: a.Reason, StartAt: timeOrNil(a.StartAt), RingAt: timeOrNil(a.RingAt),
			AnswerAt: timeOrNil(a.AnswerAt), EndAt: timeOrNil(a.EndAt)})
	}
	out.Feedback = make([]CallFeedback, 0, len(rec.Feedback))
	for _, f := range rec.Feedback {
		out.Feedback = append(out.Feedback, wireFeedback(f))
	}
	return out
}

func wireFeedback(f pool.Feedback) CallFeedback {
	return CallFeedback{ID: f.ID, CallID: f.CallID, Kind: string(f.Kind), Note: f.Note, Agent: f.Agent, CreatedAt: f.CreatedAt}
}

// milliText writes thousandths as a decimal: 1234 is "1.234".
func milliText(m int64) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%03d", sign, m/1000, m%1000)
}

// validCallCursor reports whether s looks like a cursor ListCalls makes
// ("setupMS.rowid").
func validCallCursor(s string) bool {
	a, b, ok := strings.Cut(s, ".")
	_, err1 := strconv.ParseUint(a, 10, 63)
	n, err2 := strconv.ParseUint(b, 10, 63)
	return ok && err1 == nil && err2 == nil && n > 0
}

// pathTenant is the {tenant} of c's path, which c's app must act for.
func pathTenant(c *apiCall) (string, error) {
	tenant := c.r.PathValue("tenant")
	if tenant == pool.Wildcard {
		return "", badField("tenant", "name one tenant, not %q", pool.Wildcard)
	}
	return tenantOf(c.app, tenant)
}

// readNumber reads a number of a query or body field the way tenant's calls do
// (national numbers in its region), or as E.164 without an outbound router.
func (h *Internal) readNumber(tenant, field, raw string) (string, error) {
	if h.outbound.DoNotCall == nil {
		return number(field, raw, true)
	}
	n, err := h.outbound.DoNotCall.Normalize(tenant, raw)
	if err != nil {
		return "", numberProblem(field, err)
	}
	return n, nil
}

// filterNumber reads a number to look call records up by: as readNumber does, or,
// for a number written internationally ("+…", "00…") that no numbering plan knows
// (a caller number from a config), as plain E.164.
func (h *Internal) filterNumber(tenant, field, raw string) (string, error) {
	n, err := h.readNumber(tenant, field, raw)
	if err == nil {
		return n, nil
	}
	if s := strings.TrimSpace(raw); strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00") {
		if e164, perr := routing.NormalizeE164(s); perr == nil {
			return e164, nil
		}
	}
	return "", err
}

// queryParams parses c's query, which may hold each of names at most once and
// nothing else.
func queryParams(c *apiCall, names ...string) (url.Values, error) {
	q, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		return nil, &requestError{status: http.StatusBadRequest, code: "invalid_query", msg: "the query is not valid: " + err.Error()}
	}
	for k, vs := range q {
		known := false
		for _, n := range names {
			known = known || k == n
		}
		switch {
		case !known && len(names) == 0:
			return nil, &requestError{status: http.StatusBadRequest, code: "unknown_field", field: k,
				msg: "unknown query parameter " + strconv.Quote(truncate(k, 64)) + ": this endpoint takes none"}
		case !known:
			return nil, &requestError{status: http.StatusBadRequest, code: "unknown_field", field: k,
				msg: "unknown query parameter " + strconv.Quote(truncate(k, 64)) + ": want " + strings.Join(names, ", ")}
		case len(vs) > 1:
			return nil, badField(k, "give it once")
		}
	}
	return q, nil
}

// apiTime reads a time parameter: RFC 3339 ("2026-11-20T09:00:00Z", with an
// offset or fractional seconds) or unix seconds.
func apiTime(field, s string) (time.Time, error) {
	if t, ok := parseUnix(s); ok {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badField(field, "want an RFC 3339 time such as 2026-11-20T09:00:00Z, or unix seconds")
	}
	return t.UTC(), nil
}

// window reads since and until; an absent until is defUntil (zero: open).
func window(q url.Values, defUntil time.Time) (since, until time.Time, err error) {
	until = defUntil
	if v := q.Get("since"); v != "" {
		if since, err = apiTime("since", v); err != nil {
			return
		}
	}
	if v := q.Get("until"); v != "" {
		if until, err = apiTime("until", v); err != nil {
			return
		}
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		err = badField("until", "must be after since")
	}
	return
}

// limitOf reads the limit parameter: 1 to pool.MaxListLimit; 0 when absent (the
// store's default).
func limitOf(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > pool.MaxListLimit {
		return 0, badField("limit", "want a whole number from 1 to %d", pool.MaxListLimit)
	}
	return n, nil
}
