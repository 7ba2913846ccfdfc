package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
)

// At start, callgate fails the recordings a stopped process left open, and its
// retention pass deletes the pruned calls' recordings, rows and WAV files, keeping
// those of the calls it keeps.
func TestStartClosesOpenRecordingsAndPrunesOldOnes(t *testing.T) {
	ca := newCarrier(t)
	reloadEnv(t)
	dir := t.TempDir()
	r := &reloadRig{t: t, dir: dir, path: filepath.Join(dir, "callgate.yaml"), db: filepath.Join(dir, "callgate.db"),
		portBase: 37000}
	recDir := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(recDir, 0o755); err != nil {
		t.Fatal(err)
	}
	wav := func(id string) string {
		p := filepath.Join(recDir, id+".wav")
		if err := os.WriteFile(p, make([]byte, 44), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// What a process left in the store: an old call (past the 90-day retention) with
	// its recording done, a recent one too, and a call that was recording when the
	// process died.
	ctx := context.Background()
	store, err := pool.OpenSQLite(ctx, r.db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	call := func(id string, setup time.Time, ended bool) pool.Call {
		c := pool.Call{ID: id, Tenant: "acme", Direction: pool.Outbound, Caller: numberA, Callee: "+8613800138000",
			OutTrunk: "carrier-a", State: "answered", SIPCode: 200, SetupAt: setup, AnswerAt: setup.Add(time.Second)}
		if ended {
			c.State, c.EndAt = "ended", setup.Add(time.Minute)
		}
		return c
	}
	old, recent, crashed := call("old", now.Add(-100*24*time.Hour), true), call("recent", now.Add(-time.Hour), true),
		call("crashed", now.Add(-time.Minute), false)
	if err := store.SaveBatch(ctx, pool.Batch{Calls: []pool.Call{old, recent, crashed}}); err != nil {
		t.Fatal(err)
	}
	rows := []pool.Recording{
		{CallID: "old", Tenant: "acme", Path: wav("old"), State: pool.RecordingDone, StartedAt: old.AnswerAt, EndedAt: old.EndAt, Bytes: 44},
		{CallID: "recent", Tenant: "acme", Path: wav("recent"), State: pool.RecordingDone, StartedAt: recent.AnswerAt, EndedAt: recent.EndAt, Bytes: 44},
		{CallID: "crashed", Tenant: "acme", Path: wav("crashed"), State: pool.RecordingActive, StartedAt: crashed.AnswerAt},
	}
	for _, rec := range rows {
		if err := store.SaveRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()

	r.write(trunkYAML("carrier-a", ca), poolYAML("acme-a", numberA, "carrier-a"))
	cfg, err := configs.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	out, logs := &lineWriter{}, &lineWriter{}
	done := make(chan error, 1)
	go func() {
		done <- serve(sctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), out)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("callgate logs:\n%s", tail(logs.String(), 8000))
		}
	})
	out.wait(t, regexp.MustCompile(`page at (http://127\.0\.0\.1:\d+/)`))

	gone := func(p string) bool {
		_, err := os.Stat(p)
		return errors.Is(err, fs.ErrNotExist)
	}
	eventually(t, "the old call's recording file is deleted", func() bool { return gone(rows[0].Path) })
	if gone(rows[1].Path) || gone(rows[2].Path) {
		t.Fatal("a kept call's recording file was deleted")
	}
	store, err = pool.OpenSQLite(ctx, r.db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Recording(ctx, "old"); !errors.Is(err, pool.ErrNotFound) {
		t.Fatalf("the pruned call's recording row: %v", err)
	}
	if rec, err := store.Recording(ctx, "recent"); err != nil || rec.State != pool.RecordingDone {
		t.Fatalf("the recent recording: %+v, %v", rec, err)
	}
	rec, err := store.Recording(ctx, "crashed")
	if err != nil || rec.State != pool.RecordingFailed || rec.Error != pool.RecordingInterrupted || rec.EndedAt.IsZero() {
		t.Fatalf("the recording the stopped process left open: %+v, %v", rec, err)
	}
	if !regexp.MustCompile(`recordings a stopped process left open.*recordings=1`).MatchString(logs.String()) {
		t.Error("the logs do not say an open recording was closed")
	}
}
