package storetest

import (
	"fmt"
	"testing"
	"time"

	"callgate/pool"
)

func testCalls(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s := open(t, pool.WithClock(clk.Now))
	ctx := ctxT(t)
	c := pool.Call{ID: "c1", Tenant: "t1", Direction: pool.Outbound, Agent: "alice", Caller: "+8675500000001",
		Callee: "+8613800000001", SetupAt: t0.Add(123 * time.Millisecond),
		Attempts: []pool.Attempt{{Seq: 0, Trunk: "tr1", From: "+8675500000001", To: "+8613800000001", StartAt: t0}}}
	must(t, s.StartCall(ctx, c))
	wantErr(t, s.StartCall(ctx, c), pool.ErrExists)
	wantErr(t, s.StartCall(ctx, pool.Call{Direction: pool.Inbound}), pool.ErrInvalid)
	wantErr(t, s.StartCall(ctx, pool.Call{ID: "x", Direction: "sideways"}), pool.ErrInvalid)
	must(t, s.AddAttempt(ctx, pool.Attempt{CallID: "c1", Seq: 0, Trunk: "tr1", SIPCode: 503, Reason: "unavailable",
		StartAt: t0, EndAt: t0.Add(time.Second)}))
	must(t, s.AddAttempt(ctx, pool.Attempt{CallID: "c1", Seq: 1, Trunk: "tr2", StartAt: t0.Add(time.Second)}))
	wantErr(t, s.AddAttempt(ctx, pool.Attempt{CallID: "nope", Seq: 0}), pool.ErrNotFound)
	end := pool.Call{ID: "c1", OutTrunk: "tr2", SIPCode: 200, Reason: "callee_bye", HangupBy: "callee",
		RingAt: t0.Add(2 * time.Second), AnswerAt: t0.Add(5 * time.Second), EndAt: t0.Add(65 * time.Second),
		BilledSec: 60, CostMilli: 1500, PacketsFromA: 3000, PacketsToA: 2999, PacketsFromB: 2998, PacketsToB: 2997,
		Attempts: []pool.Attempt{{Seq: 1, Trunk: "tr2", SIPCode: 200, StartAt: t0.Add(time.Second), AnswerAt: t0.Add(5 * time.Second)}}}
	must(t, s.EndCall(ctx, end))
	wantErr(t, s.EndCall(ctx, pool.Call{ID: "nope"}), pool.ErrNotFound)

	got, err := s.Call(ctx, "c1")
	must(t, err)
	want := c
	want.OutTrunk, want.State, want.SIPCode, want.Reason, want.HangupBy = "tr2", "ended", 200, "callee_bye", "callee"
	want.RingAt, want.AnswerAt, want.EndAt, want.BilledSec, want.CostMilli = end.RingAt, end.AnswerAt, end.EndAt, 60, 1500
	want.PacketsFromA, want.PacketsToA, want.PacketsFromB, want.PacketsToB = 3000, 2999, 2998, 2997
	if g := fmt.Sprintf("%+v", got.Attempts); len(got.Attempts) != 2 || got.Attempts[0].SIPCode != 503 ||
		got.Attempts[1].SIPCode != 200 || got.Attempts[1].CallID != "c1" {
		t.Fatalf("attempts %s", g)
	}
	got.Attempts, want.Attempts = nil, nil
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("call\n got %+v\nwant %+v", got, want)
	}
	if got.SetupAt.Location() != time.UTC {
		t.Errorf("SetupAt in %v, want UTC", got.SetupAt.Location())
	}
	_, err = s.Call(ctx, "nope")
	wantErr(t, err, pool.ErrNotFound)

	// Defaults: SetupAt and EndAt from the store's clock, state setup then ended.
	must(t, s.StartCall(ctx, pool.Call{ID: "c2", Tenant: "t1", Direction: pool.Inbound, Agent: "bob"}))
	clk.Advance(time.Minute)
	must(t, s.StartCall(ctx, pool.Call{ID: "c3", Tenant: "t2", Direction: pool.Inbound}))
	c2, err := s.Call(ctx, "c2")
	must(t, err)
	if c2.State != "setup" || !c2.SetupAt.Equal(t0) || !c2.EndAt.IsZero() {
		t.Fatalf("defaults %+v", c2)
	}
	must(t, s.EndCall(ctx, pool.Call{ID: "c2"}))
	c2, err = s.Call(ctx, "c2")
	must(t, err)
	if c2.State != "ended" || !c2.EndAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ended with defaults %+v", c2)
	}

	list := func(f pool.CallFilter) []string {
		t.Helper()
		cs, err := s.Calls(ctx, f)
		must(t, err)
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	checks := []struct {
		f    pool.CallFilter
		want string
	}{
		{pool.CallFilter{}, "[c3 c1 c2]"},
		{pool.CallFilter{Tenant: "t1"}, "[c1 c2]"},
		{pool.CallFilter{Tenant: "t1", Agent: "bob"}, "[c2]"},
		{pool.CallFilter{Since: t0.Add(time.Millisecond)}, "[c3 c1]"},
		{pool.CallFilter{Until: t0.Add(time.Minute)}, "[c1 c2]"},
		{pool.CallFilter{Limit: 1}, "[c3]"},
	}
	for _, c := range checks {
		if got := fmt.Sprint(list(c.f)); got != c.want {
			t.Errorf("Calls(%+v) = %s, want %s", c.f, got, c.want)
		}
	}
	cs, err := s.Calls(ctx, pool.CallFilter{Tenant: "t1", Agent: "alice"})
	must(t, err)
	if len(cs) != 1 || len(cs[0].Attempts) != 2 || cs[0].Feedback != nil {
		t.Fatalf("listed call %+v, want its attempts and no feedback", cs)
	}
	_, err = s.Calls(ctx, pool.CallFilter{Agent: "bob"})
	wantErr(t, err, pool.ErrInvalid)
}

