package pgtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

var srv *Server // started once by TestMain

func TestMain(m *testing.M) { os.Exit(Main(m, &srv)) }

func TestDatabase(t *testing.T) {
	s := Require(t, srv)
	ctx := context.Background()
	a, b := s.Database(t), s.Database(t)
	if a == b {
		t.Fatalf("two databases share DSN %s", a)
	}
	c, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var addr string
	if err := c.QueryRow(ctx, `SELECT host(inet_server_addr())`).Scan(&addr); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1" {
		t.Fatalf("server address %q, want 127.0.0.1", addr)
	}
}

func TestCloseTwice(t *testing.T) {
	Require(t, srv)
	s, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pid := s.cmd.Process.Pid
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Fatalf("directory %s left behind: %v", s.dir, err)
	}
	if _, err := os.Stat("/proc/" + itoa(pid)); !os.IsNotExist(err) {
		t.Fatalf("postgres %d still running", pid)
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
