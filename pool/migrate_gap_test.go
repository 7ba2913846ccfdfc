package pool

import (
	"context"
	"testing"
	"testing/fstest"
)

// TestMigrationVersionsWithGaps: versions need not be consecutive, and a migration
// numbered below one already applied (written by another branch of work meanwhile)
// is applied when it appears. The caller-number schema is 0010 while 0003–0009 belong
// to the virtual-number work.
func TestMigrationVersionsWithGaps(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	set := settings{now: newClock(t0).Now, log: discardLogger()}
	open := func(fsys fstest.MapFS) *SQLiteStore {
		t.Helper()
		ms, err := loadMigrations(fsys)
		if err != nil {
			t.Fatal(err)
		}
		s, err := openSQLite(ctx, path, ms, set)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	v1 := &fstest.MapFile{Data: []byte(`CREATE TABLE a (x);`)}
	v10 := &fstest.MapFile{Data: []byte(`CREATE TABLE c (x);`)}
	v4 := &fstest.MapFile{Data: []byte(`CREATE TABLE b (x);`)}
	s := open(fstest.MapFS{"0001_a.sql": v1, "0010_c.sql": v10})
	s.Close()
	s = open(fstest.MapFS{"0001_a.sql": v1, "0004_b.sql": v4, "0010_c.sql": v10})
	defer s.Close()
	if n := count(t, s, `SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b', 'c')`); n != 3 {
		t.Fatalf("%d of the tables a, b, c", n)
	}
	if n := count(t, s, `SELECT count(*) FROM schema_migrations`); n != 3 {
		t.Fatalf("schema_migrations has %d rows, want 3", n)
	}
}