func testFeedback(t *testing.T, open Opener) {
	clk := NewClock(t0)
	s := open(t, pool.WithClock(clk.Now))
	ctx := ctxT(t)
	must(t, s.StartCall(ctx, pool.Call{ID: "c1", Direction: pool.Outbound}))
	must(t, s.StartCall(ctx, pool.Call{ID: "c2", Direction: pool.Outbound}))
	f1, err := s.AddFeedback(ctx, pool.Feedback{CallID: "c1", Kind: pool.FeedbackNoise, Note: "crackle", Agent: "alice", ID: 99})
	must(t, err)
	if f1.ID == 0 || f1.ID == 99 || !f1.CreatedAt.Equal(t0) {
		t.Fatalf("stored %+v", f1)
	}
	f2, err := s.AddFeedback(ctx, pool.Feedback{CallID: "c1", Kind: pool.FeedbackOther, CreatedAt: t0.Add(-time.Second)})
	must(t, err)
	_, err = s.AddFeedback(ctx, pool.Feedback{CallID: "nope", Kind: pool.FeedbackNoise})
	wantErr(t, err, pool.ErrNotFound)
	_, err = s.AddFeedback(ctx, pool.Feedback{CallID: "c1", Kind: "loud"})
	wantErr(t, err, pool.ErrInvalid)
	fs, err := s.Feedback(ctx, "c1")
	must(t, err)
	if len(fs) != 2 || fs[0].ID != f2.ID || fs[1].ID != f1.ID || fs[1].Note != "crackle" {
		t.Fatalf("feedback %+v, want oldest first", fs)
	}
	if fs, err := s.Feedback(ctx, "c2"); err != nil || len(fs) != 0 {
		t.Fatalf("feedback on a call without: %v, %v", fs, err)
	}
	_, err = s.Feedback(ctx, "nope")
	wantErr(t, err, pool.ErrNotFound)
	c, err := s.Call(ctx, "c1")
	must(t, err)
	if len(c.Feedback) != 2 {
		t.Fatalf("Call carries %d feedback, want 2", len(c.Feedback))
	}
}

func testSaveBatch(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	r := need[Recorder](t, s)
	ctx := ctxT(t)
	must(t, s.SyncStaticBindings(ctx, []pool.Binding{{Tenant: "t1", Mode: pool.ModeAXN, Virtual: vX, B: pB}}))
	id := activeOn(t, s, vX, t0)[0].ID
	open1 := pool.Call{ID: "c1", Direction: pool.Inbound, Virtual: vX, SetupAt: t0,
		Attempts: []pool.Attempt{{Seq: 0, Trunk: "tr1", StartAt: t0}}}
	ended := open1
	ended.State, ended.EndAt, ended.SIPCode = "ended", t0.Add(time.Minute), 200
	must(t, r.SaveBatch(ctx, pool.Batch{Calls: []pool.Call{open1}, Touches: []pool.Touch{{BindingID: id, At: t0.Add(time.Second)}, {BindingID: id + 99, At: t0}},
		Alive: t0.Add(time.Second)}))
	must(t, r.SaveBatch(ctx, pool.Batch{Calls: []pool.Call{ended}}))
	// An older snapshot of an ended call never reopens it.
	must(t, r.SaveBatch(ctx, pool.Batch{Calls: []pool.Call{open1}}))
	c, err := s.Call(ctx, "c1")
	must(t, err)
	if c.State != "ended" || !c.EndAt.Equal(t0.Add(time.Minute)) || len(c.Attempts) != 1 {
		t.Fatalf("call after batches %+v", c)
	}
	if b := activeOn(t, s, vX, t0)[0]; !b.FirstCall.Equal(t0.Add(time.Second)) {
		t.Fatalf("touch not applied: %+v", b)
	}
	err = r.SaveBatch(ctx, pool.Batch{Calls: []pool.Call{{ID: "c9", Direction: pool.Inbound}, {ID: ""}}})
	wantErr(t, err, pool.ErrInvalid)
	if _, err := s.Call(ctx, "c9"); err == nil {
		t.Fatal("a bad batch was partly written")
	}
}

func testCloseOpenCalls(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	r := need[Recorder](t, s)
	ctx := ctxT(t)
	answered := pool.Call{ID: "c1", Direction: pool.Outbound, SetupAt: t0, AnswerAt: t0.Add(2 * time.Second),
		Attempts: []pool.Attempt{{Seq: 0, StartAt: t0}}}
	ringing := pool.Call{ID: "c2", Direction: pool.Outbound, SetupAt: t0.Add(time.Second)}
	done := pool.Call{ID: "c3", Direction: pool.Outbound, SetupAt: t0, EndAt: t0.Add(time.Second), State: "ended"}
	must(t, r.SaveBatch(ctx, pool.Batch{Calls: []pool.Call{answered, ringing, done}, Alive: t0.Add(10500 * time.Millisecond)}))
	closed, err := r.CloseOpenCalls(ctx)
	must(t, err)
	if len(closed) != 2 {
		t.Fatalf("closed %d calls, want 2", len(closed))
	}
	c1, err := s.Call(ctx, "c1")
	must(t, err)
	if c1.State != "ended" || c1.Reason != pool.ReasonInterrupted || c1.HangupBy != "system" ||
		!c1.EndAt.Equal(t0.Add(10500*time.Millisecond)) || c1.BilledSec != 9 || !c1.Attempts[0].EndAt.Equal(c1.EndAt) {
		t.Fatalf("closed call %+v", c1)
	}
	if again, err := r.CloseOpenCalls(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second close: %d calls, %v", len(again), err)
	}
}
