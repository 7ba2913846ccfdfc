package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Batch is what the Journal writes in one transaction: call records (inserted or
// replaced, each with its attempts), binding call times, and the liveness mark.
type Batch struct {
	Calls   []Call
	Touches []Touch
	// Alive, when set, is stored as the last time this process was known running
	// (CloseOpenCalls ends a dead process's calls at it).
	Alive time.Time
}

// Touch is one call through a binding (see TouchBinding).
type Touch struct {
	BindingID int64
	At        time.Time
}

// upsertCall writes a whole call record. A record that has ended is never reopened
// by an older snapshot of the same call arriving later.
const upsertCall = `INSERT INTO calls (` + callColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET
		tenant = excluded.tenant, direction = excluded.direction, agent = excluded.agent,
		caller = excluded.caller, callee = excluded.callee, virtual = excluded.virtual,
		in_trunk = excluded.in_trunk, out_trunk = excluded.out_trunk, state = excluded.state,
		sip_code = excluded.sip_code, reason = excluded.reason, hangup_by = excluded.hangup_by,
		setup_at = excluded.setup_at, ring_at = excluded.ring_at, answer_at = excluded.answer_at,
		end_at = excluded.end_at, billed_sec = excluded.billed_sec, cost_milli = excluded.cost_milli,
		packets_from_a = excluded.packets_from_a, packets_to_a = excluded.packets_to_a,
		packets_from_b = excluded.packets_from_b, packets_to_b = excluded.packets_to_b
	WHERE calls.end_at IS NULL OR excluded.end_at IS NOT NULL`

const touchBinding = `UPDATE bindings
	SET first_call_at = min(coalesce(first_call_at, ?1), ?1),
	    last_call_at  = max(coalesce(last_call_at, ?1), ?1)
	WHERE id = ?2`

// SaveBatch writes b in one write transaction: every call record is inserted or
// replaced (with its attempts), every touch applied (unknown binding IDs are
// skipped: the binding may have been purged), and the liveness mark stored. A bad
// record fails the whole batch with ErrInvalid naming it, before anything is written.
func (s *SQLiteStore) SaveBatch(ctx context.Context, b Batch) error {
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		if len(b.Calls) > 0 {
			st, err := tx.PrepareContext(ctx, upsertCall)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, c := range b.Calls {
				if _, err := st.ExecContext(ctx, c.ID, c.Tenant, c.Direction, c.Agent, c.Caller, c.Callee, c.Virtual,
					c.InTrunk, c.OutTrunk, c.State, c.SIPCode, c.Reason, c.HangupBy,
					ms(c.SetupAt), ms(c.RingAt), ms(c.AnswerAt), ms(c.EndAt), c.BilledSec, c.CostMilli,
					c.PacketsFromA, c.PacketsToA, c.PacketsFromB, c.PacketsToB); err != nil {
					return fmt.Errorf("call %q: %w", c.ID, err)
				}
				if err := putAttempts(ctx, tx, c); err != nil {
					return fmt.Errorf("call %q: %w", c.ID, err)
				}
			}
		}
		for _, t := range b.Touches {
			if _, err := tx.ExecContext(ctx, touchBinding, t.At.UnixMilli(), t.BindingID); err != nil {
				return fmt.Errorf("touch binding %d: %w", t.BindingID, err)
			}
		}
		if !b.Alive.IsZero() {
			if _, err := tx.ExecContext(ctx, `INSERT INTO alive (id, at) VALUES (1, ?)
				ON CONFLICT (id) DO UPDATE SET at = max(at, excluded.at)`, b.Alive.UnixMilli()); err != nil {
				return fmt.Errorf("alive: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pool: save batch: %w", err)
	}
	return nil
}

// ReasonInterrupted is the reason of a call record that CloseOpenCalls ended: the
// process handling the call stopped without hanging it up (killed, crashed, power).
const ReasonInterrupted = "interrupted"

// CloseOpenCalls ends the call records that no running process will end: every
// record without an end time, set up before the process started. Run it at start-up,
// before taking calls, by the only process using the database file. Each is ended at
// the last liveness mark (the end of the dead process's last journal write; the setup
// time if there is none or it is earlier), with reason "interrupted", hung up by
// "system", answered calls billed up to that time. It returns the records it ended.
func (s *SQLiteStore) CloseOpenCalls(ctx context.Context) ([]Call, error) {
	var ended []Call
	err := s.write(ctx, func(tx *sql.Tx) error {
		var alive sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT at FROM alive WHERE id = 1`).Scan(&alive)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+callColumns+` FROM calls WHERE end_at IS NULL`)
		if err != nil {
			return err
		}
		open, err := scanCalls(rows)
		if err != nil {
			return err
		}
		for _, c := range open {
			end := c.SetupAt
			if at := fromMS(alive); at.After(end) {
				end = at
			}
			c.State, c.EndAt, c.Reason, c.HangupBy = stateEnded, end, ReasonInterrupted, "system"
			c.BilledSec = billedSeconds(c.AnswerAt, end)
			if _, err := tx.ExecContext(ctx, `UPDATE calls SET state = ?, end_at = ?, reason = ?, hangup_by = ?,
				billed_sec = ? WHERE id = ?`, c.State, ms(c.EndAt), c.Reason, c.HangupBy, c.BilledSec, c.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE call_attempts SET end_at = ? WHERE call_id = ? AND end_at IS NULL`,
				ms(end), c.ID); err != nil {
				return err
			}
			ended = append(ended, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pool: close open calls: %w", err)
	}
	return ended, nil
}

// billedSeconds is the answered time from answer to end, rounded up to whole seconds.
func billedSeconds(answer, end time.Time) int64 {
	if answer.IsZero() || !end.After(answer) {
		return 0
	}
	return int64((end.Sub(answer) + time.Second - 1) / time.Second)
}

// SaveCall inserts call record c or replaces the stored one, with its attempts, at
// once (a Journal queues instead). A record that has ended is never reopened.
func (s *SQLiteStore) SaveCall(ctx context.Context, c Call) error {
	return s.SaveBatch(ctx, Batch{Calls: []Call{c}})
}
