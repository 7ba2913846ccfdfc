package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Connection parameters (go-sqlite3 DSN). The writer takes the write lock at BEGIN
// (_txlock=immediate): a deferred transaction that later upgrades to a write fails
// with SQLITE_BUSY at once, ignoring the busy timeout. Readers use deferred
// transactions and cannot write (_query_only). Both cache prepared statements per
// connection.
const (
	writerParams = "_journal_mode=WAL&_busy_timeout=5000&_txlock=immediate&_foreign_keys=on" +
		"&_synchronous=NORMAL&_stmt_cache_size=32"
	readerParams = "_busy_timeout=5000&_txlock=deferred&_foreign_keys=on&_query_only=on" +
		"&_stmt_cache_size=32&_cache_size=-32768"
)

// SQLiteStore is the Store on one SQLite database file in WAL mode. All writes go
// through a single connection in BEGIN IMMEDIATE transactions; reads use a separate
// pool of connections and run concurrently with the writer. Other processes may open
// the same file (they wait up to 5 s for the write lock). It is safe for concurrent
// use.
type SQLiteStore struct {
	w     *sql.DB // exactly one connection: the only writer
	r     *sql.DB // readers
	now   func() time.Time
	log   *slog.Logger
	rules atomic.Pointer[BindingRules] // with defaults applied

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLiteStore)(nil)

// Option configures OpenSQLite.
type Option func(*settings) error

type settings struct {
	now   func() time.Time
	log   *slog.Logger
	rules BindingRules
}

// WithClock sets the clock the store uses for times it stamps itself (binding
// creation and deletion, default call setup and end times, migration records).
// The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) error {
		if now == nil {
			return fmt.Errorf("pool: WithClock: %w: nil clock", ErrInvalid)
		}
		s.now = now
		return nil
	}
}

// WithLogger sets the logger for the store's few events (migrations applied, static
// bindings synced). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		if l == nil {
			return fmt.Errorf("pool: WithLogger: %w: nil logger", ErrInvalid)
		}
		s.log = l
		return nil
	}
}

// WithBindingRules sets the limits that allocation and the GC keep (per-number cap,
// cool-down, idle reclaim). The default is the zero BindingRules: every default.
func WithBindingRules(r BindingRules) Option {
	return func(s *settings) error {
		s.rules = r
		return nil
	}
}

// OpenSQLite opens (creating it if needed) the SQLite database at path and applies
// the schema migrations it lacks. path names a file; its directory must exist.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*SQLiteStore, error) {
	set := settings{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&set); err != nil {
			return nil, err
		}
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("pool: migrations: %w", err)
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		return nil, err
	}
	return openSQLite(ctx, path, ms, set)
}

// openSQLite is OpenSQLite with the migrations given (tests add their own).
func openSQLite(ctx context.Context, path string, ms []migration, set settings) (*SQLiteStore, error) {
	if path == "" {
		return nil, fmt.Errorf("pool: open sqlite: %w: empty path", ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("pool: open sqlite %s: %w", path, err)
	}
	s := &SQLiteStore{now: set.now, log: set.log}
	s.SetBindingRules(set.rules)
	fail := func(err error) (*SQLiteStore, error) {
		if s.r != nil {
			s.r.Close()
		}
		if s.w != nil {
			s.w.Close()
		}
		return nil, fmt.Errorf("pool: open sqlite %s: %w", path, err)
	}

	s.w, err = sql.Open("sqlite3", fileURI(abs, writerParams))
	if err != nil {
		return fail(err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	mode, err := journalMode(ctx, s.w)
	if err != nil {
		return fail(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fail(fmt.Errorf("journal_mode is %q, want wal", mode))
	}
	if _, err := migrate(ctx, s.w, ms, s.now, s.log); err != nil {
		return fail(err)
	}

	s.r, err = sql.Open("sqlite3", fileURI(abs, readerParams))
	if err != nil {
		return fail(err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	if err := s.r.PingContext(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// openBusyWait bounds how long opening the writer retries a database that another
// process is switching to WAL at the same moment; it matches _busy_timeout.
const openBusyWait = 5 * time.Second

// journalMode opens db's connection and returns its journal mode. Opening switches a
// new database file to WAL, which takes an exclusive lock; when another process opens
// the same new file at that moment, SQLite answers SQLITE_BUSY at once instead of
// waiting out the busy timeout (it would risk a deadlock), so journalMode retries for
// up to openBusyWait.
func journalMode(ctx context.Context, db *sql.DB) (string, error) {
	deadline := time.Now().Add(openBusyWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || se.Code != sqlite3.ErrBusy || time.Now().Add(delay).After(deadline) {
			return mode, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// fileURI makes an SQLite URI filename for the absolute path p: the characters that
// end or escape the path part of a URI are percent-encoded.
func fileURI(p, params string) string {
	p = filepath.ToSlash(p)
	p = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	if !strings.HasPrefix(p, "/") { // a Windows drive path
		p = "/" + p
	}
	return "file:" + p + "?" + params
}

// Close closes the database. Calls after the first return the first one's result.
func (s *SQLiteStore) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = errors.Join(s.r.Close(), s.w.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("pool: close sqlite: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// Ping checks that the database answers a query on a reader connection, for
// readiness checks. After Close it returns ErrClosed.
func (s *SQLiteStore) Ping(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("pool: ping: %w", s.closedOr(err))
	}
	return nil
}

// checkOpen returns ErrClosed after Close.
func (s *SQLiteStore) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("pool: %w", ErrClosed)
	}
	return nil
}

// closedOr returns ErrClosed if Close has run (a call racing Close fails with
// database/sql's own error), else err.
func (s *SQLiteStore) closedOr(err error) error {
	if cerr := s.checkOpen(); cerr != nil {
		return cerr
	}
	return err
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the single writer
// connection) and commits if fn returns nil. fn must use only tx: the writer has one
// connection, so touching s.w inside fn would deadlock.
func (s *SQLiteStore) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.closedOr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in a read transaction on a reader connection: fn sees one snapshot
// of the database.
func (s *SQLiteStore) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return s.closedOr(err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	return fn(tx)
}

// ms converts t to the stored form: unix milliseconds, or NULL for the zero time.
func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMS converts a stored time back: NULL is the zero time, others are UTC.
func fromMS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// constraint reports whether err is an SQLite constraint violation of extended
// code c.
func constraint(err error, c sqlite3.ErrNoExtended) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == c
}
