package pool_test

import (
	"context"
	"os"
	"testing"

	"callgate/pool"
	"callgate/pool/internal/pgtest"
	"callgate/pool/storetest"
)

// pg is the throwaway PostgreSQL server of this package's tests, started once by
// TestMain; nil when PostgreSQL is not installed.
var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// openPostgres opens a PostgresStore on a new database of the test server.
func openPostgres(t *testing.T, cfg pool.PostgresConfig, opts ...pool.Option) *pool.PostgresStore {
	t.Helper()
	srv := pgtest.Require(t, pg)
	if cfg.DSN == "" {
		cfg.DSN = srv.Database(t)
	}
	if cfg.Instance == "" {
		cfg.Instance = "test"
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 16
	}
	s, err := pool.OpenPostgres(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestPostgresConformance runs the store conformance suite against PostgreSQL.
func TestPostgresConformance(t *testing.T) {
	pgtest.Require(t, pg)
	storetest.Run(t, func(t *testing.T, opts ...pool.Option) pool.Store {
		return openPostgres(t, pool.PostgresConfig{}, opts...)
	})
}
