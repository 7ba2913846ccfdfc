package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The journal stores every snapshot's latest version, one row per call, and the
// binding touches merged to their earliest and latest times.
func TestJournalWritesLatestSnapshots(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.SyncStaticBindings(ctx, []Binding{{Mode: ModeAXN, Virtual: "+861", B: "+862"}}); err != nil {
		t.Fatal(err)
	}
	bs, err := s.ActiveBindings(ctx, "+861", t0)
	if err != nil || len(bs) != 1 {
		t.Fatal(bs, err)
	}
	j := NewJournal(s, JournalOptions{Every: time.Hour}) // only Flush writes
	defer j.Close()
	base := Call{ID: "c1", Tenant: "t", Direction: Inbound, Caller: "+863", Callee: "+862", SetupAt: t0}
	ans := base
	ans.State, ans.AnswerAt, ans.SIPCode = "answered", t0.Add(time.Second), 200
	end := ans
	end.State, end.EndAt, end.BilledSec = "ended", t0.Add(5*time.Second), 4
	end.Attempts = []Attempt{{Seq: 1, Trunk: "tr", SIPCode: 200, StartAt: t0, AnswerAt: ans.AnswerAt, EndAt: end.EndAt}}
	for _, c := range []Call{base, ans, end} {
		if err := j.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []time.Duration{3, 1, 2} {
		if err := j.TouchBinding(ctx, bs[0].ID, t0.Add(d*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.TouchBinding(ctx, 999, t0); err != nil { // unknown: skipped when written
		t.Fatal(err)
	}
	if _, err := s.Call(ctx, "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before Flush the record is queued, not stored: %v", err)
	}
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.Call(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "ended" || got.BilledSec != 4 || len(got.Attempts) != 1 || !got.EndAt.Equal(end.EndAt) {
		t.Errorf("stored %+v, want the ended snapshot", got)
	}
	b, _ := bindingByID(t, s, bs[0].ID)
	if !b.FirstCall.Equal(t0.Add(time.Minute)) || !b.LastCall.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("binding first/last call %v/%v, want +1m/+3m", b.FirstCall, b.LastCall)
	}
	// An older snapshot arriving after the end never reopens the record.
	if err := j.SaveCall(ctx, ans); err != nil {
		t.Fatal(err)
	}
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Call(ctx, "c1"); got.State != "ended" {
		t.Errorf("late snapshot reopened the record: %+v", got)
	}
	if err := j.SaveCall(ctx, Call{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SaveCall without ID: %v, want ErrInvalid", err)
	}
	if err := j.TouchBinding(ctx, 1, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("TouchBinding at zero time: %v, want ErrInvalid", err)
	}
}

// One bad record does not lose the rest of its batch.
func TestJournalIsolatesABadRecord(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	j := NewJournal(s, JournalOptions{Every: time.Hour})
	defer j.Close()
	good := Call{ID: "good", Direction: Outbound, SetupAt: t0}
	bad := Call{ID: "bad", Direction: Outbound, SetupAt: t0, BilledSec: -1}
	for _, c := range []Call{good, bad} {
		if err := j.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(ctx); !errors.Is(err, ErrInvalid) {
		t.Errorf("Flush = %v, want the bad record's ErrInvalid", err)
	}
	if _, err := s.Call(ctx, "good"); err != nil {
		t.Errorf("the good record was lost with the bad one: %v", err)
	}
}

// Many writers at once: every record arrives, the queue bound holds writers back
// instead of growing, and Close writes what is left; after Close writes go straight
// to the store; Close twice is fine.
func TestJournalConcurrentAndClose(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	j := NewJournal(s, JournalOptions{Every: time.Millisecond, MaxPending: 16})
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				c := Call{ID: fmt.Sprintf("w%d-%d", w, i), Direction: Inbound, SetupAt: t0}
				if err := j.SaveCall(ctx, c); err != nil {
					t.Error(err)
					return
				}
				c.State, c.EndAt = "ended", t0.Add(time.Second)
				if err := j.SaveCall(ctx, c); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM calls WHERE state = 'ended'`); n != writers*each {
		t.Errorf("%d ended records stored, want %d", n, writers*each)
	}
	if err := j.SaveCall(ctx, Call{ID: "late", Direction: Inbound, SetupAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Call(ctx, "late"); err != nil {
		t.Errorf("a write after Close is stored at once: %v", err)
	}
}

// An idle journal keeps the liveness mark fresh.
func TestJournalAlive(t *testing.T) {
	s := openTest(t)
	clk := newClock(t0)
	j := NewJournal(s, JournalOptions{Alive: time.Millisecond, Now: clk.Now})
	defer j.Close()
	deadline := time.Now().Add(10 * time.Second)
	for count(t, s, `SELECT count(*) FROM alive WHERE at = ?`, t0.UnixMilli()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no liveness mark written by an idle journal")
		}
		time.Sleep(time.Millisecond)
	}
}

// CloseOpenCalls ends what a dead process left open at its last liveness mark and
// bills answered calls up to it; ended records are left alone.
func TestCloseOpenCalls(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	alive := t0.Add(10 * time.Second)
	calls := []Call{
		{ID: "ringing", Direction: Outbound, State: "ringing", SetupAt: t0, RingAt: t0.Add(time.Second),
			Attempts: []Attempt{{Seq: 1, StartAt: t0}}},
		{ID: "answered", Direction: Inbound, State: "answered", SetupAt: t0, AnswerAt: t0.Add(2500 * time.Millisecond)},
		{ID: "done", Direction: Inbound, State: "ended", SetupAt: t0, EndAt: t0.Add(time.Second), Reason: "normal"},
		{ID: "after", Direction: Inbound, State: "setup", SetupAt: t0.Add(time.Minute)}, // set up after the mark
	}
	if err := s.SaveBatch(ctx, Batch{Calls: calls, Alive: alive}); err != nil {
		t.Fatal(err)
	}
	ended, err := s.CloseOpenCalls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ended) != 3 {
		t.Fatalf("ended %d records, want 3: %+v", len(ended), ended)
	}
	for id, want := range map[string]struct {
		end    time.Time
		billed int64
	}{
		"ringing": {alive, 0}, "answered": {alive, 8}, "after": {t0.Add(time.Minute), 0},
	} {
		c, err := s.Call(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != "ended" || c.Reason != ReasonInterrupted || c.HangupBy != "system" || !c.EndAt.Equal(want.end) || c.BilledSec != want.billed {
			t.Errorf("%s: %+v; want ended interrupted at %v billed %d", id, c, want.end, want.billed)
		}
		for _, a := range c.Attempts {
			if a.EndAt.IsZero() {
				t.Errorf("%s: attempt %d left open", id, a.Seq)
			}
		}
	}
	if c, _ := s.Call(ctx, "done"); c.Reason != "normal" || !c.EndAt.Equal(t0.Add(time.Second)) {
		t.Errorf("an ended record was changed: %+v", c)
	}
	if again, err := s.CloseOpenCalls(ctx); err != nil || len(again) != 0 {
		t.Errorf("second sweep: %v, %v; want nothing", again, err)
	}
}
