package pool

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file answers the business API's questions about one tenant's call records:
// pages of calls with their attempts and feedback (ListCalls) and the feedback agents
// filed (ListFeedback).

// CallQuery selects one tenant's call records for ListCalls. Zero fields do not
// filter.
type CallQuery struct {
	Tenant string // required
	// Since (inclusive) and Until (exclusive) bound the calls' SetupAt.
	Since, Until time.Time
	Agent        string
	Caller       string // E.164, as stored
	Callee       string // E.164, as stored
	Direction    Direction
	// Trunk selects calls that came in or went out on this trunk.
	Trunk string
	// Result selects calls by how they ended, as routing.OutcomeOf reads a record:
	// answered; unanswered (rang, or refused as a callee does: 480, 486, 600, 603);
	// not placed (everything else).
	Result Outcome
	// Answered, if set, selects the answered calls (true) or the others (false).
	Answered *bool
	// Feedback selects calls with feedback of this kind, or of any kind with
	// FeedbackAny.
	Feedback FeedbackKind
	// After is the Next of the previous page; "" for the first.
	After string
	// Limit bounds the page: 0 means 50, at most MaxListLimit.
	Limit int
}

// FeedbackAny in CallQuery.Feedback selects calls with any feedback.
const FeedbackAny FeedbackKind = "any"

// CallPage is one page of ListCalls.
type CallPage struct {
	// Calls are newest SetupAt first, each with its attempts and its feedback.
	Calls []Call
	// Next is the After of the next page; "" on the last page.
	Next string
}

// defaultCallPage is ListCalls' page size when CallQuery.Limit is zero.
const defaultCallPage = 50

// The SIP codes with which a callee refuses a call (routing.OutcomeOf).
const calleeRefusals = "480, 486, 600, 603"

// resultCondition is the SQL of routing.OutcomeOf for each outcome.
var resultCondition = map[Outcome]string{
	OutcomeAnswered:   "answer_at IS NOT NULL",
	OutcomeUnanswered: "answer_at IS NULL AND (ring_at IS NOT NULL OR sip_code IN (" + calleeRefusals + "))",
	OutcomeNotPlaced:  "answer_at IS NULL AND ring_at IS NULL AND sip_code NOT IN (" + calleeRefusals + ")",
}

// ListCalls returns a page of q.Tenant's call records, newest first, each with its
// attempts in Seq order and its feedback oldest first. A query without a tenant, or
// with an unknown Direction, Result or Feedback kind or a cursor ListCalls did not
// make, is ErrInvalid.
func (s *SQLiteStore) ListCalls(ctx context.Context, q CallQuery) (CallPage, error) {
	from, args, limit, err := callPageQuery(q)
	if err != nil {
		return CallPage{}, fmt.Errorf("pool: list calls: %w", err)
	}
	var (
		page  CallPage
		cs    []Call
		rowid []int64
	)
	err = s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT rowid, "+callColumns+from, args...)
		if err != nil {
			return err
		}
		if cs, rowid, err = scanCallRows(rows); err != nil || len(cs) == 0 {
			return err
		}
		if len(cs) > limit {
			cs, rowid = cs[:limit], rowid[:limit]
			last := cs[limit-1]
			page.Next = strconv.FormatInt(last.SetupAt.UnixMilli(), 10) + "." + strconv.FormatInt(rowid[limit-1], 10)
		}
		return joinCallDetails(ctx, tx, cs)
	})
	if err != nil {
		return CallPage{}, fmt.Errorf("pool: list calls of %q: %w", q.Tenant, s.closedOr(err))
	}
	page.Calls = cs
	return page, nil
}

