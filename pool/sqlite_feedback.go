package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

// feedbackColumns are the columns of call_feedback, in Feedback's field order.
const feedbackColumns = `id, call_id, kind, note, agent, created_at`

// feedbackQuery reads the feedback on one call, oldest first.
const feedbackQuery = `SELECT ` + feedbackColumns + ` FROM call_feedback
	WHERE call_id = ? ORDER BY created_at, id`

// AddFeedback attaches f to call record f.CallID and returns it as stored: with the
// ID the store assigned (any ID in f is ignored) and CreatedAt at millisecond
// precision in UTC. A zero CreatedAt is the store's clock. An unknown call is
// ErrNotFound; an empty CallID, a Kind that is not one of the Feedback… kinds, or a
// Note over MaxFeedbackNote bytes is ErrInvalid.
func (s *SQLiteStore) AddFeedback(ctx context.Context, f Feedback) (Feedback, error) {
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO call_feedback (call_id, kind, note, agent, created_at)
			VALUES (?, ?, ?, ?, ?)`, f.CallID, f.Kind, f.Note, f.Agent, created)
		if err != nil {
			return err
		}
		f.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		if constraint(err, sqlite3.ErrConstraintForeignKey) {
			return Feedback{}, fmt.Errorf("pool: add feedback to %q: call %w (%w)", f.CallID, ErrNotFound, err)
		}
		return Feedback{}, fmt.Errorf("pool: add feedback to %q: %w", f.CallID, err)
	}
	f.CreatedAt = fromMS(sql.NullInt64{Int64: created, Valid: true})
	return f, nil
}

// Feedback returns the feedback on call record callID, oldest CreatedAt first (ties
// in the order it was added); none is an empty result. An unknown call is
// ErrNotFound.
func (s *SQLiteStore) Feedback(ctx context.Context, callID string) ([]Feedback, error) {
	var fs []Feedback
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if fs, err = readFeedback(ctx, tx, callID); err != nil || len(fs) > 0 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM calls WHERE id = ?`, callID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pool: feedback on %q: %w", callID, err)
	}
	return fs, nil
}

// readFeedback reads the feedback on call callID in tx, oldest first; nil if none.
func readFeedback(ctx context.Context, tx *sql.Tx, callID string) ([]Feedback, error) {
	rows, err := tx.QueryContext(ctx, feedbackQuery, callID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []Feedback
	for rows.Next() {
		var (
			f       Feedback
			created sql.NullInt64
		)
		if err := rows.Scan(&f.ID, &f.CallID, &f.Kind, &f.Note, &f.Agent, &created); err != nil {
			return nil, err
		}
		f.CreatedAt = fromMS(created)
		fs = append(fs, f)
	}
	return fs, rows.Err()
}
