package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Call records on PostgreSQL. Each record names the instance that wrote it, so that
// CloseOpenCalls ends only the calls of this instance's previous run and of instances
// that stopped marking themselves alive.

// pgPlaceholders returns "$from, …, $(from+n-1)".
func pgPlaceholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

var (
	pgInsertCall = `INSERT INTO calls (` + callColumns + `, instance) VALUES (` + pgPlaceholders(1, 24) + `)`
	// pgUpsertCall writes a whole record; an ended one is never reopened.
	pgUpsertCall = pgInsertCall + ` ON CONFLICT (id) DO UPDATE SET
		tenant = excluded.tenant, direction = excluded.direction, agent = excluded.agent,
		caller = excluded.caller, callee = excluded.callee, virtual = excluded.virtual,
		in_trunk = excluded.in_trunk, out_trunk = excluded.out_trunk, state = excluded.state,
		sip_code = excluded.sip_code, reason = excluded.reason, hangup_by = excluded.hangup_by,
		setup_at = excluded.setup_at, ring_at = excluded.ring_at, answer_at = excluded.answer_at,
		end_at = excluded.end_at, billed_sec = excluded.billed_sec, cost_milli = excluded.cost_milli,
		packets_from_a = excluded.packets_from_a, packets_to_a = excluded.packets_to_a,
		packets_from_b = excluded.packets_from_b, packets_to_b = excluded.packets_to_b,
		instance = excluded.instance
		WHERE calls.end_at IS NULL OR excluded.end_at IS NOT NULL`
	pgUpsertAttempt = `INSERT INTO call_attempts (` + attemptColumns + `) VALUES (` + pgPlaceholders(1, 11) + `)
		ON CONFLICT (call_id, seq) DO UPDATE SET
			trunk = excluded.trunk, from_number = excluded.from_number, to_number = excluded.to_number,
			sip_code = excluded.sip_code, reason = excluded.reason, start_at = excluded.start_at,
			ring_at = excluded.ring_at, answer_at = excluded.answer_at, end_at = excluded.end_at`
)

func (s *PostgresStore) callArgs(c Call) []any {
	return []any{c.ID, c.Tenant, string(c.Direction), c.Agent, c.Caller, c.Callee, c.Virtual, c.InTrunk, c.OutTrunk,
		c.State, c.SIPCode, c.Reason, c.HangupBy,
		ms(c.SetupAt), ms(c.RingAt), ms(c.AnswerAt), ms(c.EndAt), c.BilledSec, c.CostMilli,
		c.PacketsFromA, c.PacketsToA, c.PacketsFromB, c.PacketsToB, s.instance}
}

func pgPutAttempts(ctx context.Context, tx pgx.Tx, c Call) error {
	for _, a := range c.Attempts {
		a.CallID = c.ID
		if err := pgPutAttempt(ctx, tx, a); err != nil {
			return fmt.Errorf("attempt %d: %w", a.Seq, err)
		}
	}
	return nil
}

func pgPutAttempt(ctx context.Context, tx pgx.Tx, a Attempt) error {
	_, err := tx.Exec(ctx, pgUpsertAttempt, a.CallID, a.Seq, a.Trunk, a.From, a.To, a.SIPCode, a.Reason,
		ms(a.StartAt), ms(a.RingAt), ms(a.AnswerAt), ms(a.EndAt))
	return err
}

// StartCall inserts call record c with its attempts, as SQLiteStore.StartCall does.
func (s *PostgresStore) StartCall(ctx context.Context, c Call) error {
	if err := checkCall(c); err != nil {
		return err
	}
	if c.Direction != Inbound && c.Direction != Outbound {
		return fmt.Errorf("pool: start call %q: %w: direction %q", c.ID, ErrInvalid, c.Direction)
	}
	if c.State == "" {
		c.State = stateSetup
	}
	if c.SetupAt.IsZero() {
		c.SetupAt = s.now()
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, pgInsertCall, s.callArgs(c)...); err != nil {
			return err
		}
		return pgPutAttempts(ctx, tx, c)
	})
	if pgCode(err) == pgUniqueViolation {
		return fmt.Errorf("pool: start call %q: %w (%w)", c.ID, ErrExists, err)
	}
	if err != nil {
		return fmt.Errorf("pool: start call %q: %w", c.ID, err)
	}
	return nil
}

