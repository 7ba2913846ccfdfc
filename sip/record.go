package sip

import (
	"context"
	"hash/fnv"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"callgate/configs"
	"callgate/media"
	"callgate/pool"
)

// This file records calls: which calls are recorded (the tenant's recording
// section, or the agent's dial asking for it), the call's Recorder that its bridges
// tap (media/record.go), and the recording's row in the store (pool.Recording).
// Recording never decides whether a call goes on: a file that cannot be created
// or written only marks the recording failed.

// RecordingStore keeps the recordings' rows; *pool.SQLiteStore is one.
type RecordingStore interface {
	SaveRecording(ctx context.Context, r pool.Recording) error
}

var _ RecordingStore = (*pool.SQLiteStore)(nil)

// TenantRecording is one tenant's recording settings (configs.Recording).
type TenantRecording = configs.Recording

// RecordingsFrom returns the recording settings of the config's tenants.
func RecordingsFrom(c *configs.Config) map[string]TenantRecording {
	out := make(map[string]TenantRecording, len(c.Tenants))
	for _, t := range c.Tenants {
		out[t.Name] = t.Recording
	}
	return out
}

// recordings is the edge's recording policy: settings per tenant, swapped whole on
// reload, and the store of the recordings' rows.
type recordings struct {
	tenants atomic.Pointer[map[string]TenantRecording]
	store   RecordingStore
}

// WithRecording records calls as tenants' settings say (and calls agents ask to
// record, in their tenant's directory), keeping each recording's row in store.
// Without it, nothing is recorded.
func WithRecording(store RecordingStore, tenants map[string]TenantRecording) Option {
	return func(e *Edge) {
		e.recording.store = store
		e.recording.tenants.Store(&tenants)
	}
}

// SetRecording swaps the tenants' recording settings (on config reload); calls in
// progress keep recording, or not, as they started.
func (e *Edge) SetRecording(tenants map[string]TenantRecording) {
	e.recording.tenants.Store(&tenants)
}

// callRecording is one call's recording.
type callRecording struct {
	rec   *media.Recorder // nil if the file could not be created
	row   pool.Recording
	saved chan struct{} // closed once the starting row is stored
	once  sync.Once
}

// recordingTapLocked returns what the call's bridge taps: the call's Recorder,
// started at its first bridge if the call is to be recorded; nil if not. c.mu is
// held (startBridge), so the store is written from a goroutine the end waits for.
func (c *call) recordingTapLocked() media.Tap {
	if c.recording == nil {
		c.recording = c.e.startRecording(c)
	}
	if r := c.recording; r != nil && r.rec != nil && r.row.State == pool.RecordingActive {
		return r.rec
	}
	return nil
}

// startRecording decides whether c is recorded and, if so, creates its file. It
// returns nil for a call that is not recorded.
func (e *Edge) startRecording(c *call) *callRecording {
	tenants := e.recording.tenants.Load()
	if tenants == nil || e.recording.store == nil {
		return nil
	}
	set, ok := (*tenants)[c.rec.Tenant]
	asked := c.agent != nil && c.agent.record
	if !ok || !asked && !set.Records(sampleKey(c.id)) {
		return nil
	}
	r := &callRecording{saved: make(chan struct{}), row: pool.Recording{CallID: c.id, Tenant: c.rec.Tenant,
		Path: filepath.Join(set.Dir, c.id+".wav"), State: pool.RecordingActive, StartedAt: e.now()}}
	var err error
	r.rec, err = media.CreateRecording(r.row.Path, media.RecorderOptions{Logger: c.log.With("recording", r.row.Path)})
	if err != nil {
		c.log.Error("recording not started; the call goes on", "err", err)
		r.row.State, r.row.Error, r.row.EndedAt = pool.RecordingFailed, err.Error(), r.row.StartedAt
	} else {
		c.log.Info("recording", "path", r.row.Path, "asked_by_agent", asked)
	}
	row := r.row
	go func() {
		defer close(r.saved)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.recording.store.SaveRecording(ctx, row); err != nil {
			c.log.Warn("recording row", "err", err)
		}
	}()
	return r
}

// stopRecording ends the call's recording, if any, once its bridges closed:
// closes the file and stores how the recording went. Safe to call twice.
func (c *call) stopRecording() {
	c.mu.Lock()
	r := c.recording
	c.mu.Unlock()
	if r == nil {
		return
	}
	r.once.Do(func() {
		<-r.saved
		if r.rec == nil {
			return // failed to start: its row says so already
		}
		err := r.rec.Close()
		st := r.rec.Stats()
		r.row.EndedAt, r.row.Dropped = c.e.now(), int64(st.Dropped)
		r.row.Bytes = 44 + st.Frames*4 // the WAV header and 16-bit stereo frames
		r.row.State = pool.RecordingDone
		if err != nil {
			r.row.State, r.row.Error = pool.RecordingFailed, err.Error()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.e.recording.store.SaveRecording(ctx, r.row); err != nil {
			c.log.Warn("recording row", "err", err)
		}
		c.log.Info("recording ended", "state", r.row.State, "seconds", st.Frames/8000, "dropped", st.Dropped)
	})
}

// recordingState is the state of the call's recording, "" if it is not recorded.
func (c *call) recordingState() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recording == nil {
		return ""
	}
	if c.recording.rec == nil || c.recording.rec.Stats().Err != nil {
		return string(pool.RecordingFailed)
	}
	return string(pool.RecordingActive)
}

// sampleKey maps a call id to 0-99, for recording a percentage of calls.
func sampleKey(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % 100)
}
