package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"callgate/pool"
)

// Recordings keeps which calls were recorded and how.
type Recordings interface {
	SaveRecording(ctx context.Context, r pool.Recording) error
	Recording(ctx context.Context, callID string) (pool.Recording, error)
	ListRecordings(ctx context.Context, q pool.RecordingQuery) ([]pool.Recording, error)
	RecordingsOf(ctx context.Context, ids []string) (map[string]pool.Recording, error)
	CloseOpenRecordings(ctx context.Context) ([]pool.Recording, error)
}

func testRecordings(t *testing.T, open Opener) {
	s := open(t, pool.WithClock(NewClock(t0).Now))
	rs := need[Recordings](t, s)
	ctx := ctxT(t)
	_, err := rs.Recording(ctx, "c1")
	wantErr(t, err, pool.ErrNotFound)
	for _, bad := range []pool.Recording{
		{Tenant: "acme", Path: "x.wav", State: pool.RecordingActive},
		{CallID: "c1", Tenant: "acme", Path: "x.wav", State: "paused"},
		{CallID: "c1", Path: "x.wav", State: pool.RecordingActive},
		{CallID: "c1", Tenant: "acme", State: pool.RecordingActive},
	} {
		wantErr(t, rs.SaveRecording(ctx, bad), pool.ErrInvalid)
	}
	// Started (the store's clock), then ended: the second save replaces the first.
	start := pool.Recording{CallID: "c1", Tenant: "acme", Path: "rec/c1.wav", State: pool.RecordingActive}
	must(t, rs.SaveRecording(ctx, start))
	got, err := rs.Recording(ctx, "c1")
	start.StartedAt = t0
	if err != nil || !reflect.DeepEqual(got, start) {
		t.Fatalf("started: %+v %v", got, err)
	}
	end := start
	end.State, end.EndedAt, end.Bytes, end.Dropped, end.Error = pool.RecordingFailed, t0.Add(time.Minute), 44+4*8000, 3, "disk full"
	must(t, rs.SaveRecording(ctx, end))
	if got, err := rs.Recording(ctx, "c1"); err != nil || !reflect.DeepEqual(got, end) {
		t.Fatalf("ended: %+v %v", got, err)
	}
	other := pool.Recording{CallID: "c2", Tenant: "beta", Path: "rec/c2.wav", State: pool.RecordingDone, StartedAt: t0.Add(time.Hour)}
	newer := pool.Recording{CallID: "c3", Tenant: "acme", Path: "rec/c3.wav", State: pool.RecordingDone, StartedAt: t0.Add(2 * time.Hour)}
	same := pool.Recording{CallID: "C4", Tenant: "acme", Path: "rec/c4.wav", State: pool.RecordingDone, StartedAt: t0.Add(2 * time.Hour)}
	for _, r := range []pool.Recording{other, newer, same} {
		must(t, rs.SaveRecording(ctx, r))
	}
	list, err := rs.ListRecordings(ctx, pool.RecordingQuery{Tenant: "acme"})
	if err != nil || len(list) != 3 || list[0].CallID != "C4" || list[1].CallID != "c3" || list[2].CallID != "c1" {
		t.Fatalf("acme's recordings, newest first, ties by call ID: %+v %v", list, err)
	}
	list, err = rs.ListRecordings(ctx, pool.RecordingQuery{Tenant: "acme", Limit: 1})
	if err != nil || len(list) != 1 || list[0].CallID != "C4" {
		t.Fatalf("limit 1: %+v %v", list, err)
	}
	list, err = rs.ListRecordings(ctx, pool.RecordingQuery{Since: t0.Add(time.Minute), Until: t0.Add(90 * time.Minute)})
	if err != nil || len(list) != 1 || list[0].CallID != "c2" {
		t.Fatalf("window: %+v %v", list, err)
	}
	by, err := rs.RecordingsOf(ctx, []string{"c2", "c3", "nope"})
	if err != nil || len(by) != 2 || by["c2"].Tenant != "beta" || by["c3"].Path != "rec/c3.wav" {
		t.Fatalf("RecordingsOf: %+v %v", by, err)
	}
	if by, err := rs.RecordingsOf(ctx, nil); err != nil || len(by) != 0 {
		t.Fatalf("RecordingsOf(nil): %+v %v", by, err)
	}
}

// Recordings a stopped process left in state recording are failed, as interrupted,
// at the next start; finished ones are left as they are.
func testCloseOpenRecordings(t *testing.T, open Opener) {
	s := open(t)
	rs := need[Recordings](t, s)
	ctx := ctxT(t)
	start := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, r := range []pool.Recording{
		{CallID: "open-1", Tenant: "acme", Path: "/rec/open-1.wav", State: pool.RecordingActive, StartedAt: start},
		{CallID: "open-2", Tenant: "acme", Path: "/rec/open-2.wav", State: pool.RecordingActive, StartedAt: start.Add(time.Second)},
		{CallID: "done", Tenant: "acme", Path: "/rec/done.wav", State: pool.RecordingDone, StartedAt: start, EndedAt: start.Add(time.Minute), Bytes: 1044},
	} {
		must(t, rs.SaveRecording(ctx, r))
	}
	closed, err := rs.CloseOpenRecordings(ctx)
	must(t, err)
	var ids []string
	for _, r := range closed {
		ids = append(ids, r.CallID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"open-1", "open-2"}) {
		t.Fatalf("closed %v, want open-1 and open-2", ids)
	}
	for _, id := range ids {
		r, err := rs.Recording(ctx, id)
		must(t, err)
		if r.State != pool.RecordingFailed || r.Error != pool.RecordingInterrupted || r.EndedAt.IsZero() || r.EndedAt.Before(r.StartedAt) {
			t.Fatalf("%s after close: %+v", id, r)
		}
	}
	if r, err := rs.Recording(ctx, "done"); err != nil || r.State != pool.RecordingDone || r.Error != "" || r.Bytes != 1044 {
		t.Fatalf("a finished recording changed: %+v, %v", r, err)
	}
	if again, err := rs.CloseOpenRecordings(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second close: %+v, %v", again, err)
	}
}
