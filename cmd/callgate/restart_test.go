package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"callgate/pool"
	"callgate/sip/demo"
)

// childArgsEnv makes the test binary run callgate's main instead of the tests: the
// restart test starts and SIGKILLs callgate as a real separate process.
const childArgsEnv = "CALLGATE_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, strings.Fields(args), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// child is callgate running in its own process.
type child struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port/
	logs *lineWriter
}

func startChild(t *testing.T, config string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"=serve --config "+config)
	logs := &lineWriter{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("callgate (pid %d) logs:\n%s", cmd.Process.Pid, tail(logs.String(), 6000))
		}
	})
	page := regexp.MustCompile(`page at (http://127\.0\.0\.1:\d+/)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := page.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case c.base = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("callgate did not print its page URL")
	}
	return c
}

// A SIGKILL with a call up and its caller number locked loses nothing: after the
// restart the call has a record (ended as interrupted, billed up to the dead
// process's last journal write), the number stays locked until its lease runs out
// and no longer, and then serves the next call.
func TestRestartAfterSIGKILL(t *testing.T) {
	carrier := &demo.Carrier{RingFor: 100 * time.Millisecond, Tone: time.Hour, ToneHz: 440}
	if err := carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	dir := t.TempDir()
	db := filepath.Join(dir, "callgate.db")
	const lease = 3 * time.Second
	t.Setenv("ALICE_TOKEN", agentToken)
	cfg := filepath.Join(dir, "callgate.yaml")
	yaml := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: "off"
media:
  bind_address: 127.0.0.1
  port_min: 36000
  port_max: 36998
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
    seats: 2
    callers:
      lease: %s
      caps: %s
agents:
  - tenant: acme
    name: alice
    token_env: ALICE_TOKEN
trunks:
  - name: carrier
    host: 127.0.0.1
    port: %d
pools:
  - name: acme-fixed
    supplier: c
    type: fixed
    tenant: acme
    trunks: [carrier]
    numbers: ["+862100000001"]
`, db, lease, noCaps, carrier.Addr().Port())
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	first := startChild(t, cfg)
	agent := newGoAgent(t, first.base, agentToken)
	callID := agent.dial("+8613800138000")
	agent.state("connected")
	eventually(t, "the carrier hears the agent", func() bool {
		calls := carrier.Calls()
		return len(calls) == 1 && dominant(calls[0].Heard(), 1000, 440)
	})
	if from := carrier.Calls()[0].From; from != "+862100000001" {
		t.Fatalf("the call shows %q, want the tenant's only number", from)
	}
	time.Sleep(300 * time.Millisecond) // talk a little: the record has been journaled
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	killed := time.Now()

	second := startChild(t, cfg)
	store, err := pool.OpenSQLite(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec, err := store.Call(context.Background(), callID)
	if err != nil {
		t.Fatalf("the killed call's record was lost: %v", err)
	}
	if rec.State != "ended" || rec.Reason != pool.ReasonInterrupted || rec.AnswerAt.IsZero() ||
		rec.EndAt.Before(rec.AnswerAt) || rec.EndAt.After(killed) || rec.Caller != "+862100000001" {
		t.Errorf("record after the restart: %+v; want answered, ended as interrupted before the kill", rec)
	}

	// The lease outlives the dead process, but not by more than the lease. Read it
	// before dialling: it was last renewed up to a renewal interval before the kill,
	// so how long it still runs is the store's to say, not the kill time's.
	agent2 := newGoAgent(t, second.base, agentToken)
	var leaseUntil int64
	if err := rawQuery(db, `SELECT coalesce(max(lease_until), 0) FROM caller_leases`, &leaseUntil); err != nil {
		t.Fatal(err)
	}
	if until := time.UnixMilli(leaseUntil); until.After(killed.Add(lease)) {
		t.Errorf("the dead call's lease runs until %v, more than %v after the kill at %v", until, lease, killed)
	}
	if left := time.Until(time.UnixMilli(leaseUntil)); left > 500*time.Millisecond {
		agent2.send(map[string]any{"type": "dial", "id": "early", "to": "+8613800138001"})
		if m := agent2.next("call", "error"); m["type"] != "error" {
			t.Errorf("dial with the only number still leased for %v: %v; want an error", left, m)
		} else {
			t.Logf("dial while the dead call's lease runs: %v", m)
		}
	}
	time.Sleep(time.Until(time.UnixMilli(leaseUntil)) + 200*time.Millisecond)
	id2 := agent2.dial("+8613800138001")
	agent2.state("connected")
	eventually(t, "the second call reaches the carrier", func() bool { return len(carrier.Calls()) == 2 })
	if from := carrier.Calls()[1].From; from != "+862100000001" {
		t.Errorf("after the lease the number serves again: From %q", from)
	}
	agent2.send(map[string]any{"type": "hangup", "call": id2})
	agent2.state("ended")
}

// rawQuery reads one value from the database file, read-only.
func rawQuery(db, query string, dest any) error {
	conn, err := sql.Open("sqlite3", "file:"+db+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.QueryRow(query).Scan(dest)
}
