package pool

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestCallRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	start := Call{
		ID: "call-1", Tenant: "t1", Direction: Outbound, Agent: "agent7",
		Caller: "+8675500000001", Callee: "+8613800000001", Virtual: "+8675500000009",
		InTrunk: "in-tr", SetupAt: at(0),
	}
	if err := s.StartCall(ctx, start); err != nil {
		t.Fatal(err)
	}
	got, err := s.Call(ctx, start.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := start
	want.State = "setup"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after StartCall:\n got %+v\nwant %+v", got, want)
	}

	attempts := []Attempt{
		// All times zero but start: a leg that failed before ringing.
		{CallID: start.ID, Seq: 1, Trunk: "tr-a", From: start.Caller, To: start.Callee, SIPCode: 503,
			Reason: "service_unavailable", StartAt: at(1), EndAt: at(120)},
		{CallID: start.ID, Seq: 2, Trunk: "tr-b", From: start.Caller, To: start.Callee, SIPCode: 200,
			StartAt: at(121), RingAt: at(900), AnswerAt: at(5_000), EndAt: at(65_001)},
	}
	// Recorded out of order, and seq 2 first recorded at its start then replaced.
	early := attempts[1]
	early.SIPCode, early.RingAt, early.AnswerAt, early.EndAt = 0, time.Time{}, time.Time{}, time.Time{}
	for _, a := range []Attempt{early, attempts[0], attempts[1]} {
		if err := s.AddAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}

	end := Call{
		ID: start.ID, OutTrunk: "tr-b", State: "ended", SIPCode: 200, Reason: "callee_bye", HangupBy: "callee",
		RingAt: at(900), AnswerAt: at(5_000), EndAt: at(65_001), BilledSec: 61, CostMilli: 12_345,
		PacketsFromA: 3000, PacketsToA: 2999, PacketsFromB: 2998, PacketsToB: 0, // one-way audio
	}
	if err := s.EndCall(ctx, end); err != nil {
		t.Fatal(err)
	}
	got, err = s.Call(ctx, start.ID)
	if err != nil {
		t.Fatal(err)
	}
	want = start
	want.OutTrunk, want.State, want.SIPCode, want.Reason, want.HangupBy = "tr-b", "ended", 200, "callee_bye", "callee"
	want.RingAt, want.AnswerAt, want.EndAt, want.BilledSec, want.CostMilli = at(900), at(5_000), at(65_001), 61, 12_345
	want.PacketsFromA, want.PacketsToA, want.PacketsFromB = 3000, 2999, 2998
	want.Attempts = attempts
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after EndCall:\n got %+v\nwant %+v", got, want)
	}
	for _, tm := range []time.Time{got.SetupAt, got.EndAt, got.Attempts[0].StartAt} {
		if tm.Location() != time.UTC {
			t.Errorf("time %v not in UTC", tm)
		}
	}
	// Listing returns the same record.
	list, err := s.Calls(ctx, CallFilter{})
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Errorf("Calls = %+v, %v; want [%+v]", list, err, want)
	}
}