// AddAttempt records attempt a of call a.CallID, replacing one with the same Seq.
func (s *PostgresStore) AddAttempt(ctx context.Context, a Attempt) error {
	if a.CallID == "" || a.Seq < 0 {
		return fmt.Errorf("pool: add attempt %q/%d: %w: needs a call ID and Seq >= 0", a.CallID, a.Seq, ErrInvalid)
	}
	err := s.write(ctx, func(tx pgx.Tx) error { return pgPutAttempt(ctx, tx, a) })
	if pgCode(err) == pgForeignKeyViolation {
		return fmt.Errorf("pool: add attempt %q/%d: call %w (%w)", a.CallID, a.Seq, ErrNotFound, err)
	}
	if err != nil {
		return fmt.Errorf("pool: add attempt %q/%d: %w", a.CallID, a.Seq, err)
	}
	return nil
}

// EndCall writes the final fields of call record c.ID, as SQLiteStore.EndCall does.
func (s *PostgresStore) EndCall(ctx context.Context, c Call) error {
	if err := checkCall(c); err != nil {
		return err
	}
	if c.State == "" {
		c.State = stateEnded
	}
	if c.EndAt.IsZero() {
		c.EndAt = s.now()
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE calls SET out_trunk = $1, state = $2, sip_code = $3,
			reason = $4, hangup_by = $5, ring_at = $6, answer_at = $7, end_at = $8, billed_sec = $9, cost_milli = $10,
			packets_from_a = $11, packets_to_a = $12, packets_from_b = $13, packets_to_b = $14
			WHERE id = $15`,
			c.OutTrunk, c.State, c.SIPCode, c.Reason, c.HangupBy,
			ms(c.RingAt), ms(c.AnswerAt), ms(c.EndAt), c.BilledSec, c.CostMilli,
			c.PacketsFromA, c.PacketsToA, c.PacketsFromB, c.PacketsToB, c.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return pgPutAttempts(ctx, tx, c)
	})
	if err != nil {
		return fmt.Errorf("pool: end call %q: %w", c.ID, s.closedOr(err))
	}
	return nil
}

// Call reads call record id with its attempts and feedback.
func (s *PostgresStore) Call(ctx context.Context, id string) (Call, error) {
	var c Call
	err := s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+callColumns+` FROM calls WHERE id = $1`, id)
		if err != nil {
			return err
		}
		cs, err := pgScanCalls(rows)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return ErrNotFound
		}
		c = cs[0]
		rows, err = tx.Query(ctx, `SELECT `+attemptColumns+` FROM call_attempts WHERE call_id = $1 ORDER BY seq`, id)
		if err != nil {
			return err
		}
		if err := pgScanAttempts(rows, func(a Attempt) { c.Attempts = append(c.Attempts, a) }); err != nil {
			return err
		}
		c.Feedback, err = pgReadFeedback(ctx, tx, id)
		return err
	})
	if err != nil {
		return Call{}, fmt.Errorf("pool: call %q: %w", id, s.closedOr(err))
	}
	return c, nil
}

// Calls lists the call records f selects, newest first, with their attempts.
func (s *PostgresStore) Calls(ctx context.Context, f CallFilter) ([]Call, error) {
	if f.Agent != "" && f.Tenant == "" {
		return nil, fmt.Errorf("pool: list calls of agent %q: %w: Agent needs Tenant", f.Agent, ErrInvalid)
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	if f.Agent != "" {
		add("agent = ?", f.Agent)
	}
	if !f.Since.IsZero() {
		add("setup_at >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		add("setup_at < ?", f.Until.UnixMilli())
	}
	var limit any = f.Limit
	switch {
	case f.Limit == 0:
		limit = defaultCallLimit
	case f.Limit < 0:
		limit = nil // LIMIT NULL: none
	}
	args = append(args, limit)
	sel := " FROM calls"
	if len(where) > 0 {
		sel += " WHERE " + strings.Join(where, " AND ")
	}
	sel += " ORDER BY setup_at DESC, seq DESC LIMIT $" + strconv.Itoa(len(args))
	var cs []Call
	err := s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT "+callColumns+sel, args...)
		if err != nil {
			return err
		}
		if cs, err = pgScanCalls(rows); err != nil || len(cs) == 0 {
			return err
		}
		index := make(map[string]int, len(cs))
		ids := make([]string, len(cs))
		for i := range cs {
			index[cs[i].ID], ids[i] = i, cs[i].ID
		}
		rows, err = tx.Query(ctx, "SELECT "+attemptColumns+" FROM call_attempts WHERE call_id = ANY($1) ORDER BY call_id, seq", ids)
		if err != nil {
			return err
		}
		return pgScanAttempts(rows, func(a Attempt) { cs[index[a.CallID]].Attempts = append(cs[index[a.CallID]].Attempts, a) })
	})
	if err != nil {
		return nil, fmt.Errorf("pool: list calls: %w", s.closedOr(err))
	}
	return cs, nil
}

func pgScanCalls(rows pgx.Rows) ([]Call, error) {
	defer rows.Close()
	var cs []Call
	for rows.Next() {
		var (
			c                       Call
			dir                     string
			setup, ring, ans, endAt sql.NullInt64
		)
		err := rows.Scan(&c.ID, &c.Tenant, &dir, &c.Agent, &c.Caller, &c.Callee, &c.Virtual,
			&c.InTrunk, &c.OutTrunk, &c.State, &c.SIPCode, &c.Reason, &c.HangupBy,
			&setup, &ring, &ans, &endAt, &c.BilledSec, &c.CostMilli,
			&c.PacketsFromA, &c.PacketsToA, &c.PacketsFromB, &c.PacketsToB)
		if err != nil {
			return nil, err
		}
		c.Direction = Direction(dir)
		c.SetupAt, c.RingAt, c.AnswerAt, c.EndAt = fromMS(setup), fromMS(ring), fromMS(ans), fromMS(endAt)
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

func pgScanAttempts(rows pgx.Rows, fn func(Attempt)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			a                       Attempt
			start, ring, ans, endAt sql.NullInt64
		)
		err := rows.Scan(&a.CallID, &a.Seq, &a.Trunk, &a.From, &a.To, &a.SIPCode, &a.Reason,
			&start, &ring, &ans, &endAt)
		if err != nil {
			return err
		}
		a.StartAt, a.RingAt, a.AnswerAt, a.EndAt = fromMS(start), fromMS(ring), fromMS(ans), fromMS(endAt)
		fn(a)
	}
	return rows.Err()
}

// AddFeedback attaches f to call record f.CallID, as SQLiteStore.AddFeedback does.
func (s *PostgresStore) AddFeedback(ctx context.Context, f Feedback) (Feedback, error) {
	switch {
	case f.CallID == "":
		return Feedback{}, fmt.Errorf("pool: add feedback: %w: empty call ID", ErrInvalid)
	case !f.Kind.Valid():
		return Feedback{}, fmt.Errorf("pool: add feedback to %q: %w: kind %q", f.CallID, ErrInvalid, f.Kind)
	case len(f.Note) > MaxFeedbackNote:
		return Feedback{}, fmt.Errorf("pool: add feedback to %q: %w: note of %d bytes, at most %d allowed",
			f.CallID, ErrInvalid, len(f.Note), MaxFeedbackNote)
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.now()
	}
	created := f.CreatedAt.UnixMilli()
	err := s.write(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO call_feedback (call_id, kind, note, agent, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, f.CallID, string(f.Kind), f.Note, f.Agent, created).Scan(&f.ID)
	})
	if pgCode(err) == pgForeignKeyViolation {
		return Feedback{}, fmt.Errorf("pool: add feedback to %q: call %w (%w)", f.CallID, ErrNotFound, err)
	}
	if err != nil {
		return Feedback{}, fmt.Errorf("pool: add feedback to %q: %w", f.CallID, err)
	}
	f.CreatedAt = fromMS(sql.NullInt64{Int64: created, Valid: true})
	return f, nil
}

// Feedback returns the feedback on call record callID, oldest first.
func (s *PostgresStore) Feedback(ctx context.Context, callID string) ([]Feedback, error) {
	var fs []Feedback
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		if fs, err = pgReadFeedback(ctx, tx, callID); err != nil || len(fs) > 0 {
			return err
		}
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM calls WHERE id = $1`, callID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pool: feedback on %q: %w", callID, s.closedOr(err))
	}
	return fs, nil
}

