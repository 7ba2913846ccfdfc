package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// listFixture stores calls of two tenants at t0 + i minutes; see the comments for
// what each one is.
func listFixture(t *testing.T, s *SQLiteStore) {
	t.Helper()
	ctx := context.Background()
	min := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	calls := []Call{
		// 0: answered, alice, on tr-a, two attempts, 61 s.
		{ID: "c0", Tenant: "acme", Direction: Outbound, Agent: "alice", Caller: "+862100000001", Callee: "+8613800000001",
			OutTrunk: "tr-a", SIPCode: 200, SetupAt: min(0), RingAt: min(0).Add(time.Second), AnswerAt: min(0).Add(3 * time.Second),
			EndAt: min(0).Add(64 * time.Second), BilledSec: 61, CostMilli: 120,
			Attempts: []Attempt{{Seq: 1, Trunk: "tr-b", SIPCode: 503, StartAt: min(0)}, {Seq: 2, Trunk: "tr-a", SIPCode: 200, StartAt: min(0)}}},
		// 1: rang, not answered, bob.
		{ID: "c1", Tenant: "acme", Direction: Outbound, Agent: "bob", Caller: "+862100000002", Callee: "+8613800000002",
			OutTrunk: "tr-a", SIPCode: 487, SetupAt: min(1), RingAt: min(1).Add(time.Second)},
		// 2: busy (486) without ringing: unanswered.
		{ID: "c2", Tenant: "acme", Direction: Outbound, Agent: "alice", Caller: "+862100000001", Callee: "+8613800000002",
			OutTrunk: "tr-b", SIPCode: 486, SetupAt: min(2)},
		// 3: 404: not placed.
		{ID: "c3", Tenant: "acme", Direction: Outbound, Agent: "alice", Caller: "+862100000002", Callee: "+8613800000003",
			OutTrunk: "tr-b", SIPCode: 404, SetupAt: min(3)},
		// 4: inbound, answered, on tr-in then out on tr-b.
		{ID: "c4", Tenant: "acme", Direction: Inbound, Caller: "+8613800000009", Callee: "+8613900000001", Virtual: "+8675561000001",
			InTrunk: "tr-in", OutTrunk: "tr-b", SIPCode: 200, SetupAt: min(4), AnswerAt: min(4).Add(time.Second),
			EndAt: min(4).Add(11 * time.Second), BilledSec: 10, CostMilli: 60},
		// 5: another tenant's, at the same time as 4.
		{ID: "c5", Tenant: "globex", Direction: Outbound, Agent: "alice", Caller: "+862100000001", Callee: "+8613800000001",
			OutTrunk: "tr-a", SIPCode: 200, SetupAt: min(4), AnswerAt: min(4), BilledSec: 5, CostMilli: 999},
		// 6 and 7: two calls set up in the same millisecond (rowid breaks the tie).
		{ID: "c6", Tenant: "acme", Direction: Outbound, Agent: "carol", Caller: "+862100000003", Callee: "+8613800000006",
			OutTrunk: "tr-a", SIPCode: 503, SetupAt: min(5)},
		{ID: "c7", Tenant: "acme", Direction: Outbound, Agent: "carol", Caller: "+862100000003", Callee: "+8613800000007",
			OutTrunk: "tr-a", SIPCode: 503, SetupAt: min(5)},
	}
	for _, c := range calls {
		c.State = "ended"
		if err := s.StartCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []Feedback{
		{CallID: "c0", Kind: FeedbackNoise, Note: "crackle", Agent: "alice", CreatedAt: min(10)},
		{CallID: "c0", Kind: FeedbackOneWayAudio, Agent: "alice", CreatedAt: min(11)},
		{CallID: "c3", Kind: FeedbackWrongNumber, Agent: "alice", CreatedAt: min(12)},
		{CallID: "c5", Kind: FeedbackNoise, Agent: "alice", CreatedAt: min(13)},
	} {
		if _, err := s.AddFeedback(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(cs []Call) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestListCallsFilters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	listFixture(t, s)
	min := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	yes, no := true, false
	tests := []struct {
		name string
		q    CallQuery
		want []string
	}{
		{"all of a tenant, newest first, ties by insertion", CallQuery{}, []string{"c7", "c6", "c4", "c3", "c2", "c1", "c0"}},
		{"window: since inclusive, until exclusive", CallQuery{Since: min(1), Until: min(4)}, []string{"c3", "c2", "c1"}},
		{"agent", CallQuery{Agent: "alice"}, []string{"c3", "c2", "c0"}},
		{"agent in a window", CallQuery{Agent: "alice", Since: min(2)}, []string{"c3", "c2"}},
		{"callee", CallQuery{Callee: "+8613800000002"}, []string{"c2", "c1"}},
		{"caller number", CallQuery{Caller: "+862100000002"}, []string{"c3", "c1"}},
		{"direction inbound", CallQuery{Direction: Inbound}, []string{"c4"}},
		{"trunk in or out", CallQuery{Trunk: "tr-in"}, []string{"c4"}},
		{"trunk out", CallQuery{Trunk: "tr-b"}, []string{"c4", "c3", "c2"}},
		{"answered", CallQuery{Result: OutcomeAnswered}, []string{"c4", "c0"}},
		{"unanswered: rang or refused by the callee", CallQuery{Result: OutcomeUnanswered}, []string{"c2", "c1"}},
		{"not placed", CallQuery{Result: OutcomeNotPlaced}, []string{"c7", "c6", "c3"}},
		{"answered=true", CallQuery{Answered: &yes}, []string{"c4", "c0"}},
		{"answered=false", CallQuery{Answered: &no}, []string{"c7", "c6", "c3", "c2", "c1"}},
		{"with feedback", CallQuery{Feedback: FeedbackAny}, []string{"c3", "c0"}},
		{"with feedback of a kind", CallQuery{Feedback: FeedbackOneWayAudio}, []string{"c0"}},
		{"filters combine", CallQuery{Agent: "alice", Result: OutcomeUnanswered, Callee: "+8613800000002"}, []string{"c2"}},
		{"nothing matches", CallQuery{Agent: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Tenant = "acme"
			page, err := s.ListCalls(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page.Calls); !slices.Equal(got, tc.want) || page.Next != "" {
				t.Errorf("calls %v next %q, want %v", got, page.Next, tc.want)
			}
		})
	}
}

func TestListCallsJoinsAttemptsAndFeedback(t *testing.T) {
	s := openTest(t)
	listFixture(t, s)
	page, err := s.ListCalls(context.Background(), CallQuery{Tenant: "acme", Agent: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Call{}
	for _, c := range page.Calls {
		byID[c.ID] = c
	}
	c0 := byID["c0"]
	if len(c0.Attempts) != 2 || c0.Attempts[0].Trunk != "tr-b" || c0.Attempts[1].SIPCode != 200 {
		t.Errorf("c0 attempts %+v", c0.Attempts)
	}
	if len(c0.Feedback) != 2 || c0.Feedback[0].Kind != FeedbackNoise || c0.Feedback[0].Note != "crackle" ||
		c0.Feedback[1].Kind != FeedbackOneWayAudio || c0.BilledSec != 61 || c0.CostMilli != 120 {
		t.Errorf("c0 %+v", c0)
	}
	if c2 := byID["c2"]; len(c2.Attempts) != 0 || len(c2.Feedback) != 0 {
		t.Errorf("c2 %+v", c2)
	}
	// The single-call read agrees with the list.
	one, err := s.Call(context.Background(), "c0")
	if err != nil || len(one.Feedback) != 2 || len(one.Attempts) != 2 {
		t.Fatalf("Call(c0) = %+v, %v", one, err)
	}
}

// Paging walks every call once, in order, whatever the page size, including across
// calls set up in the same millisecond.
func TestListCallsPages(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	listFixture(t, s)
	all, err := s.ListCalls(ctx, CallQuery{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 2, 3, 6, 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var got []string
			q := CallQuery{Tenant: "acme", Limit: size}
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("paging does not end")
				}
				page, err := s.ListCalls(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Calls) > size {
					t.Fatalf("page of %d, limit %d", len(page.Calls), size)
				}
				got = append(got, ids(page.Calls)...)
				if page.Next == "" {
					break
				}
				q.After = page.Next
			}
			if want := ids(all.Calls); !slices.Equal(got, want) {
				t.Errorf("pages %v, want %v", got, want)
			}
		})
	}
}

func TestListCallsRefuses(t *testing.T) {
	s := openTest(t)
	for name, q := range map[string]CallQuery{
		"no tenant":       {},
		"direction":       {Tenant: "acme", Direction: "sideways"},
		"result":          {Tenant: "acme", Result: "maybe"},
		"feedback":        {Tenant: "acme", Feedback: "loud"},
		"cursor":          {Tenant: "acme", After: "yesterday"},
		"cursor no rowid": {Tenant: "acme", After: "1795165200000.0"},
	} {
		if _, err := s.ListCalls(context.Background(), q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestListFeedback(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	listFixture(t, s)
	min := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	kinds := func(rs []FeedbackRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.CallID+":"+string(r.Kind))
		}
		return out
	}
	tests := []struct {
		name string
		q    FeedbackQuery
		want []string
	}{
		{"a tenant's, newest first", FeedbackQuery{}, []string{"c3:wrong_number", "c0:one_way_audio", "c0:noise"}},
		{"kind", FeedbackQuery{Kind: FeedbackNoise}, []string{"c0:noise"}},
		{"window", FeedbackQuery{Since: min(11), Until: min(12)}, []string{"c0:one_way_audio"}},
		{"agent", FeedbackQuery{Agent: "bob"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Tenant = "acme"
			got, next, err := s.ListFeedback(ctx, tc.q)
			if err != nil || next != 0 || !slices.Equal(kinds(got), tc.want) {
				t.Errorf("%v next %d %v, want %v", kinds(got), next, err, tc.want)
			}
		})
	}
	// The call comes with it; pages of one walk all three.
	var walked []string
	q := FeedbackQuery{Tenant: "acme", Limit: 1}
	for range 5 {
		page, next, err := s.ListFeedback(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			if r.Call.ID != r.CallID || r.Call.Tenant != "acme" || r.Call.SetupAt.IsZero() {
				t.Errorf("feedback %d: call %+v", r.ID, r.Call)
			}
		}
		walked = append(walked, kinds(page)...)
		if next == 0 {
			break
		}
		q.After = next
	}
	if want := []string{"c3:wrong_number", "c0:one_way_audio", "c0:noise"}; !slices.Equal(walked, want) {
		t.Errorf("paged %v", walked)
	}
	if _, _, err := s.ListFeedback(ctx, FeedbackQuery{Tenant: "acme", Kind: "loud"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestCostOf(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	listFixture(t, s)
	sum, err := s.CostOf(ctx, CostQuery{Tenant: "acme", Since: t0, Until: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want := CostSummary{
		Total: CostLine{Calls: 7, Answered: 2, BilledSec: 71, CostMilli: 180},
		Trunks: []CostLine{
			{Trunk: "tr-a", Calls: 4, Answered: 1, BilledSec: 61, CostMilli: 120},
			{Trunk: "tr-b", Calls: 3, Answered: 1, BilledSec: 10, CostMilli: 60},
		},
	}
	if fmt.Sprint(sum) != fmt.Sprint(want) {
		t.Errorf("cost\n got %+v\nwant %+v", sum, want)
	}
	// The window is on setup time: the answered call at minute 4 is out of [0, 4).
	sum, _ = s.CostOf(ctx, CostQuery{Tenant: "acme", Since: t0, Until: t0.Add(4 * time.Minute)})
	if sum.Total != (CostLine{Calls: 4, Answered: 1, BilledSec: 61, CostMilli: 120}) {
		t.Errorf("window total %+v", sum.Total)
	}
	sum, _ = s.CostOf(ctx, CostQuery{Tenant: "nobody", Since: t0, Until: t0.Add(time.Hour)})
	if sum.Total != (CostLine{}) || len(sum.Trunks) != 0 {
		t.Errorf("unknown tenant %+v", sum)
	}
	if _, err := s.CostOf(ctx, CostQuery{Tenant: "acme"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no window: %v", err)
	}
}