// A call never answered keeps NULL times, read back as zero times; StartCall and
// EndCall fill setup and end times from the clock when zero.
func TestCallZeroTimesAndDefaults(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openTest(t, WithClock(clk.Now))
	c := Call{ID: "c0", Tenant: "t", Direction: Inbound, Caller: "+1", Callee: "+2",
		Attempts: []Attempt{{Seq: 1, Trunk: "x"}}}
	if err := s.StartCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(30 * time.Second))
	if err := s.EndCall(ctx, Call{ID: "c0", SIPCode: 486, Reason: "busy", HangupBy: "callee"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Call(ctx, "c0")
	if err != nil {
		t.Fatal(err)
	}
	want := Call{ID: "c0", Tenant: "t", Direction: Inbound, Caller: "+1", Callee: "+2", State: "ended",
		SIPCode: 486, Reason: "busy", HangupBy: "callee", SetupAt: t0, EndAt: t0.Add(30 * time.Second),
		Attempts: []Attempt{{CallID: "c0", Seq: 1, Trunk: "x"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
	if n := count(t, s, `SELECT count(*) FROM calls WHERE ring_at IS NULL AND answer_at IS NULL`); n != 1 {
		t.Error("zero times not stored as NULL")
	}
	// Sub-millisecond precision is dropped, not rounded.
	if err := s.StartCall(ctx, Call{ID: "ns", Direction: Inbound, SetupAt: t0.Add(1999 * time.Microsecond)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Call(ctx, "ns"); !got.SetupAt.Equal(t0.Add(time.Millisecond)) {
		t.Errorf("SetupAt = %v, want %v", got.SetupAt, t0.Add(time.Millisecond))
	}
}

func TestCallErrors(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ok := Call{ID: "c1", Direction: Outbound, SetupAt: t0}
	if err := s.StartCall(ctx, ok); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"start duplicate", s.StartCall(ctx, ok), ErrExists},
		{"start without ID", s.StartCall(ctx, Call{Direction: Outbound}), ErrInvalid},
		{"start without direction", s.StartCall(ctx, Call{ID: "c2"}), ErrInvalid},
		{"start with foreign attempt", s.StartCall(ctx, Call{ID: "c3", Direction: Inbound,
			Attempts: []Attempt{{CallID: "other", Seq: 1}}}), ErrInvalid},
		{"end unknown", s.EndCall(ctx, Call{ID: "nope"}), ErrNotFound},
		{"end without ID", s.EndCall(ctx, Call{}), ErrInvalid},
		{"attempt of unknown call", s.AddAttempt(ctx, Attempt{CallID: "nope", Seq: 1}), ErrNotFound},
		{"attempt without call", s.AddAttempt(ctx, Attempt{Seq: 1}), ErrInvalid},
		{"attempt negative seq", s.AddAttempt(ctx, Attempt{CallID: "c1", Seq: -1}), ErrInvalid},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, err := s.Call(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Call(unknown): err = %v, want ErrNotFound", err)
	}
	// The failed StartCall of c3 stored nothing.
	if _, err := s.Call(ctx, "c3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rejected call was stored: %v", err)
	}
}

func TestCallsFilter(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	// 150 calls for t1 one minute apart; every fifth minute a t2 call, inserted after
	// the t1 call with the same setup time (ties list the later-inserted first).
	for i := range 150 {
		c := Call{ID: fmt.Sprintf("t1-%03d", i), Tenant: "t1", Direction: Outbound,
			SetupAt: t0.Add(time.Duration(i) * time.Minute)}
		if err := s.StartCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			c := Call{ID: fmt.Sprintf("t2-%03d", i), Tenant: "t2", Direction: Inbound, SetupAt: c.SetupAt,
				Attempts: []Attempt{{Seq: 1, Trunk: "a"}, {Seq: 2, Trunk: "b"}}}
			if err := s.StartCall(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := func(cs []Call) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		name      string
		f         CallFilter
		n         int
		first     string
		last      string
		attempted bool // every returned t2 call has its 2 attempts
	}{
		{"default limit 100", CallFilter{}, 100, "t1-149", "t1-066", true},
		{"no limit", CallFilter{Limit: -1}, 180, "t1-149", "t1-000", true},
		{"tenant", CallFilter{Tenant: "t2", Limit: 1000}, 30, "t2-145", "t2-000", true},
		{"limit", CallFilter{Tenant: "t1", Limit: 3}, 3, "t1-149", "t1-147", false},
		{"since inclusive", CallFilter{Tenant: "t1", Since: t0.Add(140 * time.Minute)}, 10, "t1-149", "t1-140", false},
		{"until exclusive", CallFilter{Tenant: "t1", Until: t0.Add(10 * time.Minute)}, 10, "t1-009", "t1-000", false},
		{"window", CallFilter{Since: t0.Add(10 * time.Minute), Until: t0.Add(20 * time.Minute)}, 12, "t1-019", "t1-010", true},
		{"unknown tenant", CallFilter{Tenant: "t9"}, 0, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := s.Calls(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != tt.n {
				t.Fatalf("got %d calls, want %d: %s", len(cs), tt.n, ids(cs))
			}
			if tt.n == 0 {
				return
			}
			if cs[0].ID != tt.first || cs[len(cs)-1].ID != tt.last {
				t.Errorf("first %s last %s, want %s %s", cs[0].ID, cs[len(cs)-1].ID, tt.first, tt.last)
			}
			for i := 1; i < len(cs); i++ {
				prev, c := cs[i-1], cs[i]
				if c.SetupAt.After(prev.SetupAt) || (c.SetupAt.Equal(prev.SetupAt) && c.Tenant != "t1") {
					t.Errorf("not newest first at %d: %s", i, ids(cs))
					break
				}
			}
			for _, c := range cs {
				want := 0
				if c.Tenant == "t2" {
					want = 2
				}
				if len(c.Attempts) != want || (want == 2 && (c.Attempts[0].Trunk != "a" || c.Attempts[1].Trunk != "b")) {
					t.Errorf("call %s attempts = %+v", c.ID, c.Attempts)
				}
			}
		})
	}
}

// The SIP edge writes a finished call in one go: StartCall and EndCall with the
// complete record, and its attempt in between. Every field survives.
func TestCallWrittenWhole(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	att := Attempt{CallID: "in-1", Seq: 1, Trunk: "out", From: "+86755", To: "+86139", SIPCode: 200,
		StartAt: t0.Add(10 * time.Millisecond), RingAt: t0.Add(time.Second), AnswerAt: t0.Add(3 * time.Second),
		EndAt: t0.Add(63 * time.Second)}
	rec := Call{ID: "in-1", Tenant: "t1", Direction: Inbound, Agent: "", Caller: "+86138", Callee: "+86139",
		Virtual: "+86755", InTrunk: "in", OutTrunk: "out", State: "ended", SIPCode: 200, Reason: "caller_bye",
		HangupBy: "caller", SetupAt: t0, RingAt: att.RingAt, AnswerAt: att.AnswerAt, EndAt: att.EndAt,
		BilledSec: 60, CostMilli: 900, PacketsFromA: 3000, PacketsToA: 3001, PacketsFromB: 3002, PacketsToB: 3003}
	if err := s.StartCall(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAttempt(ctx, att); err != nil {
		t.Fatal(err)
	}
	if err := s.EndCall(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Call(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := rec
	want.Attempts = []Attempt{att}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
}

func TestCallsFilterAgent(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	// Agents alice and bob of t1 take turns, one call a minute; t2 has an alice too.
	for i := range 40 {
		agent := "alice"
		if i%2 == 1 {
			agent = "bob"
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		for _, tenant := range []string{"t1", "t2"} {
			c := Call{ID: fmt.Sprintf("%s-%s-%02d", tenant, agent, i), Tenant: tenant, Agent: agent, Direction: Outbound,
				SetupAt: at, Attempts: []Attempt{{Seq: 1, Trunk: "tr"}}}
			if err := s.StartCall(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name        string
		f           CallFilter
		n           int
		first, last string
	}{
		{"agent", CallFilter{Tenant: "t1", Agent: "alice"}, 20, "t1-alice-38", "t1-alice-00"},
		{"other agent", CallFilter{Tenant: "t1", Agent: "bob", Limit: 5}, 5, "t1-bob-39", "t1-bob-31"},
		{"same name, other tenant", CallFilter{Tenant: "t2", Agent: "alice", Limit: -1}, 20, "t2-alice-38", "t2-alice-00"},
		{"window", CallFilter{Tenant: "t1", Agent: "alice", Since: t0.Add(10 * time.Minute), Until: t0.Add(20 * time.Minute)},
			5, "t1-alice-18", "t1-alice-10"},
		{"unknown agent", CallFilter{Tenant: "t1", Agent: "carol"}, 0, "", ""},
		{"agent names are case-sensitive", CallFilter{Tenant: "t1", Agent: "Alice"}, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := s.Calls(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != tt.n {
				t.Fatalf("got %d calls, want %d", len(cs), tt.n)
			}
			if tt.n == 0 {
				return
			}
			if cs[0].ID != tt.first || cs[len(cs)-1].ID != tt.last {
				t.Errorf("first %s last %s, want %s %s", cs[0].ID, cs[len(cs)-1].ID, tt.first, tt.last)
			}
			for i, c := range cs {
				if c.Tenant != tt.f.Tenant || c.Agent != tt.f.Agent || len(c.Attempts) != 1 {
					t.Errorf("call %s: tenant %s agent %s, %d attempts", c.ID, c.Tenant, c.Agent, len(c.Attempts))
				}
				if i > 0 && !c.SetupAt.Before(cs[i-1].SetupAt) {
					t.Errorf("not newest first at %d", i)
				}
			}
		})
	}
	if _, err := s.Calls(ctx, CallFilter{Agent: "alice"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Agent without Tenant: err = %v, want ErrInvalid", err)
	}
}
