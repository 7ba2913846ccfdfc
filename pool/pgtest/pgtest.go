// Package pgtest starts a throwaway PostgreSQL server for tests: initdb into a fresh
// directory, postgres listening on 127.0.0.1 on a free port, one database per test.
// As root it runs the server as the "postgres" user (postgres refuses to run as
// root). The server dies with the test process (Pdeathsig) and Close stops it. It is
// for the tests of any package (pool's own, and cmd/callgate's whole-server runs on
// PostgreSQL); callgate/pool/internal/pgtest forwards to it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres means no PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New("pgtest: no PostgreSQL binaries (initdb, postgres) found: apt-get install -y postgresql")

// RequireEnv names the environment variable that turns a missing PostgreSQL into a
// test failure instead of a skip (CI sets it).
const RequireEnv = "CALLGATE_REQUIRE_POSTGRES"

// startWait bounds how long Start waits for a new server to accept connections.
const startWait = 60 * time.Second

// Server is a running throwaway PostgreSQL server.
type Server struct {
	// DSN connects to its "postgres" database as the superuser "postgres".
	DSN  string
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
	n    atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// BinDir returns the directory of the newest PostgreSQL server binaries: the
// highest /usr/lib/postgresql/*/bin holding initdb, else the directory of initdb
// on PATH. It returns ErrNoPostgres if there is none.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if exe(filepath.Join(d, "initdb")) && exe(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if exe(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func exe(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Start initialises a cluster in a new temporary directory and starts postgres on
// 127.0.0.1. The caller must Close it.
func Start(ctx context.Context) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "callgate-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, done: make(chan struct{})}
	fail := func(err error) (*Server, error) {
		_ = s.Close()
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	if cred != nil {
		if err := os.Chmod(dir, 0o755); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %w: %s", err, out))
	}
	s.log, err = os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	for try := 0; ; try++ {
		s.port, err = freePort()
		if err != nil {
			return fail(err)
		}
		err = s.run(ctx, bin, data, cred)
		if err == nil || try == 4 {
			break
		}
	}
	if err != nil {
		return fail(err)
	}
	s.DSN = s.dsn("postgres")
	return s, nil
}

// run starts postgres on s.port and waits until it accepts connections.
func (s *Server) run(ctx context.Context, bin, data string, cred *syscall.Credential) error {
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", data,
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(s.port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=400", "-c", "shared_buffers=32MB", "-c", "logging_collector=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(startWait)
	for {
		c, err := pgx.Connect(ctx, s.dsn("postgres"))
		if err == nil {
			_ = c.Close(ctx)
			s.cmd, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("pgtest: postgres exited: %s", s.tail())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("pgtest: postgres not ready after %v: %w: %s", startWait, err, s.tail())
		}
	}
}

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// tail returns the end of the server's log.
func (s *Server) tail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// credential returns the postgres user's credential when running as root, else nil
// (run as the current user).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs a postgres user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// NewDatabase creates an empty database and returns its DSN.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d", s.n.Add(1))
	c, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return s.dsn(name), nil
}

// Database creates an empty database for t and returns its DSN; t fails if it
// cannot.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	dsn, err := s.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Close stops the server (fast shutdown; SIGKILL to its process group if it does not
// stop) and removes its directory. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.done
			}
		}
		if s.log != nil {
			_ = s.log.Close()
		}
		if s.dir != "" {
			s.closeErr = os.RemoveAll(s.dir)
		}
	})
	return s.closeErr
}

// Main is TestMain for a package whose tests use a Server: it starts one, stores it
// in *srv (nil when PostgreSQL is not installed), runs the tests and stops it. Use
// it as os.Exit(pgtest.Main(m, &srv)).
func Main(m *testing.M, srv **Server) int {
	s, err := Start(context.Background())
	switch {
	case errors.Is(err, ErrNoPostgres):
		*srv = nil
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	default:
		*srv = s
		defer s.Close()
	}
	return m.Run()
}

// Require returns srv, or skips t when PostgreSQL is not installed (fails it instead
// when the environment variable CALLGATE_REQUIRE_POSTGRES is set).
func Require(t testing.TB, srv *Server) *Server {
	t.Helper()
	if srv == nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%v (and %s is set)", ErrNoPostgres, RequireEnv)
		}
		t.Skip(ErrNoPostgres.Error())
	}
	return srv
}
