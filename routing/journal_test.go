package routing

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"callgate/pool"
)

// faultyStore is a real store whose journal writes fail on demand.
type faultyStore struct {
	*pool.SQLiteStore
	transient atomic.Int32 // fail this many more writes with a retryable error
	poison    atomic.Bool  // refuse every batch holding a renewal, for good
}

func (s *faultyStore) ApplyCallerOps(ctx context.Context, ops []pool.CallerOp) ([]pool.CallerOpResult, error) {
	if s.transient.Add(-1) >= 0 {
		return nil, fmt.Errorf("disk hiccup: %w", pool.ErrClosed)
	}
	for _, op := range ops {
		if op.Renew != nil && s.poison.Load() {
			return nil, errors.New("constraint failed")
		}
	}
	return s.SQLiteStore.ApplyCallerOps(ctx, ops)
}

func TestJournalSurvivesStoreFailures(t *testing.T) {
	ctx := context.Background()
	store := &faultyStore{SQLiteStore: openStore(t, filepath.Join(t.TempDir(), "db"))}
	p := acmePlan()
	fixedOnly(fixA, fixB)(&p)
	clock := &testClock{now: t0}
	r := openRouter(t, store, clock, p)

	store.transient.Store(2)
	a := route(t, r, xx(1))
	b := route(t, r, xx(2))
	deadline := time.Now().Add(10 * time.Second)
	for r.Flush(ctx) != nil { // the writer retries with back-off
		if time.Now().After(deadline) {
			t.Fatal("journal never written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	store.poison.Store(true)
	clock.Add(30 * time.Second)
	r.renew() // refused for good: dropped, the rest goes on
	a.Lease.Release(OutcomeAnswered)
	b.Lease.Release(OutcomeNotPlaced)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := store.LoadCallerState(ctx, pool.CallerStateQuery{Now: t0, SinceDay: DayKey(t0, shanghai)})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Leases) != 0 || len(st.CalleeDays) != 1 || len(st.Escalations) != 1 {
		t.Fatalf("store after failures: %d leases, %d callee counts, %d escalations", len(st.Leases), len(st.CalleeDays), len(st.Escalations))
	}
}
