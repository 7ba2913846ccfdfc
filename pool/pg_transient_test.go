package pool

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// The journals keep work that failed transiently: a PostgreSQL outage or conflict
// is transient, a refusal by the data is not.
func TestTransientPostgresErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"serialization", &pgconn.PgError{Code: "40001"}, true},
		{"deadlock", fmt.Errorf("reserve: %w", &pgconn.PgError{Code: "40P01"}), true},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, true},
		{"network", &net.OpError{Op: "read", Err: errors.New("connection reset")}, true},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"check violation", &pgconn.PgError{Code: "23514"}, false},
		{"syntax", &pgconn.PgError{Code: "42601"}, false},
		{"invalid input", fmt.Errorf("x: %w", ErrInvalid), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
