package pool_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"callgate/pool"
	"callgate/pool/internal/pgtest"
)

// Checks of the PostgreSQL store that the conformance suite cannot make through
// the Store API: what the tables hold, several instances on one database, and the
// GC's behaviour next to a transaction holding a number.

var pgT0 = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

// pgShared opens n stores (instances i0, i1, …) on one new database and a plain
// connection to it.
func pgShared(t *testing.T, n int, opts ...pool.Option) ([]*pool.PostgresStore, *pgx.Conn) {
	t.Helper()
	dsn := pgtest.Require(t, pg).Database(t)
	var ss []*pool.PostgresStore
	for i := range n {
		ss = append(ss, openPostgres(t, pool.PostgresConfig{DSN: dsn, Instance: fmt.Sprintf("i%d", i)}, opts...))
	}
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return ss, c
}

func pgCount(t *testing.T, c *pgx.Conn, q string, args ...any) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The database holds a token's SHA-256, never the token or its secret.
func TestPostgresAgentTokenStoredHashedOnly(t *testing.T) {
	ss, c := pgShared(t, 2, pool.WithClock(func() time.Time { return pgT0 }))
	ctx := context.Background()
	tok, rec, err := ss[0].IssueAgentToken(ctx, pool.AgentToken{Tenant: "acme", Agent: "alice", ExpiresAt: pgT0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var hash []byte
	if err := c.QueryRow(ctx, `SELECT hash FROM agent_tokens WHERE id = $1`, rec.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte(tok)); !bytes.Equal(hash, want[:]) {
		t.Fatalf("stored hash %x, want sha256(token) %x", hash, want)
	}
	secret := tok[strings.LastIndexByte(tok, '_')+1:]
	if n := pgCount(t, c, `SELECT count(*) FROM agent_tokens WHERE position($1 in encode(hash, 'escape') || id || tenant || agent || app) > 0`,
		secret); n != 0 {
		t.Fatalf("the secret appears in %d rows", n)
	}
	// Issued on one instance, it logs in on another.
	if got, err := ss[1].AuthenticateAgentToken(ctx, tok); err != nil || got != rec {
		t.Fatalf("on the other instance: %+v %v", got, err)
	}
}

// Each write deletes at most a few expired relations, the oldest first.
func TestPostgresCallbackWritesSweepExpired(t *testing.T) {
	const sweep = 16 // callbackSweep
	ss, c := pgShared(t, 1)
	ctx := context.Background()
	for i := range 3 * sweep {
		r := pool.CallbackRelation{Tenant: "acme", Number: "+862100000001", Customer: fmt.Sprintf("+86139000%05d", i), Agent: "alice",
			LastCallAt: pgT0, ExpiresAt: pgT0.Add(time.Hour)}
		if err := ss[0].RememberCallback(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	live := pool.CallbackRelation{Tenant: "acme", Number: "+862100000002", Customer: "+8613900000002", Agent: "bob",
		LastCallAt: pgT0.Add(2 * time.Hour), ExpiresAt: pgT0.Add(3 * time.Hour)}
	for range 2 {
		if err := ss[0].RememberCallback(ctx, live); err != nil {
			t.Fatal(err)
		}
	}
	if n := pgCount(t, c, `SELECT count(*) FROM callback_relations`); n != sweep+1 {
		t.Fatalf("%d relations left, want %d: each write deletes %d expired ones", n, sweep+1, sweep)
	}
}

// The GC waits for no one: a binding on a number another transaction holds (an
// allocation in flight, say) is left for the next pass, and the rest is reclaimed.
func TestPostgresGCSkipsHeldNumbers(t *testing.T) {
	ss, c := pgShared(t, 2, pool.WithClock(func() time.Time { return pgT0 }), pool.WithBindingRules(pool.BindingRules{CoolDown: time.Minute}))
	ctx := context.Background()
	var ns []pool.VirtualNumber
	for i := range 2 {
		ns = append(ns, pool.VirtualNumber{Number: fmt.Sprintf("+867559000000%d", i), Pool: "p"})
	}
	if err := ss[0].SyncVirtualNumbers(ctx, ns); err != nil {
		t.Fatal(err)
	}
	var made []pool.BindingRecord
	for i := range 2 {
		b, _, err := ss[0].CreateBinding(ctx, pool.NewBinding{Tenant: "t", Mode: pool.ModeAXN, B: fmt.Sprintf("+861390000000%d", i),
			Pools: []string{"p"}, Expiry: pool.ExpirySpec{Type: pool.ExpiryAfterBind, Sec: 60}})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, b)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM virtual_numbers WHERE number = $1 FOR UPDATE`, made[0].Virtual); err != nil {
		t.Fatal(err)
	}
	r, err := ss[1].CollectGarbage(ctx, pgT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Reclaimed) != 1 || r.Reclaimed[0].ID != made[1].ID {
		t.Fatalf("GC with %s held: %+v, want only binding %d reclaimed", made[0].Virtual, r, made[1].ID)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	r, err = ss[1].CollectGarbage(ctx, pgT0.Add(time.Hour))
	if err != nil || len(r.Reclaimed) != 1 || r.Reclaimed[0].ID != made[0].ID {
		t.Fatalf("GC once released: %+v %v, want binding %d", r, err, made[0].ID)
	}
	if n := pgCount(t, c, `SELECT coalesce(sum(bound), 0) FROM virtual_numbers`); n != 0 {
		t.Fatalf("bound counts sum to %d with no live binding", n)
	}
	if n := pgCount(t, c, `SELECT count(*) FROM binding_parties WHERE cooling_until IS NULL`); n != 0 {
		t.Fatalf("%d pairs still held by reclaimed bindings", n)
	}
}

// Instances pruning at once delete every old record exactly once between them.
func TestPostgresPruneFromTwoInstances(t *testing.T) {
	const old = 1200
	ss, c := pgShared(t, 2)
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	var calls []pool.Call
	for i := range old {
		setup := now.Add(-100*24*time.Hour + time.Duration(i)*time.Second)
		calls = append(calls, pool.Call{ID: fmt.Sprintf("old-%04d", i), Tenant: "acme", Direction: pool.Outbound, State: "ended",
			SetupAt: setup, EndAt: setup.Add(time.Minute), Attempts: []pool.Attempt{{Seq: 1, StartAt: setup}}})
	}
	if err := ss[0].SaveBatch(ctx, pool.Batch{Calls: calls}); err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sum  pool.PruneResult
		errs []error
	)
	for _, s := range ss {
		wg.Go(func() {
			r, err := s.PruneCalls(ctx, now.Add(-90*24*time.Hour))
			mu.Lock()
			defer mu.Unlock()
			sum.Calls += r.Calls
			sum.Attempts += r.Attempts
			errs = append(errs, err)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// A pass may stop early when the other holds the rest; a last pass takes any left.
	r, err := ss[0].PruneCalls(ctx, now.Add(-90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sum.Calls += r.Calls
	sum.Attempts += r.Attempts
	if sum.Calls != old || sum.Attempts != old {
		t.Fatalf("pruned %d calls and %d attempts between them, want %d each", sum.Calls, sum.Attempts, old)
	}
	if n := pgCount(t, c, `SELECT count(*) FROM calls`); n != 0 {
		t.Fatalf("%d calls left", n)
	}
}

// A restarted instance closes its own interrupted recordings, not those another
// live instance is making.
func TestPostgresCloseOpenRecordingsPerInstance(t *testing.T) {
	ss, _ := pgShared(t, 2)
	ctx := context.Background()
	for i, s := range ss {
		if err := s.SaveRecording(ctx, pool.Recording{CallID: fmt.Sprintf("c%d", i), Tenant: "acme", Path: "/rec/x.wav",
			State: pool.RecordingActive}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveBatch(ctx, pool.Batch{Alive: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	closed, err := ss[0].CloseOpenRecordings(ctx)
	if err != nil || len(closed) != 1 || closed[0].CallID != "c0" {
		t.Fatalf("closed %+v %v, want c0 only", closed, err)
	}
	if r, err := ss[1].Recording(ctx, "c1"); err != nil || r.State != pool.RecordingActive {
		t.Fatalf("the live instance's recording: %+v %v", r, err)
	}
}
