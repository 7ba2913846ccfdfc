package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Call recordings on PostgreSQL (migration 0002; see sqlite_recordings.go). Each
// row names the instance recording, as call records do.

// SaveRecording stores r, replacing the stored recording of the same call, as
// SQLiteStore.SaveRecording does.
func (s *PostgresStore) SaveRecording(ctx context.Context, r Recording) error {
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO call_recordings (`+recordingColumns+`, instance)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (call_id) DO UPDATE SET tenant = excluded.tenant, path = excluded.path,
				state = excluded.state, started_at = excluded.started_at, ended_at = excluded.ended_at,
				bytes = excluded.bytes, dropped = excluded.dropped, error = excluded.error, instance = excluded.instance`,
			r.CallID, r.Tenant, r.Path, string(r.State), ms(r.StartedAt), ms(r.EndedAt), r.Bytes, r.Dropped, r.Error, s.instance)
		return err
	})
	if err != nil {
		return fmt.Errorf("pool: save recording %q: %w", r.CallID, err)
	}
	return nil
}

// Recording returns the recording of call callID, or ErrNotFound.
func (s *PostgresStore) Recording(ctx context.Context, callID string) (Recording, error) {
	if err := s.checkOpen(); err != nil {
		return Recording{}, err
	}
	r, err := scanRecording(s.db.QueryRow(ctx, `SELECT `+recordingColumns+` FROM call_recordings WHERE call_id = $1`, callID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Recording{}, fmt.Errorf("pool: recording of %q: %w", callID, ErrNotFound)
	}
	if err != nil {
		return Recording{}, fmt.Errorf("pool: recording of %q: %w", callID, s.closedOr(err))
	}
	return r, nil
}

// ListRecordings returns the recordings q selects, newest first, as
// SQLiteStore.ListRecordings does.
func (s *PostgresStore) ListRecordings(ctx context.Context, q RecordingQuery) ([]Recording, error) {
	var w pgWhere
	if q.Tenant != "" {
		w.add("tenant = ?", q.Tenant)
	}
	if !q.Since.IsZero() {
		w.add("started_at >= ?", q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		w.add("started_at < ?", q.Until.UnixMilli())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxListLimit)
	query := `SELECT ` + recordingColumns + ` FROM call_recordings` + w.sql() +
		` ORDER BY started_at DESC, call_id COLLATE "C" LIMIT ` + w.arg(limit)
	var out []Recording
	err := s.read(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, query, w.args...)
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
func (s *PostgresStore) RecordingsOf(ctx context.Context, ids []string) (map[string]Recording, error) {
	out := make(map[string]Recording, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := s.read(ctx, func(tx pgx.Tx) error {
		clear(out)
		rows, err := tx.Query(ctx, `SELECT `+recordingColumns+` FROM call_recordings WHERE call_id = ANY($1::text[])`, ids)
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

// CloseOpenRecordings marks failed (RecordingInterrupted) the recordings still in
// state recording that no running instance will finish: this instance's (left by
// its previous run: call it at start-up) and those of instances whose liveness mark
// is older than PostgresConfig.DeadAfter. Each ends as of its instance's last mark,
// or its start, as SQLiteStore.CloseOpenRecordings does. It returns them.
func (s *PostgresStore) CloseOpenRecordings(ctx context.Context) ([]Recording, error) {
	var closed []Recording
	dead := s.now().Add(-s.deadAfter).UnixMilli()
	err := s.write(ctx, func(tx pgx.Tx) error {
		closed = nil
		rows, err := tx.Query(ctx, `SELECT `+pgPrefixed("r.", recordingColumns)+`, a.at FROM call_recordings AS r
			LEFT JOIN alive AS a ON a.instance = r.instance
			WHERE r.state = $1 AND (r.instance = $2 OR coalesce(a.at, r.started_at) < $3)
			FOR UPDATE OF r SKIP LOCKED`, string(RecordingActive), s.instance, dead)
		if err != nil {
			return err
		}
		var (
			open  []Recording
			marks []sql.NullInt64
		)
		for rows.Next() {
			var (
				r                   Recording
				state               string
				start, ended, alive sql.NullInt64
			)
			if err := rows.Scan(&r.CallID, &r.Tenant, &r.Path, &state, &start, &ended, &r.Bytes, &r.Dropped, &r.Error, &alive); err != nil {
				rows.Close()
				return err
			}
			r.State, r.StartedAt, r.EndedAt = RecordingState(state), fromMS(start), fromMS(ended)
			open, marks = append(open, r), append(marks, alive)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, r := range open {
			r.State, r.Error, r.EndedAt = RecordingFailed, RecordingInterrupted, r.StartedAt
			if at := fromMS(marks[i]); at.After(r.EndedAt) {
				r.EndedAt = at
			}
			if _, err := tx.Exec(ctx, `UPDATE call_recordings SET state = $1, error = $2, ended_at = $3 WHERE call_id = $4`,
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
