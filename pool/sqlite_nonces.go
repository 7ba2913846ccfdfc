package pool

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// UseNonce records that app used nonce in a request stamped at, so that the nonce is
// refused if it comes again: a nonce app already used is ErrExists. In the same
// transaction it forgets the nonces of requests stamped before pruneBefore (the
// caller passes the oldest timestamp it still accepts, so a forgotten nonce could
// only come back in a request refused for its timestamp). Nonces live in the
// database, so a restart does not open a replay window.
func (s *SQLiteStore) UseNonce(ctx context.Context, app, nonce string, at, pruneBefore time.Time) error {
	if app == "" || nonce == "" {
		return fmt.Errorf("pool: use nonce: %w: app and nonce are required", ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_nonces WHERE ts < ?`, pruneBefore.UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_nonces (app, nonce, ts) VALUES (?, ?, ?)`, app, nonce, at.UnixMilli())
		return err
	})
	if constraint(err, sqlite3.ErrConstraintPrimaryKey) {
		return fmt.Errorf("pool: nonce of app %q: %w", app, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("pool: use nonce: %w", s.closedOr(err))
	}
	return nil
}
