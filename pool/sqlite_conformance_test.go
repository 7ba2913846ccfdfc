package pool_test

import (
	"context"
	"path/filepath"
	"testing"

	"callgate/pool"
	"callgate/pool/storetest"
)

// TestSQLiteConformance runs the store conformance suite against SQLite.
func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts ...pool.Option) pool.Store {
		s, err := pool.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "callgate.db"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
