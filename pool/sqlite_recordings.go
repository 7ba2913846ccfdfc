package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file keeps the call recordings: which calls were recorded, where the WAV file
// is, and how the recording went.

// RecordingState is how a recording stands.
type RecordingState string

// The states of a recording.
const (
	// RecordingActive: the call is being recorded.
	RecordingActive RecordingState = "recording"
	// RecordingDone: the call ended and the file is complete.
	RecordingDone RecordingState = "done"
	// RecordingFailed: writing stopped (disk full, write error); the file holds the
	// audio up to the failure. The call itself went on.
	RecordingFailed RecordingState = "failed"
)

// Recording is one call's recording.
type Recording struct {
	CallID    string
	Tenant    string
	Path      string
	State     RecordingState
	StartedAt time.Time
	EndedAt   time.Time // zero while recording
	Bytes     int64     // size of the WAV file, header included
	Dropped   int64     // packets the writer could not keep up with
	Error     string    // why a failed recording stopped
}

// RecordingQuery selects recordings for ListRecordings; zero fields do not filter.
type RecordingQuery struct {
	Tenant string
	// Since (inclusive) and Until (exclusive) bound StartedAt.
	Since, Until time.Time
	// Limit bounds the answer: 0 means 50, at most MaxListLimit.
	Limit int
}

const recordingColumns = `call_id, tenant, path, state, started_at, ended_at, bytes, dropped, error`

// SaveRecording stores r, replacing the stored recording of the same call: a
// recording is saved when it starts and again when it ends. CallID, Tenant and Path
// are required (else ErrInvalid); a zero StartedAt is the store's clock.
func (s *SQLiteStore) SaveRecording(ctx context.Context, r Recording) error {
	if r.CallID == "" || r.Tenant == "" || r.Path == "" {
		return fmt.Errorf("pool: save recording: %w: needs a call ID, tenant and path", ErrInvalid)
	}
	switch r.State {
	case RecordingActive, RecordingDone, RecordingFailed:
	default:
		return fmt.Errorf("pool: save recording %q: %w: state %q", r.CallID, ErrInvalid, r.State)
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = s.now()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO call_recordings (`+recordingColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (call_id) DO UPDATE SET tenant = excluded.tenant, path = excluded.path,
				state = excluded.state, started_at = excluded.started_at, ended_at = excluded.ended_at,
				bytes = excluded.bytes, dropped = excluded.dropped, error = excluded.error`,
			r.CallID, r.Tenant, r.Path, string(r.State), ms(r.StartedAt), ms(r.EndedAt), r.Bytes, r.Dropped, r.Error)
		return err
	})
	if err != nil {
		return fmt.Errorf("pool: save recording %q: %w", r.CallID, err)
	}
	return nil
}

// Recording returns the recording of call callID, or ErrNotFound.
func (s *SQLiteStore) Recording(ctx context.Context, callID string) (Recording, error) {
	var r Recording
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanRecording(tx.QueryRowContext(ctx, `SELECT `+recordingColumns+` FROM call_recordings WHERE call_id = ?`, callID))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Recording{}, fmt.Errorf("pool: recording of %q: %w", callID, ErrNotFound)
	}
	if err != nil {
		return Recording{}, fmt.Errorf("pool: recording of %q: %w", callID, s.closedOr(err))
	}
	return r, nil
}

// ListRecordings returns the recordings q selects, newest first.
func (s *SQLiteStore) ListRecordings(ctx context.Context, q RecordingQuery) ([]Recording, error) {
	where, args := []string{"1 = 1"}, []any{}
	if q.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, q.Tenant)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "started_at >= ?"), append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "started_at < ?"), append(args, q.Until.UnixMilli())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxListLimit)
	args = append(args, limit)
	var out []Recording
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+recordingColumns+` FROM call_recordings WHERE `+
			strings.Join(where, " AND ")+` ORDER BY started_at DESC, call_id LIMIT ?`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRecording(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pool: list recordings: %w", s.closedOr(err))
	}
	return out, nil
}

// RecordingsOf returns the recordings of those of ids that have one, by call ID.
func (s *SQLiteStore) RecordingsOf(ctx context.Context, ids []string) (map[string]Recording, error) {
	out := make(map[string]Recording, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+recordingColumns+` FROM call_recordings WHERE call_id IN (?`+
			strings.Repeat(", ?", len(ids)-1)+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRecording(rows)
			if err != nil {
				return err
			}
			out[r.CallID] = r
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pool: recordings of calls: %w", s.closedOr(err))
	}
	return out, nil
}

// scanRecording reads one row of recordingColumns (rowScanner: sqlite_bindings.go).
func scanRecording(row rowScanner) (Recording, error) {
	var (
		r            Recording
		state        string
		start, ended sql.NullInt64
	)
	if err := row.Scan(&r.CallID, &r.Tenant, &r.Path, &state, &start, &ended, &r.Bytes, &r.Dropped, &r.Error); err != nil {
		return Recording{}, err
	}
	r.State, r.StartedAt, r.EndedAt = RecordingState(state), fromMS(start), fromMS(ended)
	return r, nil
}

// RecordingInterrupted is the Error of a recording that CloseOpenRecordings closed:
// the process stopped (killed, crashed) while it was recording.
const RecordingInterrupted = "interrupted: callgate stopped while recording"

// CloseOpenRecordings marks failed the recordings still in state recording: at
// start, those are recordings a stopped process left behind. Each ends as of the
// last sign of life of that process (the journal's), or its start; the file holds
// the audio written up to then, its WAV header unfinished. It returns the recordings
// it closed.
func (s *SQLiteStore) CloseOpenRecordings(ctx context.Context) ([]Recording, error) {
	var closed []Recording
	err := s.write(ctx, func(tx *sql.Tx) error {
		var alive sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT at FROM alive WHERE id = 1`).Scan(&alive)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+recordingColumns+` FROM call_recordings WHERE state = ?`, string(RecordingActive))
		if err != nil {
			return err
		}
		var open []Recording
		for rows.Next() {
			r, err := scanRecording(rows)
			if err != nil {
				rows.Close()
				return err
			}
			open = append(open, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range open {
			r.State, r.Error, r.EndedAt = RecordingFailed, RecordingInterrupted, r.StartedAt
			if at := fromMS(alive); at.After(r.EndedAt) {
				r.EndedAt = at
			}
			if _, err := tx.ExecContext(ctx, `UPDATE call_recordings SET state = ?, error = ?, ended_at = ? WHERE call_id = ?`,
				string(r.State), r.Error, ms(r.EndedAt), r.CallID); err != nil {
				return err
			}
			closed = append(closed, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pool: close open recordings: %w", s.closedOr(err))
	}
	return closed, nil
}