// callPageQuery returns the FROM … LIMIT part of ListCalls' query, its arguments and
// the page size.
func callPageQuery(q CallQuery) (string, []any, int, error) {
	if q.Tenant == "" {
		return "", nil, 0, fmt.Errorf("%w: a tenant is required", ErrInvalid)
	}
	where, args := []string{"tenant = ?"}, []any{q.Tenant}
	add := func(cond string, vals ...any) {
		where, args = append(where, cond), append(args, vals...)
	}
	if !q.Since.IsZero() {
		add("setup_at >= ?", q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		add("setup_at < ?", q.Until.UnixMilli())
	}
	for _, f := range []struct{ col, val string }{{"agent", q.Agent}, {"caller", q.Caller}, {"callee", q.Callee}} {
		if f.val != "" {
			add(f.col+" = ?", f.val)
		}
	}
	switch q.Direction {
	case "":
	case Inbound, Outbound:
		add("direction = ?", string(q.Direction))
	default:
		return "", nil, 0, fmt.Errorf("%w: direction %q", ErrInvalid, q.Direction)
	}
	if q.Trunk != "" {
		add("(out_trunk = ? OR in_trunk = ?)", q.Trunk, q.Trunk)
	}
	if q.Result != "" {
		cond, ok := resultCondition[q.Result]
		if !ok {
			return "", nil, 0, fmt.Errorf("%w: result %q", ErrInvalid, q.Result)
		}
		add(cond)
	}
	if q.Answered != nil {
		if *q.Answered {
			add(resultCondition[OutcomeAnswered])
		} else {
			add("answer_at IS NULL")
		}
	}
	switch {
	case q.Feedback == "":
	case q.Feedback == FeedbackAny:
		add("EXISTS (SELECT 1 FROM call_feedback f WHERE f.call_id = calls.id)")
	case q.Feedback.Valid():
		add("EXISTS (SELECT 1 FROM call_feedback f WHERE f.call_id = calls.id AND f.kind = ?)", string(q.Feedback))
	default:
		return "", nil, 0, fmt.Errorf("%w: feedback kind %q", ErrInvalid, q.Feedback)
	}
	if q.After != "" {
		at, row, ok := parseCallCursor(q.After)
		if !ok {
			return "", nil, 0, fmt.Errorf("%w: cursor %q", ErrInvalid, q.After)
		}
		// The first condition lets SQLite bound its scan of the index; the second is
		// the exact keyset.
		add("setup_at <= ? AND (setup_at < ? OR rowid < ?)", at, at, row)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultCallPage
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	from := " FROM calls"
	if q.Agent != "" {
		from += " INDEXED BY calls_by_tenant_agent_setup" // see callsQuery
	}
	from += " WHERE " + strings.Join(where, " AND ") + " ORDER BY setup_at DESC, rowid DESC LIMIT ?"
	return from, append(args, limit+1), limit, nil
}

// parseCallCursor reads "setupMS.rowid".
func parseCallCursor(s string) (at, row int64, ok bool) {
	a, r, found := strings.Cut(s, ".")
	if !found {
		return 0, 0, false
	}
	at, err1 := strconv.ParseInt(a, 10, 64)
	row, err2 := strconv.ParseInt(r, 10, 64)
	return at, row, err1 == nil && err2 == nil && at >= 0 && row > 0
}

// scanCallRows reads rows of rowid and callColumns and closes rows.
func scanCallRows(rows *sql.Rows) ([]Call, []int64, error) {
	defer rows.Close()
	var (
		cs  []Call
		ids []int64
	)
	for rows.Next() {
		var (
			c                       Call
			id                      int64
			setup, ring, ans, endAt sql.NullInt64
		)
		err := rows.Scan(&id, &c.ID, &c.Tenant, &c.Direction, &c.Agent, &c.Caller, &c.Callee, &c.Virtual,
			&c.InTrunk, &c.OutTrunk, &c.State, &c.SIPCode, &c.Reason, &c.HangupBy,
			&setup, &ring, &ans, &endAt, &c.BilledSec, &c.CostMilli,
			&c.PacketsFromA, &c.PacketsToA, &c.PacketsFromB, &c.PacketsToB)
		if err != nil {
			return nil, nil, err
		}
		c.SetupAt, c.RingAt, c.AnswerAt, c.EndAt = fromMS(setup), fromMS(ring), fromMS(ans), fromMS(endAt)
		cs, ids = append(cs, c), append(ids, id)
	}
	return cs, ids, rows.Err()
}

// joinCallDetails reads the attempts and feedback of cs in tx.
func joinCallDetails(ctx context.Context, tx *sql.Tx, cs []Call) error {
	index := make(map[string]int, len(cs))
	ids := make([]any, len(cs))
	for i := range cs {
		index[cs[i].ID], ids[i] = i, cs[i].ID
	}
	in := "(" + placeholders(len(ids)) + ")"
	rows, err := tx.QueryContext(ctx, "SELECT "+attemptColumns+" FROM call_attempts WHERE call_id IN "+in+
		" ORDER BY call_id, seq", ids...)
	if err != nil {
		return err
	}
	err = scanAttempts(rows, func(a Attempt) {
		if i, ok := index[a.CallID]; ok {
			cs[i].Attempts = append(cs[i].Attempts, a)
		}
	})
	if err != nil {
		return err
	}
	rows, err = tx.QueryContext(ctx, "SELECT "+feedbackColumns+" FROM call_feedback WHERE call_id IN "+in+
		" ORDER BY created_at, id", ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFeedback(rows)
		if err != nil {
			return err
		}
		if i, ok := index[f.CallID]; ok {
			cs[i].Feedback = append(cs[i].Feedback, f)
		}
	}
	return rows.Err()
}

func scanFeedback(rows rowScanner) (Feedback, error) {
	var (
		f       Feedback
		created sql.NullInt64
	)
	err := rows.Scan(&f.ID, &f.CallID, &f.Kind, &f.Note, &f.Agent, &created)
	f.CreatedAt = fromMS(created)
	return f, err
}

// FeedbackQuery selects the feedback on one tenant's calls for ListFeedback. Zero
// fields do not filter.
type FeedbackQuery struct {
	Tenant string // required
	// Since (inclusive) and Until (exclusive) bound the feedback's CreatedAt.
	Since, Until time.Time
	Agent        string // who filed it
	Kind         FeedbackKind
	// After is the ID of the last feedback of the previous page; 0 for the first.
	After int64
	// Limit bounds the page: 0 means 50, at most MaxListLimit.
	Limit int
}

// FeedbackRecord is one feedback with the call it is about (without the call's
// attempts and feedback).
type FeedbackRecord struct {
	Feedback
	Call Call
}

// ListFeedback returns a page of the feedback on q.Tenant's calls, newest first (by
// ID, the order it was filed), and the After of the next page (0 on the last). A
// query without a tenant or with an unknown kind is ErrInvalid.
func (s *SQLiteStore) ListFeedback(ctx context.Context, q FeedbackQuery) ([]FeedbackRecord, int64, error) {
	if q.Tenant == "" {
		return nil, 0, fmt.Errorf("pool: list feedback: %w: a tenant is required", ErrInvalid)
	}
	if q.Kind != "" && !q.Kind.Valid() {
		return nil, 0, fmt.Errorf("pool: list feedback: %w: kind %q", ErrInvalid, q.Kind)
	}
	where, args := []string{"c.tenant = ?"}, []any{q.Tenant}
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if !q.Since.IsZero() {
		add("f.created_at >= ?", q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		add("f.created_at < ?", q.Until.UnixMilli())
	}
	if q.Agent != "" {
		add("f.agent = ?", q.Agent)
	}
	if q.Kind != "" {
		add("f.kind = ?", string(q.Kind))
	}
	if q.After > 0 {
		add("f.id < ?", q.After)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultCallPage
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	cols := "f.id, f.call_id, f.kind, f.note, f.agent, f.created_at, c." +
		strings.ReplaceAll(strings.Join(strings.Fields(callColumns), " "), ", ", ", c.")
	// CROSS JOIN keeps this order: feedback newest first, each call found by its key
	// (a tenant has far more calls than feedback).
	query := "SELECT " + cols + " FROM call_feedback f CROSS JOIN calls c ON c.id = f.call_id WHERE " +
		strings.Join(where, " AND ") + " ORDER BY f.id DESC LIMIT ?"
	args = append(args, limit+1)
	var out []FeedbackRecord
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r                       FeedbackRecord
				created                 sql.NullInt64
				setup, ring, ans, endAt sql.NullInt64
			)
			c := &r.Call
			err := rows.Scan(&r.ID, &r.CallID, &r.Kind, &r.Note, &r.Agent, &created,
				&c.ID, &c.Tenant, &c.Direction, &c.Agent, &c.Caller, &c.Callee, &c.Virtual,
				&c.InTrunk, &c.OutTrunk, &c.State, &c.SIPCode, &c.Reason, &c.HangupBy,
				&setup, &ring, &ans, &endAt, &c.BilledSec, &c.CostMilli,
				&c.PacketsFromA, &c.PacketsToA, &c.PacketsFromB, &c.PacketsToB)
			if err != nil {
				return err
			}
			r.CreatedAt = fromMS(created)
			c.SetupAt, c.RingAt, c.AnswerAt, c.EndAt = fromMS(setup), fromMS(ring), fromMS(ans), fromMS(endAt)
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("pool: list feedback of %q: %w", q.Tenant, s.closedOr(err))
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