func pgReadFeedback(ctx context.Context, tx pgx.Tx, callID string) ([]Feedback, error) {
	rows, err := tx.Query(ctx, `SELECT `+feedbackColumns+` FROM call_feedback WHERE call_id = $1 ORDER BY created_at, id`, callID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []Feedback
	for rows.Next() {
		var (
			f       Feedback
			kind    string
			created sql.NullInt64
		)
		if err := rows.Scan(&f.ID, &f.CallID, &kind, &f.Note, &f.Agent, &created); err != nil {
			return nil, err
		}
		f.Kind, f.CreatedAt = FeedbackKind(kind), fromMS(created)
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// SaveBatch writes b in one transaction, as SQLiteStore.SaveBatch does; the
// liveness mark is this instance's.
func (s *PostgresStore) SaveBatch(ctx context.Context, b Batch) error {
	for i := range b.Calls {
		c := &b.Calls[i]
		if err := checkCall(*c); err != nil {
			return fmt.Errorf("pool: save batch: %w", err)
		}
		if c.Direction == "" {
			return fmt.Errorf("pool: save batch: call %q: %w: no direction", c.ID, ErrInvalid)
		}
		if c.State == "" {
			c.State = stateSetup
		}
		if c.SetupAt.IsZero() {
			c.SetupAt = s.now()
		}
	}
	for _, t := range b.Touches {
		if t.At.IsZero() {
			return fmt.Errorf("pool: save batch: touch binding %d: %w: zero time", t.BindingID, ErrInvalid)
		}
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		for _, c := range b.Calls {
			if _, err := tx.Exec(ctx, pgUpsertCall, s.callArgs(c)...); err != nil {
				return fmt.Errorf("call %q: %w", c.ID, err)
			}
			if err := pgPutAttempts(ctx, tx, c); err != nil {
				return fmt.Errorf("call %q: %w", c.ID, err)
			}
		}
		for _, t := range b.Touches {
			if _, err := tx.Exec(ctx, pgTouchBinding, t.At.UnixMilli(), t.BindingID); err != nil {
				return fmt.Errorf("touch binding %d: %w", t.BindingID, err)
			}
		}
		if !b.Alive.IsZero() {
			if _, err := tx.Exec(ctx, `INSERT INTO alive (instance, at) VALUES ($1, $2)
				ON CONFLICT (instance) DO UPDATE SET at = GREATEST(alive.at, excluded.at)`, s.instance, b.Alive.UnixMilli()); err != nil {
				return fmt.Errorf("alive: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pool: save batch: %w", s.closedOr(err))
	}
	return nil
}

// SaveCall inserts or replaces call record c at once.
func (s *PostgresStore) SaveCall(ctx context.Context, c Call) error {
	return s.SaveBatch(ctx, Batch{Calls: []Call{c}})
}

// CloseOpenCalls ends the call records no running instance will end: the open
// records of this instance (written by its previous run: call it at start-up,
// before taking calls) and those of instances whose liveness mark is older than
// PostgresConfig.DeadAfter (or that have none and were set up before that). Each is
// ended as SQLiteStore.CloseOpenCalls ends it, at its instance's last mark.
func (s *PostgresStore) CloseOpenCalls(ctx context.Context) ([]Call, error) {
	var ended []Call
	dead := s.now().Add(-s.deadAfter).UnixMilli()
	err := s.write(ctx, func(tx pgx.Tx) error {
		ended = nil
		rows, err := tx.Query(ctx, `SELECT `+pgPrefixed("c.", callColumns)+`, a.at FROM calls AS c
			LEFT JOIN alive AS a ON a.instance = c.instance
			WHERE c.end_at IS NULL AND (c.instance = $1 OR coalesce(a.at, c.setup_at) < $2)
			FOR UPDATE OF c SKIP LOCKED`, s.instance, dead)
		if err != nil {
			return err
		}
		var marks []sql.NullInt64
		var open []Call
		for rows.Next() {
			var (
				c                       Call
				dir                     string
				setup, ring, ans, endAt sql.NullInt64
				alive                   sql.NullInt64
			)
			err := rows.Scan(&c.ID, &c.Tenant, &dir, &c.Agent, &c.Caller, &c.Callee, &c.Virtual,
				&c.InTrunk, &c.OutTrunk, &c.State, &c.SIPCode, &c.Reason, &c.HangupBy,
				&setup, &ring, &ans, &endAt, &c.BilledSec, &c.CostMilli,
				&c.PacketsFromA, &c.PacketsToA, &c.PacketsFromB, &c.PacketsToB, &alive)
			if err != nil {
				rows.Close()
				return err
			}
			c.Direction = Direction(dir)
			c.SetupAt, c.RingAt, c.AnswerAt, c.EndAt = fromMS(setup), fromMS(ring), fromMS(ans), fromMS(endAt)
			open, marks = append(open, c), append(marks, alive)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, c := range open {
			end := c.SetupAt
			if at := fromMS(marks[i]); at.After(end) {
				end = at
			}
			c.State, c.EndAt, c.Reason, c.HangupBy = stateEnded, end, ReasonInterrupted, "system"
			c.BilledSec = billedSeconds(c.AnswerAt, end)
			if _, err := tx.Exec(ctx, `UPDATE calls SET state = $1, end_at = $2, reason = $3, hangup_by = $4,
				billed_sec = $5 WHERE id = $6`, c.State, ms(c.EndAt), c.Reason, c.HangupBy, c.BilledSec, c.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE call_attempts SET end_at = $1 WHERE call_id = $2 AND end_at IS NULL`,
				ms(end), c.ID); err != nil {
				return err
			}
			ended = append(ended, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pool: close open calls: %w", s.closedOr(err))
	}
	return ended, nil
}

// pgPrefixed qualifies each of the comma-separated columns with p.
func pgPrefixed(p, columns string) string {
	fs := strings.Split(columns, ",")
	for i, f := range fs {
		fs[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fs, ", ")
}
