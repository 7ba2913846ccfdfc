package pool

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// Call states the store itself assigns.
const (
	stateSetup = "setup"
	stateEnded = "ended"
)

// defaultCallLimit is the page size of Calls when CallFilter.Limit is zero.
const defaultCallLimit = 100

const callColumns = `id, tenant, direction, agent, caller, callee, virtual, in_trunk, out_trunk,
	state, sip_code, reason, hangup_by, setup_at, ring_at, answer_at, end_at, billed_sec, cost_milli,
	packets_from_a, packets_to_a, packets_from_b, packets_to_b`

const attemptColumns = `call_id, seq, trunk, from_number, to_number, sip_code, reason,
	start_at, ring_at, answer_at, end_at`

// upsertAttempt stores an attempt, replacing one with the same (call_id, seq).
const upsertAttempt = `INSERT INTO call_attempts (` + attemptColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (call_id, seq) DO UPDATE SET
		trunk = excluded.trunk, from_number = excluded.from_number, to_number = excluded.to_number,
		sip_code = excluded.sip_code, reason = excluded.reason, start_at = excluded.start_at,
		ring_at = excluded.ring_at, answer_at = excluded.answer_at, end_at = excluded.end_at`

// StartCall inserts call record c with its attempts, if any. c.ID must be set and
// new (else ErrInvalid or ErrExists); Direction must be Inbound or Outbound. An empty
// State is stored as "setup" and a zero SetupAt as the store's clock.
func (s *SQLiteStore) StartCall(ctx context.Context, c Call) error {
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO calls (`+callColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Tenant, c.Direction, c.Agent, c.Caller, c.Callee, c.Virtual, c.InTrunk, c.OutTrunk,
			c.State, c.SIPCode, c.Reason, c.HangupBy,
			ms(c.SetupAt), ms(c.RingAt), ms(c.AnswerAt), ms(c.EndAt), c.BilledSec, c.CostMilli,
			c.PacketsFromA, c.PacketsToA, c.PacketsFromB, c.PacketsToB)
		if err != nil {
			return err
		}
		return putAttempts(ctx, tx, c)
	})
	if err != nil {
		if constraint(err, sqlite3.ErrConstraintPrimaryKey) {
			return fmt.Errorf("pool: start call %q: %w (%w)", c.ID, ErrExists, err)
		}
		return fmt.Errorf("pool: start call %q: %w", c.ID, err)
	}
	return nil
}

