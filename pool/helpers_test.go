package pool

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// t0 is the tests' epoch: a whole millisecond, so stored times compare equal.
var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// testPath returns a database path in a fresh temporary directory.
func testPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "callgate.db")
}

// openAt opens the store at path and closes it when the test ends.
func openAt(t testing.TB, path string, opts ...Option) *SQLiteStore {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("OpenSQLite(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTest opens a store on a fresh file.
func openTest(t testing.TB, opts ...Option) *SQLiteStore {
	t.Helper()
	return openAt(t, testPath(t), opts...)
}

// bindingByID reads a binding whatever its state; deleted reports deleted_at.
func bindingByID(t testing.TB, s *SQLiteStore, id int64) (b BindingRecord, deleted time.Time) {
	t.Helper()
	b, err := s.Binding(context.Background(), id)
	if err != nil {
		t.Fatalf("binding %d: %v", id, err)
	}
	return b, b.DeletedAt
}

// count returns the result of a count query on the reader.
func count(t testing.TB, s *SQLiteStore, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
