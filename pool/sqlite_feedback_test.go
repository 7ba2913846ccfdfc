package pool

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestFeedbackRoundTrip(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openTest(t, WithClock(clk.Now))
	if err := s.StartCall(ctx, Call{ID: "c1", Tenant: "t1", Agent: "alice", Direction: Outbound, SetupAt: t0}); err != nil {
		t.Fatal(err)
	}

	// A zero CreatedAt is the store's clock; a given one is kept, to the millisecond.
	clk.Set(t0.Add(2 * time.Minute))
	f1, err := s.AddFeedback(ctx, Feedback{ID: 99, CallID: "c1", Kind: FeedbackOneWayAudio, Note: "callee could not hear me", Agent: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	f2, err := s.AddFeedback(ctx, Feedback{CallID: "c1", Kind: FeedbackNoise, Agent: "alice",
		CreatedAt: t0.Add(time.Minute + 1500*time.Microsecond).In(time.FixedZone("CST", 8*3600))})
	if err != nil {
		t.Fatal(err)
	}
	f3, err := s.AddFeedback(ctx, Feedback{CallID: "c1", Kind: FeedbackOther, Note: "同一时间", CreatedAt: t0.Add(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if f1.ID == 99 || f1.ID == 0 || f2.ID <= f1.ID || f3.ID <= f2.ID {
		t.Errorf("IDs %d %d %d: want assigned by the store, increasing", f1.ID, f2.ID, f3.ID)
	}
	wantF1 := Feedback{ID: f1.ID, CallID: "c1", Kind: FeedbackOneWayAudio, Note: "callee could not hear me", Agent: "alice",
		CreatedAt: t0.Add(2 * time.Minute)}
	wantF2 := Feedback{ID: f2.ID, CallID: "c1", Kind: FeedbackNoise, Agent: "alice", CreatedAt: t0.Add(time.Minute + time.Millisecond)}
	wantF3 := Feedback{ID: f3.ID, CallID: "c1", Kind: FeedbackOther, Note: "同一时间", CreatedAt: t0.Add(2 * time.Minute)}
	for _, c := range []struct{ got, want Feedback }{{f1, wantF1}, {f2, wantF2}, {f3, wantF3}} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("AddFeedback returned\n %+v\nwant\n %+v", c.got, c.want)
		}
	}

	// Oldest first; equal times in the order added.
	want := []Feedback{wantF2, wantF1, wantF3}
	got, err := s.Feedback(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Feedback =\n %+v\nwant\n %+v", got, want)
	}
	c, err := s.Call(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Feedback, want) {
		t.Errorf("Call.Feedback =\n %+v\nwant\n %+v", c.Feedback, want)
	}
	cs, err := s.Calls(ctx, CallFilter{})
	if err != nil || len(cs) != 1 || cs[0].Feedback != nil {
		t.Errorf("Calls = %+v, %v; want one call without feedback", cs, err)
	}

	// A call without feedback has none, and Call leaves the field nil.
	if err := s.StartCall(ctx, Call{ID: "c2", Direction: Inbound, SetupAt: t0}); err != nil {
		t.Fatal(err)
	}
	if fs, err := s.Feedback(ctx, "c2"); err != nil || len(fs) != 0 {
		t.Errorf("Feedback(c2) = %+v, %v; want none", fs, err)
	}
	if c, err := s.Call(ctx, "c2"); err != nil || c.Feedback != nil {
		t.Errorf("Call(c2).Feedback = %+v, %v; want nil", c.Feedback, err)
	}
}

func TestFeedbackErrors(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.StartCall(ctx, Call{ID: "c1", Direction: Outbound, SetupAt: t0}); err != nil {
		t.Fatal(err)
	}
	add := func(f Feedback) error {
		_, err := s.AddFeedback(ctx, f)
		return err
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unknown call", add(Feedback{CallID: "nope", Kind: FeedbackNoRing}), ErrNotFound},
		{"empty call ID", add(Feedback{Kind: FeedbackNoRing}), ErrInvalid},
		{"empty kind", add(Feedback{CallID: "c1"}), ErrInvalid},
		{"unknown kind", add(Feedback{CallID: "c1", Kind: "echo"}), ErrInvalid},
		{"kind in another case", add(Feedback{CallID: "c1", Kind: "NO_RING"}), ErrInvalid},
		{"note too long", add(Feedback{CallID: "c1", Kind: FeedbackOther, Note: strings.Repeat("x", MaxFeedbackNote+1)}), ErrInvalid},
		// 667 three-byte runes: 2001 bytes, though only 667 characters.
		{"note too long in bytes", add(Feedback{CallID: "c1", Kind: FeedbackOther, Note: strings.Repeat("噪", 667)}), ErrInvalid},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM call_feedback`); n != 0 {
		t.Errorf("rejected feedback was stored: %d rows", n)
	}
	if _, err := s.Feedback(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Feedback(unknown call): err = %v, want ErrNotFound", err)
	}
	// Every kind is accepted, and a note of exactly MaxFeedbackNote bytes.
	for _, k := range []FeedbackKind{FeedbackNoRing, FeedbackNoise, FeedbackOneWayAudio, FeedbackWrongNumber, FeedbackOther} {
		if err := add(Feedback{CallID: "c1", Kind: k, Note: strings.Repeat("n", MaxFeedbackNote)}); err != nil {
			t.Errorf("kind %s: %v", k, err)
		}
	}
	// The schema enforces the kinds too.
	if _, err := s.w.Exec(`INSERT INTO call_feedback (call_id, kind, created_at) VALUES ('c1', 'echo', 0)`); err == nil {
		t.Error("the schema accepted kind 'echo'")
	}
}

func TestFeedbackKindValid(t *testing.T) {
	for k, want := range map[FeedbackKind]bool{
		FeedbackNoRing: true, FeedbackNoise: true, FeedbackOneWayAudio: true, FeedbackWrongNumber: true, FeedbackOther: true,
		"": false, "noise ": false, "Noise": false, "echo": false,
	} {
		if got := k.Valid(); got != want {
			t.Errorf("FeedbackKind(%q).Valid() = %v, want %v", k, got, want)
		}
	}
}

// Deleting a call record deletes its feedback with it.
func TestFeedbackGoesWithItsCall(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for _, id := range []string{"c1", "c2"} {
		if err := s.StartCall(ctx, Call{ID: id, Direction: Outbound, SetupAt: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddFeedback(ctx, Feedback{CallID: id, Kind: FeedbackNoRing}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.w.Exec(`DELETE FROM calls WHERE id = 'c1'`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM call_feedback WHERE call_id = 'c1'`); n != 0 {
		t.Errorf("feedback of a deleted call: %d rows", n)
	}
	if n := count(t, s, `SELECT count(*) FROM call_feedback WHERE call_id = 'c2'`); n != 1 {
		t.Errorf("feedback of c2: %d rows, want 1", n)
	}
}

// A database created by a callgate that knew only migration 0001 gets 0002 on the
// next open; its calls keep working and take feedback.
func TestMigration0002OnOldDatabase(t *testing.T) {
	ctx := context.Background()
	path := testPath(t)
	all := mustSub(t)
	old := fstest.MapFS{"0001_init.sql": all["0001_init.sql"]}
	ms, err := loadMigrations(old)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSQLite(ctx, path, ms, settings{now: newClock(t0).Now, log: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	c := Call{ID: "old", Tenant: "t1", Agent: "alice", Direction: Outbound, SetupAt: t0,
		Attempts: []Attempt{{Seq: 1, Trunk: "tr", StartAt: t0}}}
	if err := s.StartCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM sqlite_schema WHERE name = 'call_feedback'`); n != 0 {
		t.Fatal("0001 alone created call_feedback")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	clk := newClock(t0.Add(time.Hour))
	s = openAt(t, path, WithClock(clk.Now))
	got := versionsApplied(t, s)
	// Later migrations (0003, …) are applied too; this test is about 0002.
	if want := []appliedRow{{1, t0.UnixMilli()}, {2, t0.Add(time.Hour).UnixMilli()}}; len(got) < 2 || !reflect.DeepEqual(got[:2], want) {
		t.Errorf("schema_migrations = %v, want it to start with %v", got, want)
	}
	for _, name := range []string{"call_feedback", "call_feedback_by_call", "calls_by_tenant_agent_setup"} {
		if n := count(t, s, `SELECT count(*) FROM sqlite_schema WHERE name = ?`, name); n != 1 {
			t.Errorf("%s missing after migration 0002", name)
		}
	}
	f, err := s.AddFeedback(ctx, Feedback{CallID: "old", Kind: FeedbackWrongNumber, Agent: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Call(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Attempts) != 1 || len(rec.Feedback) != 1 || rec.Feedback[0] != f || !f.CreatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("old call after migration = %+v", rec)
	}
	cs, err := s.Calls(ctx, CallFilter{Tenant: "t1", Agent: "alice"})
	if err != nil || len(cs) != 1 || cs[0].ID != "old" {
		t.Errorf("Calls of alice = %+v, %v", cs, err)
	}
}

func TestPing(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, testPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Ping(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Ping with a cancelled context: %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after Close: %v, want ErrClosed", err)
	}
	if _, err := s.AddFeedback(ctx, Feedback{CallID: "c", Kind: FeedbackNoise}); !errors.Is(err, ErrClosed) {
		t.Errorf("AddFeedback after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Feedback(ctx, "c"); !errors.Is(err, ErrClosed) {
		t.Errorf("Feedback after Close: %v, want ErrClosed", err)
	}
}