// AddAttempt records attempt a of call a.CallID. Recording the same (CallID, Seq)
// again replaces the stored attempt, so a leg may be recorded when it starts and
// again when it ends. An unknown call is ErrNotFound.
func (s *SQLiteStore) AddAttempt(ctx context.Context, a Attempt) error {
	if a.CallID == "" || a.Seq < 0 {
		return fmt.Errorf("pool: add attempt %q/%d: %w: needs a call ID and Seq >= 0", a.CallID, a.Seq, ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error { return putAttempt(ctx, tx, a) })
	if err != nil {
		if constraint(err, sqlite3.ErrConstraintForeignKey) {
			return fmt.Errorf("pool: add attempt %q/%d: call %w (%w)", a.CallID, a.Seq, ErrNotFound, err)
		}
		return fmt.Errorf("pool: add attempt %q/%d: %w", a.CallID, a.Seq, err)
	}
	return nil
}

// EndCall writes the final fields of call record c.ID: OutTrunk, State (empty means
// "ended"), SIPCode, Reason, HangupBy, RingAt, AnswerAt, EndAt (zero means the
// store's clock), BilledSec, CostMilli and the Packets counters; a zero field is
// stored as zero. The fields
// set by StartCall (tenant, parties, direction, SetupAt, …) stay as they are. The
// attempts c carries are stored as AddAttempt does. An unknown call is ErrNotFound.
func (s *SQLiteStore) EndCall(ctx context.Context, c Call) error {
	if err := checkCall(c); err != nil {
		return err
	}
	if c.State == "" {
		c.State = stateEnded
	}
	if c.EndAt.IsZero() {
		c.EndAt = s.now()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE calls SET out_trunk = ?, state = ?, sip_code = ?,
			reason = ?, hangup_by = ?, ring_at = ?, answer_at = ?, end_at = ?, billed_sec = ?, cost_milli = ?,
			packets_from_a = ?, packets_to_a = ?, packets_from_b = ?, packets_to_b = ?
			WHERE id = ?`,
			c.OutTrunk, c.State, c.SIPCode, c.Reason, c.HangupBy,
			ms(c.RingAt), ms(c.AnswerAt), ms(c.EndAt), c.BilledSec, c.CostMilli,
			c.PacketsFromA, c.PacketsToA, c.PacketsFromB, c.PacketsToB, c.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return putAttempts(ctx, tx, c)
	})
	if err != nil {
		return fmt.Errorf("pool: end call %q: %w", c.ID, err)
	}
	return nil
}

// checkCall validates what StartCall and EndCall need of a call record.
func checkCall(c Call) error {
	switch {
	case c.ID == "":
		return fmt.Errorf("pool: call: %w: empty ID", ErrInvalid)
	case c.Direction != Inbound && c.Direction != Outbound && c.Direction != "":
		return fmt.Errorf("pool: call %q: %w: direction %q", c.ID, ErrInvalid, c.Direction)
	case c.BilledSec < 0:
		return fmt.Errorf("pool: call %q: %w: negative BilledSec %d", c.ID, ErrInvalid, c.BilledSec)
	}
	for _, a := range c.Attempts {
		if (a.CallID != "" && a.CallID != c.ID) || a.Seq < 0 {
			return fmt.Errorf("pool: call %q: %w: attempt %q/%d", c.ID, ErrInvalid, a.CallID, a.Seq)
		}
	}
	return nil
}

// putAttempts stores the attempts c carries.
func putAttempts(ctx context.Context, tx *sql.Tx, c Call) error {
	for _, a := range c.Attempts {
		a.CallID = c.ID
		if err := putAttempt(ctx, tx, a); err != nil {
			return fmt.Errorf("attempt %d: %w", a.Seq, err)
		}
	}
	return nil
}

func putAttempt(ctx context.Context, tx *sql.Tx, a Attempt) error {
	_, err := tx.ExecContext(ctx, upsertAttempt, a.CallID, a.Seq, a.Trunk, a.From, a.To, a.SIPCode, a.Reason,
		ms(a.StartAt), ms(a.RingAt), ms(a.AnswerAt), ms(a.EndAt))
	return err
}

// Call reads call record id with its attempts in Seq order and its feedback oldest
// first. An unknown id is ErrNotFound.
func (s *SQLiteStore) Call(ctx context.Context, id string) (Call, error) {
	var c Call
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+callColumns+` FROM calls WHERE id = ?`, id)
		if err != nil {
			return err
		}
		cs, err := scanCalls(rows)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return ErrNotFound
		}
		c = cs[0]
		rows, err = tx.QueryContext(ctx, `SELECT `+attemptColumns+` FROM call_attempts
			WHERE call_id = ? ORDER BY seq`, id)
		if err != nil {
			return err
		}
		if err := scanAttempts(rows, func(a Attempt) { c.Attempts = append(c.Attempts, a) }); err != nil {
			return err
		}
		c.Feedback, err = readFeedback(ctx, tx, id)
		return err
	})
	if err != nil {
		return Call{}, fmt.Errorf("pool: call %q: %w", id, err)
	}
	return c, nil
}

// Calls lists the call records f selects, newest SetupAt first, each with its
// attempts (not its feedback). Since is inclusive and Until exclusive; Limit 0 means
// 100 and a negative Limit means no limit. An Agent without a Tenant is ErrInvalid.
func (s *SQLiteStore) Calls(ctx context.Context, f CallFilter) ([]Call, error) {
	if f.Agent != "" && f.Tenant == "" {
		return nil, fmt.Errorf("pool: list calls of agent %q: %w: Agent needs Tenant", f.Agent, ErrInvalid)
	}
	sel, args := callsQuery(f)
	var cs []Call
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+callColumns+sel, args...)
		if err != nil {
			return err
		}
		if cs, err = scanCalls(rows); err != nil || len(cs) == 0 {
			return err
		}
		index := make(map[string]int, len(cs))
		for i := range cs {
			index[cs[i].ID] = i
		}
		rows, err = tx.QueryContext(ctx, "SELECT "+attemptColumns+
			" FROM call_attempts WHERE call_id IN (SELECT id"+sel+") ORDER BY call_id, seq", args...)
		if err != nil {
			return err
		}
		return scanAttempts(rows, func(a Attempt) {
			if i, ok := index[a.CallID]; ok {
				cs[i].Attempts = append(cs[i].Attempts, a)
			}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pool: list calls: %w", err)
	}
	return cs, nil
}

// callsQuery returns the FROM … LIMIT part of the query for f and its arguments.
// Only the conditions f sets are in it, so that SQLite picks calls_by_tenant_setup or
// calls_by_setup and reads the rows already in order. With an agent it is told to use
// calls_by_tenant_agent_setup: without statistics SQLite rates that index no better
// than calls_by_tenant_setup once setup_at is bounded, though an agent has a small
// share of a tenant's calls.
func callsQuery(f CallFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	}
	if f.Agent != "" {
		where, args = append(where, "agent = ?"), append(args, f.Agent)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "setup_at >= ?"), append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "setup_at < ?"), append(args, f.Until.UnixMilli())
	}
	limit := f.Limit
	switch {
	case limit == 0:
		limit = defaultCallLimit
	case limit < 0:
		limit = -1 // SQLite: no limit
	}
	args = append(args, limit)
	sel := " FROM calls"
	if f.Agent != "" {
		sel += " INDEXED BY calls_by_tenant_agent_setup"
	}
	if len(where) > 0 {
		sel += " WHERE " + strings.Join(where, " AND ")
	}
	return sel + " ORDER BY setup_at DESC, rowid DESC LIMIT ?", args
}

// scanCalls reads all rows of callColumns and closes rows.
func scanCalls(rows *sql.Rows) ([]Call, error) {
	defer rows.Close()
	var cs []Call
	for rows.Next() {
		var (
			c                       Call
			setup, ring, ans, endAt sql.NullInt64
		)
		err := rows.Scan(&c.ID, &c.Tenant, &c.Direction, &c.Agent, &c.Caller, &c.Callee, &c.Virtual,
			&c.InTrunk, &c.OutTrunk, &c.State, &c.SIPCode, &c.Reason, &c.HangupBy,
			&setup, &ring, &ans, &endAt, &c.BilledSec, &c.CostMilli,
			&c.PacketsFromA, &c.PacketsToA, &c.PacketsFromB, &c.PacketsToB)
		if err != nil {
			return nil, err
		}
		c.SetupAt, c.RingAt, c.AnswerAt, c.EndAt = fromMS(setup), fromMS(ring), fromMS(ans), fromMS(endAt)
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// scanAttempts reads all rows of attemptColumns into fn and closes rows.
func scanAttempts(rows *sql.Rows, fn func(Attempt)) error {
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
