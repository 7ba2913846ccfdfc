package main

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"callgate/pool"
)

// recordingCaps is the rig's caps setting followed by a recording section for the
// tenant (the rig writes caps at the end of the tenant's callers section).
func recordingCaps(dir string, enabled bool) string {
	on := "false"
	if enabled {
		on = "true"
	}
	return noCaps + "\n    recording: {enabled: " + on + ", dir: " + dir + "}"
}

// waitRecording waits for the recording of call id to end, and returns it.
func (r *agentRig) waitRecording(t *testing.T, id string) pool.Recording {
	t.Helper()
	store, err := pool.OpenSQLite(context.Background(), r.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rec, err := store.Recording(context.Background(), id)
		if err == nil && rec.State != pool.RecordingActive {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording of %s did not end: %+v %v", id, rec, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasRecording reports whether call id has a recording row.
func (r *agentRig) hasRecording(t *testing.T, id string) bool {
	t.Helper()
	store, err := pool.OpenSQLite(context.Background(), r.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, err = store.Recording(context.Background(), id)
	if err != nil && !errors.Is(err, pool.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// readStereoWAV checks a recording's header and returns its two channels.
func readStereoWAV(t *testing.T, path string) (left, right []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" ||
		le.Uint16(b[20:]) != 1 || le.Uint16(b[22:]) != 2 || le.Uint32(b[24:]) != 8000 || le.Uint16(b[34:]) != 16 {
		t.Fatalf("%s is not a stereo 8 kHz 16-bit PCM WAV: % x", path, b[:min(len(b), 44)])
	}
	data := int(le.Uint32(b[40:]))
	if int(le.Uint32(b[4:])) != 36+data || len(b) != 44+data {
		t.Fatalf("%s: header sizes riff %d data %d, file %d bytes", path, le.Uint32(b[4:]), data, len(b))
	}
	for i := 44; i+4 <= len(b); i += 4 {
		left = append(left, int16(le.Uint16(b[i:])))
		right = append(right, int16(le.Uint16(b[i+2:])))
	}
	return left, right
}

// TestRecordingHoldsBothSides is the Show: the agent (pion, 1 kHz
// microphone) calls the demo carrier (440 Hz) with the tenant recording every call;
// the call's WAV has the agent's 1 kHz on the left and the carrier's 440 Hz on the
// right, throughout the call.
func TestRecordingHoldsBothSides(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	r := newAgentRigCaps(t, 2, recordingCaps(dir, true), "")
	a := newGoAgent(t, r.base, agentToken)
	id := a.dial("+8613900000002")
	a.state("connected")
	eventually(t, "two seconds of audio each way", func() bool {
		calls := r.carrier.Calls()
		return len(calls) == 1 && len(calls[0].Heard()) >= 16000 && len(a.heardSamples()) >= 16000
	})
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended")
	rec := r.waitRecording(t, id)
	if rec.State != pool.RecordingDone || rec.Tenant != "acme" || rec.Path != filepath.Join(dir, id+".wav") || rec.Error != "" {
		t.Fatalf("recording %+v", rec)
	}
	left, right := readStereoWAV(t, rec.Path)
	if len(left) < 16000 || int64(44+4*len(left)) != rec.Bytes {
		t.Fatalf("%d frames, %d bytes recorded", len(left), rec.Bytes)
	}
	// Look at 200 ms windows a quarter, half and three quarters into the call.
	for _, at := range []int{len(left) / 4, len(left) / 2, len(left) * 3 / 4} {
		if !dominant(left[:at], 1000, 440) {
			t.Errorf("left channel at frame %d is not the agent's 1 kHz", at)
		}
		if !dominant(right[:at], 440, 1000) {
			t.Errorf("right channel at frame %d is not the carrier's 440 Hz", at)
		}
	}
}

// TestRecordingAskedByAgent: the tenant does not record calls, but a dial with
// "record": true is recorded; the next call without it is not.
func TestRecordingAskedByAgent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	r := newAgentRigCaps(t, 2, recordingCaps(dir, false), "")
	a := newGoAgent(t, r.base, agentToken)
	a.send(map[string]any{"type": "dial", "id": "d1", "to": "+8613900000002", "record": true})
	m := a.next("call", "error")
	if m["type"] != "call" {
		t.Fatalf("dial: %v", m)
	}
	id := m["call"].(string)
	a.state("connected")
	eventually(t, "audio both ways", func() bool {
		calls := r.carrier.Calls()
		return len(calls) == 1 && len(calls[0].Heard()) >= 8000 && len(a.heardSamples()) >= 8000
	})
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended")
	rec := r.waitRecording(t, id)
	left, right := readStereoWAV(t, rec.Path)
	if mid := len(left) / 2; rec.State != pool.RecordingDone || len(left) < 4000 ||
		!dominant(left[:mid], 1000, 440) || !dominant(right[:mid], 440, 1000) {
		t.Fatalf("asked-for recording %+v, %d frames", rec, len(left))
	}

	id2 := a.dial("+8613900000003")
	a.state("connected")
	a.send(map[string]any{"type": "hangup", "call": id2})
	a.state("ended")
	r.record(t, id2)
	if r.hasRecording(t, id2) {
		t.Fatal("a call nobody asked to record was recorded")
	}
	if _, err := os.Stat(filepath.Join(dir, id2+".wav")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file of the unrecorded call: %v", err)
	}
}
