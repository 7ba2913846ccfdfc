package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func TestOpenSettings(t *testing.T) {
	s := openTest(t)
	var mode string
	if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("writer journal_mode = %q, %v; want wal", mode, err)
	}
	checks := []struct {
		db    *sql.DB
		query string
		want  int
	}{
		{s.w, "PRAGMA foreign_keys", 1},
		{s.w, "PRAGMA synchronous", 1}, // NORMAL
		{s.w, "PRAGMA busy_timeout", 5000},
		{s.r, "PRAGMA foreign_keys", 1},
		{s.r, "PRAGMA query_only", 1},
		{s.r, "PRAGMA busy_timeout", 5000},
	}
	for _, c := range checks {
		var got int
		if err := c.db.QueryRow(c.query).Scan(&got); err != nil || got != c.want {
			who := "reader"
			if c.db == s.w {
				who = "writer"
			}
			t.Errorf("%s %s = %d, %v; want %d", who, c.query, got, err, c.want)
		}
	}
	if _, err := s.r.Exec(`DELETE FROM calls`); err == nil {
		t.Error("reader pool accepted a write")
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]Option{"WithClock(nil)": WithClock(nil), "WithLogger(nil)": WithLogger(nil)} {
		if _, err := OpenSQLite(ctx, testPath(t), o); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := OpenSQLite(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty path: err = %v, want ErrInvalid", err)
	}
	if _, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "missing", "x.db")); err == nil {
		t.Error("open in a missing directory succeeded")
	}
}

