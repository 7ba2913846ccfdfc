package pool

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// pruneFixture stores old ended calls (each with two attempts, every third with
// feedback), one old call still open, and recent calls; it returns the reference
// time they are placed around.
func pruneFixture(t *testing.T, s *SQLiteStore, old int) time.Time {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	var calls []Call
	mk := func(id string, setup time.Time, ended bool) Call {
		c := Call{ID: id, Tenant: "acme", Direction: Outbound, Caller: "+8675500000001", Callee: "+8613800138000",
			OutTrunk: "carrier-a", State: "ended", SIPCode: 200, SetupAt: setup,
			Attempts: []Attempt{{CallID: id, Seq: 1, Trunk: "carrier-b", SIPCode: 503, StartAt: setup},
				{CallID: id, Seq: 2, Trunk: "carrier-a", SIPCode: 200, StartAt: setup}}}
		if ended {
			c.AnswerAt, c.EndAt = setup.Add(time.Second), setup.Add(time.Minute)
		} else {
			c.State = "answered"
		}
		return c
	}
	for i := range old {
		calls = append(calls, mk(fmt.Sprintf("old-%04d", i), now.Add(-100*24*time.Hour+time.Duration(i)*time.Second), true))
	}
	calls = append(calls, mk("old-open", now.Add(-95*24*time.Hour), false))
	for i := range 3 {
		calls = append(calls, mk(fmt.Sprintf("new-%d", i), now.Add(-time.Duration(i+1)*24*time.Hour), true))
	}
	if err := s.SaveBatch(ctx, Batch{Calls: calls}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < old; i += 3 {
		if _, err := s.AddFeedback(ctx, Feedback{CallID: fmt.Sprintf("old-%04d", i), Kind: FeedbackNoise}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddFeedback(ctx, Feedback{CallID: "new-0", Kind: FeedbackNoise}); err != nil {
		t.Fatal(err)
	}
	return now
}

func TestPruneCallsInBatches(t *testing.T) {
	s := openTest(t)
	const old = 2*pruneBatch + 7 // three transactions
	now := pruneFixture(t, s, old)
	res, err := s.PruneCalls(context.Background(), now.Add(-90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantFeedback := (old + 2) / 3
	if res.Calls != old || res.Attempts != 2*old || res.Feedback != wantFeedback {
		t.Fatalf("pruned %+v, want %d calls, %d attempts, %d feedback", res, old, 2*old, wantFeedback)
	}
	if n := count(t, s, `SELECT count(*) FROM calls`); n != 4 {
		t.Fatalf("%d calls left, want the open one and three recent", n)
	}
	if n := count(t, s, `SELECT count(*) FROM calls WHERE id = 'old-open'`); n != 1 {
		t.Fatal("an open call was pruned")
	}
	if n := count(t, s, `SELECT count(*) FROM call_attempts`); n != 8 {
		t.Fatalf("%d attempts left, want 8", n)
	}
	if n := count(t, s, `SELECT count(*) FROM call_feedback`); n != 1 {
		t.Fatalf("%d feedback left, want 1", n)
	}
	res, err = s.PruneCalls(context.Background(), now.Add(-90*24*time.Hour))
	if err != nil || res.Rows() != 0 {
		t.Fatalf("second prune: %+v, %v", res, err)
	}
}

func TestPrunerUsesItsClock(t *testing.T) {
	s := openTest(t)
	now := pruneFixture(t, s, 5)
	var mu sync.Mutex
	clock := now.Add(-200 * 24 * time.Hour) // nothing is older than 90 days yet
	var passes []PruneResult
	p := NewPruner(s, PrunerSettings{Retention: 90 * 24 * time.Hour, Every: time.Hour,
		Now:    func() time.Time { mu.Lock(); defer mu.Unlock(); return clock },
		OnPass: func(r PruneResult) { passes = append(passes, r) }})
	res, err := p.RunOnce(context.Background())
	if err != nil || res.Rows() != 0 {
		t.Fatalf("pass before anything expired: %+v, %v", res, err)
	}
	mu.Lock()
	clock = now
	mu.Unlock()
	res, err = p.RunOnce(context.Background())
	if err != nil || res.Calls != 5 || res.Attempts != 10 || res.Feedback != 2 {
		t.Fatalf("pass at now: %+v, %v", res, err)
	}
	if len(passes) != 1 || !reflect.DeepEqual(passes[0], res) {
		t.Fatalf("OnPass saw %+v, want one pass %+v", passes, res)
	}
	mu.Lock()
	clock = now.Add(24*time.Hour + time.Minute) // new-0 (one day old) is now 2 days old: kept
	mu.Unlock()
	if res, _ := p.RunOnce(context.Background()); res.Rows() != 0 {
		t.Fatalf("recent calls pruned: %+v", res)
	}
	off := NewPruner(s, PrunerSettings{Retention: -1, Now: func() time.Time { return now.Add(1000 * 24 * time.Hour) }})
	if res, err := off.RunOnce(context.Background()); err != nil || res.Rows() != 0 {
		t.Fatalf("retention off pruned %+v, %v", res, err)
	}
}

func TestPrunerStartStop(t *testing.T) {
	s := openTest(t)
	now := pruneFixture(t, s, 3)
	done := make(chan PruneResult, 1)
	p := NewPruner(s, PrunerSettings{Retention: 90 * 24 * time.Hour, Every: time.Hour, Now: func() time.Time { return now },
		OnPass: func(r PruneResult) { done <- r }})
	p.Start(context.Background())
	p.Start(context.Background()) // a second Start does nothing
	select {
	case r := <-done:
		if r.Calls != 3 {
			t.Fatalf("first pass: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no pass at Start")
	}
	p.Stop()
	p.Stop()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
