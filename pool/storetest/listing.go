package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"callgate/pool"
)

// CallLister answers the business API's questions about call records.
type CallLister interface {
	ListCalls(ctx context.Context, q pool.CallQuery) (pool.CallPage, error)
	ListFeedback(ctx context.Context, q pool.FeedbackQuery) ([]pool.FeedbackRecord, int64, error)
	CostOf(ctx context.Context, q pool.CostQuery) (pool.CostSummary, error)
}

// DNCLister pages across do-not-call lists.
type DNCLister interface {
	ListDNC(ctx context.Context, q pool.DNCQuery) ([]pool.DNCEntry, bool, error)
}

func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// openListed opens a store holding calls of two tenants at t0 + i minutes (see the
// comments for what each one is) and feedback on some.
func openListed(t *testing.T, open Opener) (pool.Store, CallLister) {
	t.Helper()
	s := open(t)
	ctx := ctxT(t)
	calls := []pool.Call{
		// 0: answered, alice, on tr-a, two attempts, 61 s.
		{ID: "c0", Tenant: "acme", Direction: pool.Outbound, Agent: "alice", Caller: "+862100000001", Callee: "+8613800000001",
			OutTrunk: "tr-a", SIPCode: 200, SetupAt: minute(0), RingAt: minute(0).Add(time.Second), AnswerAt: minute(0).Add(3 * time.Second),
			EndAt: minute(0).Add(64 * time.Second), BilledSec: 61, CostMilli: 120,
			Attempts: []pool.Attempt{{Seq: 1, Trunk: "tr-b", SIPCode: 503, StartAt: minute(0)}, {Seq: 2, Trunk: "tr-a", SIPCode: 200, StartAt: minute(0)}}},
		// 1: rang, not answered, bob.
		{ID: "c1", Tenant: "acme", Direction: pool.Outbound, Agent: "bob", Caller: "+862100000002", Callee: "+8613800000002",
			OutTrunk: "tr-a", SIPCode: 487, SetupAt: minute(1), RingAt: minute(1).Add(time.Second)},
		// 2: busy (486) without ringing: unanswered.
		{ID: "c2", Tenant: "acme", Direction: pool.Outbound, Agent: "alice", Caller: "+862100000001", Callee: "+8613800000002",
			OutTrunk: "tr-b", SIPCode: 486, SetupAt: minute(2)},
		// 3: 404: not placed.
		{ID: "c3", Tenant: "acme", Direction: pool.Outbound, Agent: "alice", Caller: "+862100000002", Callee: "+8613800000003",
			OutTrunk: "tr-b", SIPCode: 404, SetupAt: minute(3)},
		// 4: inbound, answered, on tr-in then out on tr-b.
		{ID: "c4", Tenant: "acme", Direction: pool.Inbound, Caller: "+8613800000009", Callee: "+8613900000001", Virtual: "+8675561000001",
			InTrunk: "tr-in", OutTrunk: "tr-b", SIPCode: 200, SetupAt: minute(4), AnswerAt: minute(4).Add(time.Second),
			EndAt: minute(4).Add(11 * time.Second), BilledSec: 10, CostMilli: 60},
		// 5: another tenant's, at the same time as 4.
		{ID: "c5", Tenant: "globex", Direction: pool.Outbound, Agent: "alice", Caller: "+862100000001", Callee: "+8613800000001",
			OutTrunk: "tr-a", SIPCode: 200, SetupAt: minute(4), AnswerAt: minute(4), BilledSec: 5, CostMilli: 999},
		// 6 and 7: two calls set up in the same millisecond (insertion order breaks the tie).
		{ID: "c6", Tenant: "acme", Direction: pool.Outbound, Agent: "carol", Caller: "+862100000003", Callee: "+8613800000006",
			OutTrunk: "tr-a", SIPCode: 503, SetupAt: minute(5)},
		{ID: "c7", Tenant: "acme", Direction: pool.Outbound, Agent: "carol", Caller: "+862100000003", Callee: "+8613800000007",
			OutTrunk: "tr-a", SIPCode: 503, SetupAt: minute(5)},
	}
	for _, c := range calls {
		c.State = "ended"
		must(t, s.StartCall(ctx, c))
	}
	for _, f := range []pool.Feedback{
		{CallID: "c0", Kind: pool.FeedbackNoise, Note: "crackle", Agent: "alice", CreatedAt: minute(10)},
		{CallID: "c0", Kind: pool.FeedbackOneWayAudio, Agent: "alice", CreatedAt: minute(11)},
		{CallID: "c3", Kind: pool.FeedbackWrongNumber, Agent: "alice", CreatedAt: minute(12)},
		{CallID: "c5", Kind: pool.FeedbackNoise, Agent: "alice", CreatedAt: minute(13)},
	} {
		_, err := s.AddFeedback(ctx, f)
		must(t, err)
	}
	return s, need[CallLister](t, s)
}

