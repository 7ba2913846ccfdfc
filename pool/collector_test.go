package pool

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// gcFunc is a GarbageCollector made of a function.
type gcFunc func(ctx context.Context, now time.Time) (GCResult, error)

func (f gcFunc) CollectGarbage(ctx context.Context, now time.Time) (GCResult, error) {
	return f(ctx, now)
}

func TestCollector(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openPools(t, BindingRules{CoolDown: -1}, clk, numbers("p", "", 0, 2))
	b := mustCreate(t, s, NewBinding{Tenant: "t", Mode: ModeAXN, B: party('b', 1), Pools: []string{"p"},
		Expiry: ExpirySpec{Type: ExpiryAfterBind, Sec: 60}})

	passes := make(chan GCResult, 100)
	c, err := NewCollector(s, 5*time.Millisecond, WithCollectorClock(clk.Now), WithCollectorLogger(discardLogger()),
		WithOnPass(func(_ context.Context, r GCResult) { passes <- r }))
	if err != nil {
		t.Fatal(err)
	}
	c.Stop() // before Start: nothing to stop
	c.Start(ctx)
	c.Start(ctx) // a second Start does nothing
	// The first pass runs at once, at t0: nothing to reclaim.
	if r := <-passes; len(r.Reclaimed) != 0 {
		t.Fatalf("first pass reclaimed %+v", r.Reclaimed)
	}
	clk.Set(t0.Add(time.Minute))
	deadline := time.After(5 * time.Second)
	for reclaimed := false; !reclaimed; {
		select {
		case r := <-passes:
			reclaimed = len(r.Reclaimed) == 1 && r.Reclaimed[0].ID == b.ID && r.Reclaimed[0].EndReason == EndExpired
		case <-deadline:
			t.Fatal("the collector did not reclaim the expired binding")
		}
	}
	c.Stop()
	c.Stop()
	// Stopped: no more passes.
	for len(passes) > 0 {
		<-passes
	}
	time.Sleep(20 * time.Millisecond)
	if len(passes) != 0 {
		t.Error("passes after Stop")
	}
}

func TestCollectorStopsWithContextAndReportsErrors(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	fail := gcFunc(func(context.Context, time.Time) (GCResult, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return GCResult{}, errors.New("disk full")
	})
	c, err := NewCollector(fail, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RunOnce(context.Background()); err == nil {
		t.Error("RunOnce hid the error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.Start(ctx)
	time.Sleep(10 * time.Millisecond)
	cancel()
	c.Stop() // returns once the goroutine has seen the cancelled context
	mu.Lock()
	n := calls
	mu.Unlock()
	if n < 2 {
		t.Errorf("%d passes; a failing pass must not stop the collector", n)
	}
	for name, f := range map[string]func() error{
		"nil gc":        func() error { _, err := NewCollector(nil, time.Second); return err },
		"zero interval": func() error { _, err := NewCollector(fail, 0); return err },
		"nil clock":     func() error { _, err := NewCollector(fail, time.Second, WithCollectorClock(nil)); return err },
		"nil logger":    func() error { _, err := NewCollector(fail, time.Second, WithCollectorLogger(nil)); return err },
	} {
		if err := f(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestUseNonce(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	s := openAt(t, path)
	window := 300 * time.Second
	use := func(s *SQLiteStore, app, nonce string, at, now time.Time) error {
		return s.UseNonce(ctx, app, nonce, at, now.Add(-window))
	}
	if err := use(s, "crm", "n1", t0, t0); err != nil {
		t.Fatal(err)
	}
	if err := use(s, "crm", "n1", t0, t0.Add(time.Second)); !errors.Is(err, ErrExists) {
		t.Errorf("replay: err = %v, want ErrExists", err)
	}
	if err := use(s, "billing", "n1", t0, t0); err != nil {
		t.Errorf("same nonce, other app: %v", err)
	}
	// Kept across a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	if err := use(s, "crm", "n1", t0, t0.Add(time.Minute)); !errors.Is(err, ErrExists) {
		t.Errorf("replay after reopen: err = %v, want ErrExists", err)
	}
	// Forgotten once no request with its timestamp could be accepted.
	if err := use(s, "crm", "n2", t0.Add(window+time.Second), t0.Add(window+time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM api_nonces WHERE nonce = 'n1'`); n != 0 {
		t.Errorf("old nonces kept: %d", n)
	}
	if err := s.UseNonce(ctx, "", "x", t0, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty app: %v", err)
	}
}
