package pool

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

var _ CallPruner = (*PostgresStore)(nil)

// PruneCalls deletes the records of ended calls set up before cutoff, with their
// attempts, feedback and recording rows (returning the recordings' file paths for
// the caller to delete), in transactions of at most 500 calls, as
// SQLiteStore.PruneCalls does. Each batch locks the records it deletes and skips
// those locked elsewhere (a record being written, or a batch of another instance
// pruning at the same time): a skipped record goes at the next pass.
func (s *PostgresStore) PruneCalls(ctx context.Context, cutoff time.Time) (PruneResult, error) {
	var res PruneResult
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var (
			batch PruneResult
			found int
		)
		err := s.write(ctx, func(tx pgx.Tx) error {
			var err error
			batch, found, err = pgPruneBatch(ctx, tx, cutoff.UnixMilli())
			return err
		})
		if err != nil {
			return res, fmt.Errorf("pool: prune calls before %s: %w", cutoff.UTC().Format(time.RFC3339), s.closedOr(err))
		}
		res.add(batch)
		if found < pruneBatch {
			return res, nil
		}
	}
}

// pgPruneBatch locks and deletes up to pruneBatch ended calls set up before cutoff
// (unix ms), oldest first, and says how many it found.
func pgPruneBatch(ctx context.Context, tx pgx.Tx, cutoff int64) (PruneResult, int, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM calls WHERE setup_at < $1 AND end_at IS NOT NULL
		ORDER BY setup_at LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, pruneBatch)
	if err != nil {
		return PruneResult{}, 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		return PruneResult{}, 0, err
	}
	var res PruneResult
	rows, err = tx.Query(ctx, `DELETE FROM call_recordings WHERE call_id = ANY($1::text[]) RETURNING path`, ids)
	if err != nil {
		return PruneResult{}, 0, err
	}
	if res.RecordingFiles, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return PruneResult{}, 0, err
	}
	res.Recordings = len(res.RecordingFiles)
	for _, step := range []struct {
		query string
		n     *int
	}{
		{`DELETE FROM call_feedback WHERE call_id = ANY($1::text[])`, &res.Feedback},
		{`DELETE FROM call_attempts WHERE call_id = ANY($1::text[])`, &res.Attempts},
		{`DELETE FROM calls WHERE id = ANY($1::text[])`, &res.Calls},
	} {
		tag, err := tx.Exec(ctx, step.query, ids)
		if err != nil {
			return PruneResult{}, 0, err
		}
		*step.n = int(tag.RowsAffected())
	}
	return res, len(ids), nil
}