func callIDs(cs []pool.Call) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testListCallsFilters(t *testing.T, open Opener) {
	_, l := openListed(t, open)
	yes, no := true, false
	tests := []struct {
		name string
		q    pool.CallQuery
		want []string
	}{
		{"all of a tenant, newest first, ties by insertion", pool.CallQuery{}, []string{"c7", "c6", "c4", "c3", "c2", "c1", "c0"}},
		{"window: since inclusive, until exclusive", pool.CallQuery{Since: minute(1), Until: minute(4)}, []string{"c3", "c2", "c1"}},
		{"agent", pool.CallQuery{Agent: "alice"}, []string{"c3", "c2", "c0"}},
		{"agent in a window", pool.CallQuery{Agent: "alice", Since: minute(2)}, []string{"c3", "c2"}},
		{"callee", pool.CallQuery{Callee: "+8613800000002"}, []string{"c2", "c1"}},
		{"caller number", pool.CallQuery{Caller: "+862100000002"}, []string{"c3", "c1"}},
		{"direction inbound", pool.CallQuery{Direction: pool.Inbound}, []string{"c4"}},
		{"trunk in", pool.CallQuery{Trunk: "tr-in"}, []string{"c4"}},
		{"trunk out", pool.CallQuery{Trunk: "tr-b"}, []string{"c4", "c3", "c2"}},
		{"answered", pool.CallQuery{Result: pool.OutcomeAnswered}, []string{"c4", "c0"}},
		{"unanswered: rang or refused by the callee", pool.CallQuery{Result: pool.OutcomeUnanswered}, []string{"c2", "c1"}},
		{"not placed", pool.CallQuery{Result: pool.OutcomeNotPlaced}, []string{"c7", "c6", "c3"}},
		{"answered=true", pool.CallQuery{Answered: &yes}, []string{"c4", "c0"}},
		{"answered=false", pool.CallQuery{Answered: &no}, []string{"c7", "c6", "c3", "c2", "c1"}},
		{"with feedback", pool.CallQuery{Feedback: pool.FeedbackAny}, []string{"c3", "c0"}},
		{"with feedback of a kind", pool.CallQuery{Feedback: pool.FeedbackOneWayAudio}, []string{"c0"}},
		{"filters combine", pool.CallQuery{Agent: "alice", Result: pool.OutcomeUnanswered, Callee: "+8613800000002"}, []string{"c2"}},
		{"nothing matches", pool.CallQuery{Agent: "nobody"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Tenant = "acme"
			page, err := l.ListCalls(ctxT(t), tc.q)
			must(t, err)
			if got := callIDs(page.Calls); !slices.Equal(got, tc.want) || page.Next != "" {
				t.Fatalf("calls %v next %q, want %v", got, page.Next, tc.want)
			}
		})
	}
}

func testListCallsDetails(t *testing.T, open Opener) {
	s, l := openListed(t, open)
	page, err := l.ListCalls(ctxT(t), pool.CallQuery{Tenant: "acme", Agent: "alice"})
	must(t, err)
	byID := map[string]pool.Call{}
	for _, c := range page.Calls {
		byID[c.ID] = c
	}
	c0 := byID["c0"]
	if len(c0.Attempts) != 2 || c0.Attempts[0].Trunk != "tr-b" || c0.Attempts[1].SIPCode != 200 {
		t.Fatalf("c0 attempts %+v", c0.Attempts)
	}
	if len(c0.Feedback) != 2 || c0.Feedback[0].Kind != pool.FeedbackNoise || c0.Feedback[0].Note != "crackle" ||
		c0.Feedback[1].Kind != pool.FeedbackOneWayAudio || c0.BilledSec != 61 || c0.CostMilli != 120 ||
		c0.Direction != pool.Outbound || !c0.AnswerAt.Equal(minute(0).Add(3*time.Second)) {
		t.Fatalf("c0 %+v", c0)
	}
	if c2 := byID["c2"]; len(c2.Attempts) != 0 || len(c2.Feedback) != 0 {
		t.Fatalf("c2 %+v", c2)
	}
	one, err := s.Call(ctxT(t), "c0")
	if err != nil || len(one.Feedback) != 2 || len(one.Attempts) != 2 {
		t.Fatalf("Call(c0) = %+v, %v", one, err)
	}
}