// A path with characters that mean something in a URI still names that file.
func TestOpenPathNeedingEscapes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d e")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.db")
	s := openAt(t, path)
	if err := s.StartCall(context.Background(), Call{ID: "c1", Direction: Outbound, SetupAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
}

func TestMigrationsIdempotentOnReopen(t *testing.T) {
	path := testPath(t)
	clk := newClock(t0)
	s := openAt(t, path, WithClock(clk.Now))
	ms, err := loadMigrations(mustSub(t))
	if err != nil {
		t.Fatal(err)
	}
	want := versionsApplied(t, s)
	if len(want) != len(ms) || want[len(want)-1].version != ms[len(ms)-1].version {
		t.Fatalf("applied %v, want all of %d embedded migrations", want, len(ms))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		clk.Set(t0.Add(time.Hour))
		s = openAt(t, path, WithClock(clk.Now))
		if got := versionsApplied(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after reopen schema_migrations = %v, want %v (unchanged)", got, want)
		}
		s.Close()
	}
}

type appliedRow struct {
	version, appliedAt int64
}

func versionsApplied(t *testing.T, s *SQLiteStore) []appliedRow {
	t.Helper()
	rows, err := s.r.Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []appliedRow
	for rows.Next() {
		var r appliedRow
		if err := rows.Scan(&r.version, &r.appliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func mustSub(t *testing.T) fstest.MapFS {
	t.Helper()
	sub := fstest.MapFS{}
	names, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range names {
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sub[e.Name()] = &fstest.MapFile{Data: b}
	}
	return sub
}

// Reopening with more migrations applies only the new ones; a failing one is rolled
// back whole; an older binary refuses a newer schema.
func TestMigrateAppliesOnlyNew(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	clk := newClock(t0)
	set := settings{now: clk.Now, log: discardLogger()}
	v1 := &fstest.MapFile{Data: []byte(`CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);`)}
	v2 := &fstest.MapFile{Data: []byte(`INSERT INTO t VALUES (2); ALTER TABLE t ADD COLUMN y TEXT;`)}
	bad := &fstest.MapFile{Data: []byte(`CREATE TABLE u (x); INSERT INTO nowhere VALUES (1);`)}

	open := func(fsys fstest.MapFS) (*SQLiteStore, error) {
		ms, err := loadMigrations(fsys)
		if err != nil {
			t.Fatal(err)
		}
		return openSQLite(ctx, path, ms, set)
	}
	s, err := open(fstest.MapFS{"0001_t.sql": v1})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	clk.Set(t0.Add(time.Minute))
	s, err = open(fstest.MapFS{"0001_t.sql": v1, "0002_more.sql": v2})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM t`); n != 2 {
		t.Errorf("rows in t = %d, want 2 (v1 once, v2 once)", n)
	}
	got := versionsApplied(t, s)
	want := []appliedRow{{1, t0.UnixMilli()}, {2, t0.Add(time.Minute).UnixMilli()}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
	s.Close()

	_, err = open(fstest.MapFS{"0001_t.sql": v1, "0002_more.sql": v2, "0003_bad.sql": bad})
	if err == nil {
		t.Fatal("a failing migration opened the store")
	}
	s, err = open(fstest.MapFS{"0001_t.sql": v1, "0002_more.sql": v2})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM sqlite_schema WHERE name = 'u'`); n != 0 {
		t.Error("failed migration 0003 left table u behind")
	}
	if n := count(t, s, `SELECT count(*) FROM schema_migrations`); n != 2 {
		t.Errorf("schema_migrations has %d rows, want 2", n)
	}
	s.Close()

	if _, err := open(fstest.MapFS{"0001_t.sql": v1}); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("older binary: err = %v, want ErrSchemaTooNew", err)
	}
}

func TestLoadMigrationsRejects(t *testing.T) {
	f := &fstest.MapFile{Data: []byte("SELECT 1;")}
	for name, fsys := range map[string]fstest.MapFS{
		"no version":   {"init.sql": f},
		"zero version": {"0000_init.sql": f},
		"upper case":   {"0001_Init.sql": f},
		"duplicate":    {"0001_a.sql": f, "001_b.sql": f},
	} {
		if _, err := loadMigrations(fsys); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	ms, err := loadMigrations(fstest.MapFS{"0010_c.sql": f, "0002_b.sql": f, "0001_a.sql": f, "README.md": f})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ms[0].version, ms[1].version, ms[2].version); len(ms) != 3 || got != "1 2 10" {
		t.Errorf("order = %s, want 1 2 10", got)
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := OpenSQLite(context.Background(), testPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := s.ActiveBindings(ctx, "+1", t0); !errors.Is(err, ErrClosed) {
		t.Errorf("ActiveBindings after Close: %v, want ErrClosed", err)
	}
	if err := s.StartCall(ctx, Call{ID: "x", Direction: Inbound}); !errors.Is(err, ErrClosed) {
		t.Errorf("StartCall after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Calls(ctx, CallFilter{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Calls after Close: %v, want ErrClosed", err)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	s := openAt(t, path, WithClock(newClock(t0).Now))
	b := Binding{Tenant: "t1", Mode: ModeAXB, Virtual: "+8610000", A: "+86111", B: "+86222"}
	if err := s.SyncStaticBindings(ctx, []Binding{b}); err != nil {
		t.Fatal(err)
	}
	c := Call{ID: "c1", Tenant: "t1", Direction: Inbound, SetupAt: t0,
		Attempts: []Attempt{{Seq: 1, Trunk: "tr", StartAt: t0}}}
	if err := s.StartCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	bs, err := s.ActiveBindings(ctx, b.Virtual, t0)
	if err != nil || len(bs) != 1 || bs[0].B != b.B || !bs[0].CreatedAt.Equal(t0) {
		t.Errorf("after reopen ActiveBindings = %+v, %v", bs, err)
	}
	got, err := s.Call(ctx, "c1")
	if err != nil || got.Tenant != "t1" || len(got.Attempts) != 1 || got.Attempts[0].Trunk != "tr" {
		t.Errorf("after reopen Call = %+v, %v", got, err)
	}
}

// Many goroutines writing through one store never see SQLITE_BUSY: they queue on
// the single writer connection. Readers run alongside.
func TestConcurrentWriters(t *testing.T) {
	const writers, perWriter = 8, 200
	ctx := context.Background()
	s := openTest(t)
	if err := s.SyncStaticBindings(ctx, []Binding{{Mode: ModeAXN, Virtual: "+861", B: "+862"}}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, writers+2)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, i)
				at := t0.Add(time.Duration(i) * time.Second)
				if err := s.StartCall(ctx, Call{ID: id, Tenant: "t", Direction: Outbound, SetupAt: at}); err != nil {
					errs <- err
					return
				}
				if err := s.EndCall(ctx, Call{ID: id, SIPCode: 200, EndAt: at.Add(time.Second),
					Attempts: []Attempt{{Seq: 1, SIPCode: 200}}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.Calls(ctx, CallFilter{Tenant: "t", Limit: 10}); err != nil {
					errs <- err
					return
				}
				if _, err := s.ActiveBindings(ctx, "+861", t0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, s, `SELECT count(*) FROM calls WHERE state = 'ended'`); n != writers*perWriter {
		t.Errorf("ended calls = %d, want %d", n, writers*perWriter)
	}
	if n := count(t, s, `SELECT count(*) FROM call_attempts`); n != writers*perWriter {
		t.Errorf("attempts = %d, want %d", n, writers*perWriter)
	}
}

// Two stores (as two processes would) open and write one file at once: the
// migrations run once and writers wait for each other instead of failing.
func TestTwoStoresOneFile(t *testing.T) {
	const perStore, goroutines = 50, 2
	ctx := context.Background()
	path := testPath(t)
	stores := make([]*SQLiteStore, 2)
	var opened sync.WaitGroup
	openErrs := make([]error, 2)
	for i := range stores {
		opened.Go(func() {
			stores[i], openErrs[i] = OpenSQLite(ctx, path)
		})
	}
	opened.Wait()
	for i, err := range openErrs {
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*goroutines)
	for si, s := range stores {
		for g := range goroutines {
			wg.Go(func() {
				for i := range perStore {
					id := fmt.Sprintf("s%d-g%d-%d", si, g, i)
					if err := s.StartCall(ctx, Call{ID: id, Direction: Inbound, SetupAt: t0}); err != nil {
						errs <- err
						return
					}
					if err := s.EndCall(ctx, Call{ID: id}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, stores[0], `SELECT count(*) FROM calls`); n != len(stores)*goroutines*perStore {
		t.Errorf("calls = %d, want %d", n, len(stores)*goroutines*perStore)
	}
}
