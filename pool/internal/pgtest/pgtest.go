// Package pgtest is callgate/pool/pgtest under its former import path, for the
// tests of package pool that import it from here: a throwaway PostgreSQL server on
// 127.0.0.1 that dies with the tests.
package pgtest

import (
	"context"
	"testing"

	"callgate/pool/pgtest"
)

// Server is a running throwaway PostgreSQL server (pgtest.Server).
type Server = pgtest.Server

// ErrNoPostgres means no PostgreSQL server binaries were found.
var ErrNoPostgres = pgtest.ErrNoPostgres

// RequireEnv names the environment variable that turns a missing PostgreSQL into a
// test failure instead of a skip.
const RequireEnv = pgtest.RequireEnv

// BinDir returns the directory of the newest PostgreSQL server binaries.
func BinDir() (string, error) { return pgtest.BinDir() }

// Start starts a server on 127.0.0.1; the caller must Close it.
func Start(ctx context.Context) (*Server, error) { return pgtest.Start(ctx) }

// Main is TestMain for a package whose tests use a Server (pgtest.Main).
func Main(m *testing.M, srv **Server) int { return pgtest.Main(m, srv) }

// Require returns srv, or skips t when PostgreSQL is not installed (pgtest.Require).
func Require(t testing.TB, srv *Server) *Server {
	t.Helper()
	return pgtest.Require(t, srv)
}