// Paging walks every call once, in order, whatever the page size, including across
// calls set up in the same millisecond.
func testListCallsPages(t *testing.T, open Opener) {
	_, l := openListed(t, open)
	all, err := l.ListCalls(ctxT(t), pool.CallQuery{Tenant: "acme"})
	must(t, err)
	for _, size := range []int{1, 2, 3, 6, 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var got []string
			q := pool.CallQuery{Tenant: "acme", Limit: size}
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("paging does not end")
				}
				page, err := l.ListCalls(ctxT(t), q)
				must(t, err)
				if len(page.Calls) > size {
					t.Fatalf("page of %d, limit %d", len(page.Calls), size)
				}
				got = append(got, callIDs(page.Calls)...)
				if page.Next == "" {
					break
				}
				q.After = page.Next
			}
			if want := callIDs(all.Calls); !slices.Equal(got, want) {
				t.Fatalf("pages %v, want %v", got, want)
			}
		})
	}
}

func testListCallsRefuses(t *testing.T, open Opener) {
	s := open(t)
	l := need[CallLister](t, s)
	for name, q := range map[string]pool.CallQuery{
		"no tenant":        {},
		"direction":        {Tenant: "acme", Direction: "sideways"},
		"result":           {Tenant: "acme", Result: "maybe"},
		"feedback":         {Tenant: "acme", Feedback: "loud"},
		"cursor":           {Tenant: "acme", After: "yesterday"},
		"cursor, no order": {Tenant: "acme", After: "1795165200000.0"},
	} {
		if _, err := l.ListCalls(ctxT(t), q); !errIs(err, pool.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func testListFeedback(t *testing.T, open Opener) {
	_, l := openListed(t, open)
	ctx := ctxT(t)
	kinds := func(rs []pool.FeedbackRecord) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.CallID+":"+string(r.Kind))
		}
		return out
	}
	tests := []struct {
		name string
		q    pool.FeedbackQuery
		want []string
	}{
		{"a tenant's, newest first", pool.FeedbackQuery{}, []string{"c3:wrong_number", "c0:one_way_audio", "c0:noise"}},
		{"kind", pool.FeedbackQuery{Kind: pool.FeedbackNoise}, []string{"c0:noise"}},
		{"window", pool.FeedbackQuery{Since: minute(11), Until: minute(12)}, []string{"c0:one_way_audio"}},
		{"agent", pool.FeedbackQuery{Agent: "bob"}, []string{}},
	}
	for _, tc := range tests {
		tc.q.Tenant = "acme"
		got, next, err := l.ListFeedback(ctx, tc.q)
		if err != nil || next != 0 || !slices.Equal(kinds(got), tc.want) {
			t.Fatalf("%s: %v next %d %v, want %v", tc.name, kinds(got), next, err, tc.want)
		}
	}
	var walked []string
	q := pool.FeedbackQuery{Tenant: "acme", Limit: 1}
	for range 5 {
		page, next, err := l.ListFeedback(ctx, q)
		must(t, err)
		for _, r := range page {
			if r.Call.ID != r.CallID || r.Call.Tenant != "acme" || r.Call.SetupAt.IsZero() || r.CreatedAt.IsZero() {
				t.Fatalf("feedback %d: %+v", r.ID, r)
			}
		}
		walked = append(walked, kinds(page)...)
		if next == 0 {
			break
		}
		q.After = next
	}
	if want := []string{"c3:wrong_number", "c0:one_way_audio", "c0:noise"}; !slices.Equal(walked, want) {
		t.Fatalf("paged %v", walked)
	}
	_, _, err := l.ListFeedback(ctx, pool.FeedbackQuery{Tenant: "acme", Kind: "loud"})
	wantErr(t, err, pool.ErrInvalid)
	_, _, err = l.ListFeedback(ctx, pool.FeedbackQuery{})
	wantErr(t, err, pool.ErrInvalid)
}

