package pool

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// Recordings a stopped process left in state recording are failed, as interrupted,
// at the next start; finished ones are left as they are.
func TestCloseOpenRecordings(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, r := range []Recording{
		{CallID: "open-1", Tenant: "acme", Path: "/rec/open-1.wav", State: RecordingActive, StartedAt: start},
		{CallID: "open-2", Tenant: "acme", Path: "/rec/open-2.wav", State: RecordingActive, StartedAt: start.Add(time.Second)},
		{CallID: "done", Tenant: "acme", Path: "/rec/done.wav", State: RecordingDone, StartedAt: start, EndedAt: start.Add(time.Minute), Bytes: 1044},
	} {
		if err := s.SaveRecording(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	closed, err := s.CloseOpenRecordings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range closed {
		ids = append(ids, r.CallID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"open-1", "open-2"}) {
		t.Fatalf("closed %v, want open-1 and open-2", ids)
	}
	for _, id := range []string{"open-1", "open-2"} {
		r, err := s.Recording(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != RecordingFailed || r.Error != RecordingInterrupted || r.EndedAt.Before(r.StartedAt) || r.EndedAt.IsZero() {
			t.Fatalf("%s after close: %+v", id, r)
		}
	}
	if r, err := s.Recording(ctx, "done"); err != nil || r.State != RecordingDone || r.Error != "" || r.Bytes != 1044 {
		t.Fatalf("finished recording changed: %+v, %v", r, err)
	}
	if again, err := s.CloseOpenRecordings(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second close: %v, %v", again, err)
	}
}

// Pruning a call deletes its recording's row and hands back the file's path; the
// recordings of kept calls stay.
func TestPruneCallsDeletesRecordings(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const old = pruneBatch + 3 // two transactions
	now := pruneFixture(t, s, old)
	var want []string
	for i := 0; i < old; i += 100 {
		id := fmt.Sprintf("old-%04d", i)
		want = append(want, "/rec/"+id+".wav")
		if err := s.SaveRecording(ctx, Recording{CallID: id, Tenant: "acme", Path: "/rec/" + id + ".wav", State: RecordingDone,
			StartedAt: now.Add(-100 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"old-open", "new-0"} {
		if err := s.SaveRecording(ctx, Recording{CallID: id, Tenant: "acme", Path: "/rec/" + id + ".wav", State: RecordingDone,
			StartedAt: now.Add(-95 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.PruneCalls(ctx, now.Add(-90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(res.RecordingFiles)
	slices.Sort(got)
	if res.Calls != old || res.Recordings != len(want) || !slices.Equal(got, want) {
		t.Fatalf("pruned %d calls, %d recordings, files %v; want %d, %d, %v", res.Calls, res.Recordings, got, old, len(want), want)
	}
	if res.Rows() != res.Calls+res.Attempts+res.Feedback+res.Recordings {
		t.Fatalf("Rows %d does not count the recordings: %+v", res.Rows(), res)
	}
	if n := count(t, s, `SELECT count(*) FROM call_recordings`); n != 2 {
		t.Fatalf("%d recordings left, want those of the open and the recent call", n)
	}
	if _, err := s.Recording(ctx, "old-0000"); err == nil {
		t.Fatal("the pruned call's recording row is still there")
	}
}
