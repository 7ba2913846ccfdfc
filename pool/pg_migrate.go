package pool

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgMigrationFiles holds the PostgreSQL schema migrations, a set parallel to the
// SQLite one with its own versions. A released migration is never edited.
//
//go:embed migrations_pg/*.sql
var pgMigrationFiles embed.FS

// pgMigrationLock is the advisory lock key migrations run under.
const pgMigrationLock = 0x63616c6c67617465 // "callgate"

// pgMigrate brings the database up to the last embedded migration in one
// transaction holding an advisory lock, so instances starting at once apply each
// migration exactly once and never see a half-migrated schema.
func pgMigrate(ctx context.Context, db *pgxpool.Pool, now func() time.Time, log *slog.Logger) error {
	sub, err := fs.Sub(pgMigrationFiles, "migrations_pg")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrationLock)); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT PRIMARY KEY,
			name       TEXT   NOT NULL DEFAULT '',
			applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			return fmt.Errorf("read schema versions: %w", err)
		}
		have, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("read schema versions: %w", err)
		}
		if len(have) > 0 && (len(ms) == 0 || have[len(have)-1] > ms[len(ms)-1].version) {
			known := int64(0)
			if len(ms) > 0 {
				known = ms[len(ms)-1].version
			}
			return fmt.Errorf("database at version %d, this binary knows up to %d: %w", have[len(have)-1], known, ErrSchemaTooNew)
		}
		for _, m := range ms {
			if _, ok := slices.BinarySearch(have, m.version); ok {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, now().UnixMilli()); err != nil {
				return fmt.Errorf("migration %s: record: %w", m.name, err)
			}
			log.InfoContext(ctx, "applied schema migration", "store", "postgres", "version", m.version, "name", m.name)
		}
		return nil
	})
}