func testCostOf(t *testing.T, open Opener) {
	_, l := openListed(t, open)
	ctx := ctxT(t)
	sum, err := l.CostOf(ctx, pool.CostQuery{Tenant: "acme", Since: t0, Until: t0.Add(time.Hour)})
	must(t, err)
	want := pool.CostSummary{
		Total: pool.CostLine{Calls: 7, Answered: 2, BilledSec: 71, CostMilli: 180},
		Trunks: []pool.CostLine{
			{Trunk: "tr-a", Calls: 4, Answered: 1, BilledSec: 61, CostMilli: 120},
			{Trunk: "tr-b", Calls: 3, Answered: 1, BilledSec: 10, CostMilli: 60},
		},
	}
	if fmt.Sprint(sum) != fmt.Sprint(want) {
		t.Fatalf("cost\n got %+v\nwant %+v", sum, want)
	}
	// The window is on setup time: the answered call at minute 4 is out of [0, 4).
	sum, err = l.CostOf(ctx, pool.CostQuery{Tenant: "acme", Since: t0, Until: minute(4)})
	must(t, err)
	if sum.Total != (pool.CostLine{Calls: 4, Answered: 1, BilledSec: 61, CostMilli: 120}) {
		t.Fatalf("window total %+v", sum.Total)
	}
	sum, err = l.CostOf(ctx, pool.CostQuery{Tenant: "nobody", Since: t0, Until: t0.Add(time.Hour)})
	must(t, err)
	if sum.Total != (pool.CostLine{}) || len(sum.Trunks) != 0 {
		t.Fatalf("unknown tenant %+v", sum)
	}
	_, err = l.CostOf(ctx, pool.CostQuery{Tenant: "acme"})
	wantErr(t, err, pool.ErrInvalid)
}

func testListDNC(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	l := need[DNCLister](t, s)
	ctx := ctxT(t)
	var es []pool.DNCEntry
	// Upper and lower case tenants: the order is byte-wise on every store.
	for _, tenant := range []string{"", "acme", "globex", "Zeta"} {
		for i := range 3 {
			es = append(es, pool.DNCEntry{Tenant: tenant, Number: fmt.Sprintf("+861380000000%d", i), Source: "t"})
		}
	}
	es = append(es, pool.DNCEntry{Tenant: "acme", Number: "+8613900000009"})
	_, err := s.AddDoNotCall(ctx, es)
	must(t, err)
	keys := func(es []pool.DNCEntry) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.Tenant+"|"+e.Number[len(e.Number)-2:])
		}
		return out
	}
	tests := []struct {
		name string
		q    pool.DNCQuery
		want []string
		more bool
	}{
		{"every list: global first", pool.DNCQuery{Limit: 4}, []string{"|00", "|01", "|02", "Zeta|00"}, true},
		{"one tenant", pool.DNCQuery{Lists: []string{"acme"}}, []string{"acme|00", "acme|01", "acme|02", "acme|09"}, false},
		{"global and a tenant", pool.DNCQuery{Lists: []string{"", "globex"}, Limit: 6}, []string{"|00", "|01", "|02", "globex|00", "globex|01", "globex|02"}, false},
		{"a number on every list", pool.DNCQuery{Number: "+8613800000001"}, []string{"|01", "Zeta|01", "acme|01", "globex|01"}, false},
		{"a number on the lists asked", pool.DNCQuery{Number: "+8613800000001", Lists: []string{"globex"}}, []string{"globex|01"}, false},
		{"after a cursor", pool.DNCQuery{After: pool.DNCEntry{Tenant: "acme", Number: "+8613800000002"}, Limit: 2}, []string{"acme|09", "globex|00"}, true},
		{"no lists", pool.DNCQuery{Lists: []string{}}, []string{}, false},
	}
	for _, tc := range tests {
		got, more, err := l.ListDNC(ctx, tc.q)
		if err != nil || !slices.Equal(keys(got), tc.want) || more != tc.more {
			t.Fatalf("%s: %v more=%v %v; want %v more=%v", tc.name, keys(got), more, err, tc.want, tc.more)
		}
	}
	var walked []string
	q := pool.DNCQuery{Limit: 4}
	for range 10 {
		page, more, err := l.ListDNC(ctx, q)
		must(t, err)
		walked = append(walked, keys(page)...)
		if !more {
			break
		}
		q.After = page[len(page)-1]
	}
	all, _, err := l.ListDNC(ctx, pool.DNCQuery{})
	must(t, err)
	if len(walked) != 13 || !slices.Equal(walked, keys(all)) {
		t.Fatalf("walked %v, all %v", walked, keys(all))
	}
	page, _, err := l.ListDNC(ctx, pool.DNCQuery{Lists: []string{"acme"}, Limit: 1})
	must(t, err)
	if len(page) != 1 || !page[0].AddedAt.Equal(t0) || page[0].Source != "t" {
		t.Fatalf("entry %+v", page)
	}
}
