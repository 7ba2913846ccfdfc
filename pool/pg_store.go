package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// This file is the PostgreSQL store: the shared store of a deployment in which
// several callgate instances serve one set of numbers. Its methods are in the
// pg_*.go files; each keeps the contract of the SQLiteStore method of the same name
// (the conformance suite in pool/storetest checks both). Where SQLite has one writer,
// PostgreSQL transactions run concurrently: allocation locks the rows it picks (FOR
// UPDATE SKIP LOCKED), check-and-reserve serialises on the callee (an advisory lock
// inside the transaction) and on the number (its row), and a transaction that loses a
// deadlock or a serialisation race is retried whole.

// ErrUnsupported means a store does not implement a method; the error names the
// method. The PostgreSQL store implements every method of SQLiteStore, so none of
// its methods returns it today; it stays for stores and methods to come.
var ErrUnsupported = errors.New("not supported by this store")

// PostgresConfig says how to reach the database and who this instance is.
type PostgresConfig struct {
	// DSN is a libpq connection string or URL (postgres://user@host:port/db?…).
	DSN string
	// Instance names this callgate process in leases and call records; default
	// the host name. Instances sharing one database need different names, stable
	// across restarts (a restart then closes its own interrupted calls at once).
	Instance string
	// MaxConns bounds the connection pool; 0 means pgxpool's default.
	MaxConns int32
	// DeadAfter is how long an instance may go without a liveness mark before
	// CloseOpenCalls of another instance ends its open calls; default 1 minute.
	DeadAfter time.Duration
}

// PostgresStore is the Store on a PostgreSQL database, shared by any number of
// callgate instances. It is safe for concurrent use.
type PostgresStore struct {
	db        *pgxpool.Pool
	instance  string
	deadAfter time.Duration
	now       func() time.Time
	log       *slog.Logger
	rules     atomic.Pointer[BindingRules]

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ Store = (*PostgresStore)(nil)

// OpenPostgres connects to the database of cfg.DSN and applies the schema migrations
// it lacks (under an advisory lock, so instances starting together apply each once).
// The options are those of OpenSQLite.
func OpenPostgres(ctx context.Context, cfg PostgresConfig, opts ...Option) (*PostgresStore, error) {
	set := settings{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&set); err != nil {
			return nil, err
		}
	}
	if cfg.DSN == "" {
		return nil, fmt.Errorf("pool: open postgres: %w: empty DSN", ErrInvalid)
	}
	if cfg.Instance == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return nil, fmt.Errorf("pool: open postgres: %w: no instance name and no host name (%v)", ErrInvalid, err)
		}
		cfg.Instance = h
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = time.Minute
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// The parse error may quote the DSN with its password: say only what failed.
		return nil, fmt.Errorf("pool: open postgres: %w: the DSN does not parse", ErrInvalid)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "callgate " + cfg.Instance
	db, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pool: open postgres: %w", err)
	}
	s := &PostgresStore{db: db, instance: cfg.Instance, deadAfter: cfg.DeadAfter, now: set.now, log: set.log}
	s.SetBindingRules(set.rules)
	if err := pgMigrate(ctx, db, s.now, s.log); err != nil {
		db.Close()
		return nil, fmt.Errorf("pool: open postgres: %w", err)
	}
	return s, nil
}

// Instance returns the name this store writes into leases and call records.
func (s *PostgresStore) Instance() string { return s.instance }

// SetBindingRules replaces the limits allocation and the GC keep; zero fields mean
// their defaults.
func (s *PostgresStore) SetBindingRules(r BindingRules) {
	r = r.withDefaults()
	s.rules.Store(&r)
}

func (s *PostgresStore) bindingRules() BindingRules { return *s.rules.Load() }

// Close closes the connection pool. It is safe to call twice.
func (s *PostgresStore) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.db.Close()
	})
	return nil
}

// Ping checks that the database answers a query, for readiness checks. After Close
// it returns ErrClosed.
func (s *PostgresStore) Ping(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var one int
	if err := s.db.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("pool: ping: %w", s.closedOr(err))
	}
	return nil
}

func (s *PostgresStore) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("pool: %w", ErrClosed)
	}
	return nil
}

func (s *PostgresStore) closedOr(err error) error {
	if cerr := s.checkOpen(); cerr != nil {
		return cerr
	}
	return err
}

// pgMaxTries bounds how often a transaction that lost a deadlock or serialisation
// race is run again.
const pgMaxTries = 10

// write runs fn in a READ COMMITTED transaction and commits if fn returns nil. A
// transaction aborted by a deadlock or a serialisation failure is run again (fn must
// not keep state across runs other than its results). Each statement of fn sees what
// committed before it started, and the row locks fn takes hold to the commit.
func (s *PostgresStore) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.inTx(ctx, pgx.TxOptions{}, fn)
}

// read runs fn in a read-only REPEATABLE READ transaction: one snapshot.
func (s *PostgresStore) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (s *PostgresStore) inTx(ctx context.Context, o pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	for try := 1; ; try++ {
		err := pgx.BeginTxFunc(ctx, s.db, o, fn)
		if err == nil || !pgRetryable(err) || try == pgMaxTries {
			return s.closedOr(err)
		}
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(try, 6)))
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
	}
}

// PostgreSQL error codes the store looks at.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgSerialization       = "40001"
	pgDeadlock            = "40P01"
	pgLockNotAvailable    = "55P03"
)

// pgHeldWait is how long a transaction that holds a row lock waits for another row
// another transaction may hold while waiting for the first (lock_timeout); past it,
// the transaction is run again.
const pgHeldWait = "100ms"

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func pgRetryable(err error) bool {
	c := pgCode(err)
	return c == pgSerialization || c == pgDeadlock || c == pgLockNotAvailable
}

// pgTransient reports whether err is PostgreSQL being unavailable or busy for a
// while rather than refusing the request: a lost or refused connection, the server
// shutting down or out of resources, a lock or serialisation conflict. Work that
// failed so is worth doing again (the journals keep it).
func pgTransient(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	c := pgCode(err)
	switch {
	case c == "":
		var ne net.Error
		return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	case strings.HasPrefix(c, "08"), // connection exception
		strings.HasPrefix(c, "53"),               // insufficient resources
		c == "57P01", c == "57P02", c == "57P03", // shutdown, crash shutdown, cannot connect now
		pgRetryable(err):
		return true
	}
	return false
}

// pgLock takes a transaction-scoped advisory lock on key (released at commit or
// rollback): the store's way to serialise work on one thing that has no row yet
// (a callee's caps, a party pair, a config sync).
func pgLock(ctx context.Context, tx pgx.Tx, key string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
	return err
}
