package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"callgate/pool"
)

// testPruneCalls stores old ended calls (each with two attempts, every third with
// feedback), one old call still open, and recent calls; a prune deletes exactly the
// old ended ones, across more than two batches of 500.
func testPruneCalls(t *testing.T, open Opener) {
	const old = 2*500 + 7
	s := open(t)
	pr := need[pool.CallPruner](t, s)
	rec := need[Recorder](t, s)
	ctx := ctxT(t)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	mk := func(id string, setup time.Time, ended bool) pool.Call {
		c := pool.Call{ID: id, Tenant: "acme", Direction: pool.Outbound, Caller: "+8675500000001", Callee: "+8613800138000",
			OutTrunk: "carrier-a", State: "ended", SIPCode: 200, SetupAt: setup,
			Attempts: []pool.Attempt{{CallID: id, Seq: 1, Trunk: "carrier-b", SIPCode: 503, StartAt: setup},
				{CallID: id, Seq: 2, Trunk: "carrier-a", SIPCode: 200, StartAt: setup}}}
		if ended {
			c.AnswerAt, c.EndAt = setup.Add(time.Second), setup.Add(time.Minute)
		} else {
			c.State = "answered"
		}
		return c
	}
	var calls []pool.Call
	for i := range old {
		calls = append(calls, mk(fmt.Sprintf("old-%04d", i), now.Add(-100*24*time.Hour+time.Duration(i)*time.Second), true))
	}
	calls = append(calls, mk("old-open", now.Add(-95*24*time.Hour), false))
	for i := range 3 {
		calls = append(calls, mk(fmt.Sprintf("new-%d", i), now.Add(-time.Duration(i+1)*24*time.Hour), true))
	}
	must(t, rec.SaveBatch(ctx, pool.Batch{Calls: calls}))
	for i := 0; i < old; i += 3 {
		_, err := s.AddFeedback(ctx, pool.Feedback{CallID: fmt.Sprintf("old-%04d", i), Kind: pool.FeedbackNoise})
		must(t, err)
	}
	_, err := s.AddFeedback(ctx, pool.Feedback{CallID: "new-0", Kind: pool.FeedbackNoise})
	must(t, err)

	// Recordings of some old calls, of the open one and of a recent one.
	rs := need[Recordings](t, s)
	var wantFiles []string
	for i := 0; i < old; i += 100 {
		id := fmt.Sprintf("old-%04d", i)
		wantFiles = append(wantFiles, "/rec/"+id+".wav")
		must(t, rs.SaveRecording(ctx, pool.Recording{CallID: id, Tenant: "acme", Path: "/rec/" + id + ".wav",
			State: pool.RecordingDone, StartedAt: now.Add(-100 * 24 * time.Hour)}))
	}
	for _, id := range []string{"old-open", "new-0"} {
		must(t, rs.SaveRecording(ctx, pool.Recording{CallID: id, Tenant: "acme", Path: "/rec/" + id + ".wav",
			State: pool.RecordingDone, StartedAt: now.Add(-95 * 24 * time.Hour)}))
	}

	cutoff := now.Add(-90 * 24 * time.Hour)
	res, err := pr.PruneCalls(ctx, cutoff)
	must(t, err)
	wantFeedback := (old + 2) / 3
	if res.Calls != old || res.Attempts != 2*old || res.Feedback != wantFeedback || res.Recordings != len(wantFiles) {
		t.Fatalf("pruned %+v, want %d calls, %d attempts, %d feedback, %d recordings", res, old, 2*old, wantFeedback, len(wantFiles))
	}
	if got := slices.Sorted(slices.Values(res.RecordingFiles)); !slices.Equal(got, wantFiles) {
		t.Fatalf("recording files %v, want %v", got, wantFiles)
	}
	if res.Rows() != res.Calls+res.Attempts+res.Feedback+res.Recordings {
		t.Fatalf("Rows %d of %+v", res.Rows(), res)
	}
	_, err = rs.Recording(ctx, "old-0000")
	wantErr(t, err, pool.ErrNotFound)
	for _, id := range []string{"old-open", "new-0"} {
		_, err := rs.Recording(ctx, id)
		must(t, err)
	}
	left, err := s.Calls(ctx, pool.CallFilter{Limit: -1})
	must(t, err)
	if got := callIDs(left); len(got) != 4 || got[3] != "old-open" {
		t.Fatalf("calls left %v, want three recent and the open one", got)
	}
	attempts := 0
	for _, c := range left {
		attempts += len(c.Attempts)
	}
	if attempts != 8 {
		t.Fatalf("%d attempts left, want 8", attempts)
	}
	if fs, err := s.Feedback(ctx, "new-0"); err != nil || len(fs) != 1 {
		t.Fatalf("recent feedback: %+v %v", fs, err)
	}
	_, err = s.Call(ctx, "old-0000")
	wantErr(t, err, pool.ErrNotFound)
	res, err = pr.PruneCalls(ctx, cutoff)
	if err != nil || res.Rows() != 0 {
		t.Fatalf("second prune: %+v, %v", res, err)
	}
}
