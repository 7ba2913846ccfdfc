package pool

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The business API's questions about one tenant's call records on PostgreSQL (see
// sqlite_calls_list.go). The seq column, the order records were inserted in, plays
// the part of SQLite's rowid: it breaks ties between calls set up in the same
// millisecond and is the second half of the page cursor.

// ListCalls returns a page of q.Tenant's call records, newest first, with their
// attempts and feedback, as SQLiteStore.ListCalls does.
func (s *PostgresStore) ListCalls(ctx context.Context, q CallQuery) (CallPage, error) {
	w, limit, err := pgCallPageQuery(q)
	if err != nil {
		return CallPage{}, fmt.Errorf("pool: list calls: %w", err)
	}
	query := "SELECT seq, " + callColumns + " FROM calls" + w.sql() +
		" ORDER BY setup_at DESC, seq DESC LIMIT " + w.arg(limit+1)
	var page CallPage
	err = s.read(ctx, func(tx pgx.Tx) error {
		page = CallPage{}
		rows, err := tx.Query(ctx, query, w.args...)
		if err != nil {
			return err
		}
		cs, seqs, err := pgScanCallRows(rows)
		if err != nil || len(cs) == 0 {
			return err
		}
		if len(cs) > limit {
			cs, seqs = cs[:limit], seqs[:limit]
			page.Next = strconv.FormatInt(cs[limit-1].SetupAt.UnixMilli(), 10) + "." + strconv.FormatInt(seqs[limit-1], 10)
		}
		page.Calls = cs
		return pgJoinCallDetails(ctx, tx, cs)
	})
	if err != nil {
		return CallPage{}, fmt.Errorf("pool: list calls of %q: %w", q.Tenant, s.closedOr(err))
	}
	return page, nil
}

// pgCallPageQuery returns the conditions of ListCalls' query and the page size.
func pgCallPageQuery(q CallQuery) (*pgWhere, int, error) {
	if q.Tenant == "" {
		return nil, 0, fmt.Errorf("%w: a tenant is required", ErrInvalid)
	}
	w := &pgWhere{}
	w.add("tenant = ?", q.Tenant)
	if !q.Since.IsZero() {
		w.add("setup_at >= ?", q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		w.add("setup_at < ?", q.Until.UnixMilli())
	}
	for _, f := range []struct{ col, val string }{{"agent", q.Agent}, {"caller", q.Caller}, {"callee", q.Callee}} {
		if f.val != "" {
			w.add(f.col+" = ?", f.val)
		}
	}
	switch q.Direction {
	case "":
	case Inbound, Outbound:
		w.add("direction = ?", string(q.Direction))
	default:
		return nil, 0, fmt.Errorf("%w: direction %q", ErrInvalid, q.Direction)
	}
	if q.Trunk != "" {
		w.add("(out_trunk = ? OR in_trunk = ?)", q.Trunk, q.Trunk)
	}
	if q.Result != "" {
		cond, ok := resultCondition[q.Result]
		if !ok {
			return nil, 0, fmt.Errorf("%w: result %q", ErrInvalid, q.Result)
		}
		w.add(cond)
	}
	if q.Answered != nil {
		if *q.Answered {
			w.add(resultCondition[OutcomeAnswered])
		} else {
			w.add("answer_at IS NULL")
		}
	}
	switch {
	case q.Feedback == "":
	case q.Feedback == FeedbackAny:
		w.add("EXISTS (SELECT 1 FROM call_feedback f WHERE f.call_id = calls.id)")
	case q.Feedback.Valid():
		w.add("EXISTS (SELECT 1 FROM call_feedback f WHERE f.call_id = calls.id AND f.kind = ?)", string(q.Feedback))
	default:
		return nil, 0, fmt.Errorf("%w: feedback kind %q", ErrInvalid, q.Feedback)
	}
	if q.After != "" {
		at, seq, ok := parseCallCursor(q.After)
		if !ok {
			return nil, 0, fmt.Errorf("%w: cursor %q", ErrInvalid, q.After)
		}
		w.add("(setup_at, seq) < (?, ?)", at, seq)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultCallPage
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	return w, limit, nil
}

// pgScanCallRows reads rows of seq and callColumns and closes rows.
func pgScanCallRows(rows pgx.Rows) ([]Call, []int64, error) {
	defer rows.Close()
	var (
		cs   []Call
		seqs []int64
	)
	for rows.Next() {
		var (
			c                       Call
			seq                     int64
			dir                     string
			setup, ring, ans, endAt sql.NullInt64
		)
		err := rows.Scan(&seq, &c.ID, &c.Tenant, &dir, &c.Agent, &c.Caller, &c.Callee, &c.Virtual,
			&c.InTrunk, &c.OutTrunk, &c.State, &c.SIPCode, &c.Reason, &c.HangupBy,
			&setup, &ring, &ans, &endAt, &c.BilledSec, &c.CostMilli,
			&c.PacketsFromA, &c.PacketsToA, &c.PacketsFromB, &c.PacketsToB)
		if err != nil {
			return nil, nil, err
		}
		c.Direction = Direction(dir)
		c.SetupAt, c.RingAt, c.AnswerAt, c.EndAt = fromMS(setup), fromMS(ring), fromMS(ans), fromMS(endAt)
		cs, seqs = append(cs, c), append(seqs, seq)
	}
	return cs, seqs, rows.Err()
}

// pgJoinCallDetails reads the attempts and feedback of cs in tx.
func pgJoinCallDetails(ctx context.Context, tx pgx.Tx, cs []Call) error {
	index := make(map[string]int, len(cs))
	ids := make([]string, len(cs))
	for i := range cs {
		index[cs[i].ID], ids[i] = i, cs[i].ID
	}
	rows, err := tx.Query(ctx, "SELECT "+attemptColumns+" FROM call_attempts WHERE call_id = ANY($1::text[]) ORDER BY call_id, seq", ids)
	if err != nil {
		return err
	}
	err = pgScanAttempts(rows, func(a Attempt) {
		if i, ok := index[a.CallID]; ok {
			cs[i].Attempts = append(cs[i].Attempts, a)
		}
	})
	if err != nil {
		return err
	}
	rows, err = tx.Query(ctx, "SELECT "+feedbackColumns+" FROM call_feedback WHERE call_id = ANY($1::text[]) ORDER BY created_at, id", ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			f       Feedback
			kind    string
			created sql.NullInt64
		)
		if err := rows.Scan(&f.ID, &f.CallID, &kind, &f.Note, &f.Agent, &created); err != nil {
			return err
		}
		f.Kind, f.CreatedAt = FeedbackKind(kind), fromMS(created)
		if i, ok := index[f.CallID]; ok {
			cs[i].Feedback = append(cs[i].Feedback, f)
		}
	}
	return rows.Err()
}

// ListFeedback returns a page of the feedback on q.Tenant's calls, newest first,
// each with its call, and the After of the next page (0 on the last), as
// SQLiteStore.ListFeedback does.
func (s *PostgresStore) ListFeedback(ctx context.Context, q FeedbackQuery) ([]FeedbackRecord, int64, error) {
	if q.Tenant == "" {
		return nil, 0, fmt.Errorf("pool: list feedback: %w: a tenant is required", ErrInvalid)
	}
	if q.Kind != "" && !q.Kind.Valid() {
		return nil, 0, fmt.Errorf("pool: list feedback: %w: kind %q", ErrInvalid, q.Kind)
	}
	var w pgWhere
	w.add("c.tenant = ?", q.Tenant)
	if !q.Since.IsZero() {
		w.add("f.created_at >= ?", q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		w.add("f.created_at < ?", q.Until.UnixMilli())
	}
	if q.Agent != "" {
		w.add("f.agent = ?", q.Agent)
	}
	if q.Kind != "" {
		w.add("f.kind = ?", string(q.Kind))
	}
	if q.After > 0 {
		w.add("f.id < ?", q.After)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultCallPage
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	cols := "f.id, f.call_id, f.kind, f.note, f.agent, f.created_at, " + pgPrefixed("c.", strings.Join(strings.Fields(callColumns), " "))
	query := "SELECT " + cols + " FROM call_feedback f JOIN calls c ON c.id = f.call_id" + w.sql() +
		" ORDER BY f.id DESC LIMIT " + w.arg(limit+1)
	var out []FeedbackRecord
	err := s.read(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, query, w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r                       FeedbackRecord
				kind, dir               string
				created                 sql.NullInt64
				setup, ring, ans, endAt sql.NullInt64
			)
			c := &r.Call
			err := rows.Scan(&r.ID, &r.CallID, &kind, &r.Note, &r.Agent, &created,
				&c.ID, &c.Tenant, &dir, &c.Agent, &c.Caller, &c.Callee, &c.Virtual,
				&c.InTrunk, &c.OutTrunk, &c.State, &c.SIPCode, &c.Reason, &c.HangupBy,
				&setup, &ring, &ans, &endAt, &c.BilledSec, &c.CostMilli,
				&c.PacketsFromA, &c.PacketsToA, &c.PacketsFromB, &c.PacketsToB)
			if err != nil {
				return err
			}
			r.Kind, r.CreatedAt = FeedbackKind(kind), fromMS(created)
			c.Direction = Direction(dir)
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
