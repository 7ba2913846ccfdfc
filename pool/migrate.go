package pool

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// migrationFiles holds the schema migrations, applied in version order at open.
// A migration is never edited once released: change the schema with a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema step: a file NNNN_name.sql run in one transaction.
type migration struct {
	version int64
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]+)_[a-z0-9_]+\.sql$`)

// loadMigrations reads the *.sql files at the root of fsys, sorted by version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("pool: list migrations: %w", err)
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		m := migrationName.FindStringSubmatch(path.Base(name))
		if m == nil {
			return nil, fmt.Errorf("pool: migration %s: %w: name is not NNNN_name.sql", name, ErrInvalid)
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("pool: migration %s: %w: version must be a positive integer", name, ErrInvalid)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("pool: read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("pool: migrations %s and %s: %w: same version", ms[i-1].name, ms[i].name, ErrInvalid)
		}
	}
	return ms, nil
}

// migrate brings the database on db (the single-writer handle) up to the last of ms.
// Each migration runs in its own BEGIN IMMEDIATE transaction together with its row in
// schema_migrations, so a crash leaves the schema at a whole version, and two
// processes opening one file at once apply each migration exactly once. It returns
// the versions it applied.
func migrate(ctx context.Context, db *sql.DB, ms []migration, now func() time.Time, log *slog.Logger) ([]int64, error) {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL DEFAULT '',
		applied_at INTEGER NOT NULL
	)`
	if _, err := db.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("pool: create schema_migrations: %w", err)
	}
	have, err := appliedVersions(ctx, db)
	if err != nil {
		return nil, err
	}
	if len(have) > 0 && (len(ms) == 0 || have[len(have)-1] > ms[len(ms)-1].version) {
		known := int64(0)
		if len(ms) > 0 {
			known = ms[len(ms)-1].version
		}
		return nil, fmt.Errorf("pool: database at version %d, this binary knows up to %d: %w",
			have[len(have)-1], known, ErrSchemaTooNew)
	}
	var applied []int64
	for _, m := range ms {
		if _, ok := slices.BinarySearch(have, m.version); ok {
			continue
		}
		done, err := applyMigration(ctx, db, m, now)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.version)
			log.InfoContext(ctx, "applied schema migration", "version", m.version, "name", m.name)
		}
	}
	return applied, nil
}

// appliedVersions returns the versions recorded in schema_migrations, ascending.
func appliedVersions(ctx context.Context, db *sql.DB) ([]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("pool: read schema versions: %w", err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("pool: read schema versions: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pool: read schema versions: %w", err)
	}
	return vs, nil
}

// applyMigration runs m unless schema_migrations already records it (another process
// may have applied it since appliedVersions looked); it reports whether it ran m.
func applyMigration(ctx context.Context, db *sql.DB, m migration, now func() time.Time) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("pool: migration %s: begin: %w", m.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var n int
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("pool: migration %s: %w", m.name, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("pool: migration %s: %w", m.name, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, now().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("pool: migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("pool: migration %s: commit: %w", m.name, err)
	}
	return true, nil
}
