package pgtest

import (
	"os"
	"testing"
)

var srv *Server // started once by TestMain

func TestMain(m *testing.M) { os.Exit(Main(m, &srv)) }

// The forwarding package starts a usable server (the server's own tests are in
// callgate/pool/pgtest).
func TestForwards(t *testing.T) {
	s := Require(t, srv)
	if a, b := s.Database(t), s.Database(t); a == "" || a == b {
		t.Fatalf("databases %q and %q", a, b)
	}
}
