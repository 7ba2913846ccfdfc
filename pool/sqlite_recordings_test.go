package pool

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRecordingsRoundTrip(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openTest(t, WithClock(clk.Now))

	if _, err := s.Recording(ctx, "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no recording yet: %v", err)
	}
	for _, bad := range []Recording{
		{Tenant: "acme", Path: "x.wav", State: RecordingActive},
		{CallID: "c1", Tenant: "acme", Path: "x.wav", State: "paused"},
		{CallID: "c1", Path: "x.wav", State: RecordingActive},
	} {
		if err := s.SaveRecording(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SaveRecording(%+v): %v", bad, err)
		}
	}
	// Started (the store's clock), then ended: the second save replaces the first.
	start := Recording{CallID: "c1", Tenant: "acme", Path: "rec/c1.wav", State: RecordingActive}
	if err := s.SaveRecording(ctx, start); err != nil {
		t.Fatal(err)
	}
	got, err := s.Recording(ctx, "c1")
	start.StartedAt = t0
	if err != nil || !reflect.DeepEqual(got, start) {
		t.Fatalf("started: %+v %v", got, err)
	}
	end := start
	end.State, end.EndedAt, end.Bytes, end.Dropped, end.Error = RecordingFailed, t0.Add(time.Minute), 44+4*8000, 3, "disk full"
	if err := s.SaveRecording(ctx, end); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Recording(ctx, "c1"); err != nil || !reflect.DeepEqual(got, end) {
		t.Fatalf("ended: %+v %v", got, err)
	}

	other := Recording{CallID: "c2", Tenant: "beta", Path: "rec/c2.wav", State: RecordingDone, StartedAt: t0.Add(time.Hour)}
	newer := Recording{CallID: "c3", Tenant: "acme", Path: "rec/c3.wav", State: RecordingDone, StartedAt: t0.Add(2 * time.Hour)}
	for _, r := range []Recording{other, newer} {
		if err := s.SaveRecording(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListRecordings(ctx, RecordingQuery{Tenant: "acme"})
	if err != nil || len(list) != 2 || list[0].CallID != "c3" || list[1].CallID != "c1" {
		t.Fatalf("acme's recordings, newest first: %+v %v", list, err)
	}
	list, err = s.ListRecordings(ctx, RecordingQuery{Since: t0.Add(time.Minute), Until: t0.Add(90 * time.Minute)})
	if err != nil || len(list) != 1 || list[0].CallID != "c2" {
		t.Fatalf("window: %+v %v", list, err)
	}
	by, err := s.RecordingsOf(ctx, []string{"c2", "c3", "nope"})
	if err != nil || len(by) != 2 || by["c2"].Tenant != "beta" || by["c3"].Path != "rec/c3.wav" {
		t.Fatalf("RecordingsOf: %+v %v", by, err)
	}
	if by, err := s.RecordingsOf(ctx, nil); err != nil || len(by) != 0 {
		t.Fatalf("RecordingsOf(nil): %+v %v", by, err)
	}
}
