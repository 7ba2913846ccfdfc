package main

import (
	"path/filepath"
	"testing"

	"callgate/pool"
)

// A customer's callback answered by an agent is recorded when the tenant records
// calls: the agent's 1 kHz on the left, the customer's 660 Hz on the right, as in
// the agent's own calls.
func TestCallbackRecorded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	// The rig writes the callbacks section last in the tenant: the recording section
	// follows it.
	r := newCallbackRig(t, "{ring_timeout: 20s}\n    recording: {enabled: true, dir: "+dir+"}")
	a := newGoAgent(t, r.base, agentToken)
	r.callCustomer(t, a)

	oc := r.callBack(t)
	id := a.incoming()["call"].(string)
	a.send(map[string]any{"type": "accept", "id": "acc", "call": id})
	a.state("connected")
	if code := finalCode(t, oc); code != 200 {
		t.Fatalf("the customer got %d", code)
	}
	eventually(t, "a second of audio each way", func() bool {
		return len(oc.Heard()) >= 8000 && len(a.heardSamples()) >= 8000
	})
	a.send(map[string]any{"type": "hangup", "call": id})
	a.state("ended")
	rec := r.waitRecording(t, id)
	if rec.State != pool.RecordingDone || rec.Tenant != "acme" || rec.Path != filepath.Join(dir, id+".wav") {
		t.Fatalf("callback recording %+v", rec)
	}
	left, right := readStereoWAV(t, rec.Path)
	if mid := len(left) / 2; len(left) < 4000 || !dominant(left[:mid], 1000, customerHz) || !dominant(right[:mid], customerHz, 1000) {
		t.Fatalf("callback recording holds %d frames, not the agent left and the customer right", len(left))
	}
}
