package configs

import (
	"cmp"
	"strings"
)

// This file holds each tenant's recording section: whether its calls are recorded
// to stereo WAV files (media/record.go), where, and what share of them.

// Recording is a tenant's call recording. Off by default; an agent may still ask for
// one call to be recorded (the dial message's "record": true, docs/signaling.md),
// which uses Dir.
type Recording struct {
	// Enabled records the tenant's calls (a Percent share of them); default false.
	Enabled bool `yaml:"enabled"`
	// Dir is the directory the WAV files go to, one per call named <call id>.wav,
	// relative to the working directory like storage.sqlite.path; default
	// "recordings".
	Dir string `yaml:"dir"`
	// Percent is the share of the tenant's calls recorded when Enabled, 1 to 100;
	// 0: default 100; negative: none (only calls an agent asks for).
	Percent int `yaml:"percent"`
}

// Defaults of the recording section.
const (
	defaultRecordingDir     = "recordings" // tenants[].recording.dir
	defaultRecordingPercent = 100          // tenants[].recording.percent
	// tenants[].recording.enabled: false.
)

// recordingDefaults fills the zero settings of t's recording section.
func recordingDefaults(t *Tenant) {
	r := &t.Recording
	r.Dir = cmp.Or(strings.TrimSpace(r.Dir), defaultRecordingDir)
	r.Percent = cmp.Or(r.Percent, defaultRecordingPercent)
}

// recordings checks every tenant's recording section.
func (v *validation) recordings() {
	for i := range v.cfg.Tenants {
		t := &v.cfg.Tenants[i]
		pl := itemPlace(v.src.tenants[i], "tenant", t.Name, "tenants")
		r := &t.Recording
		if r.Percent > 100 {
			v.bad(pl, at("recording", "percent"), "must be 1 to 100 (negative: none), got %d", r.Percent)
		}
		if strings.ContainsRune(r.Dir, 0) || strings.ContainsAny(r.Dir, "\r\n") {
			v.bad(pl, at("recording", "dir"), "must be a plain directory path")
		}
	}
}

// Records reports whether a call with sampling key n (0-99, e.g. a hash of its id)
// is recorded under r when the agent did not ask for it.
func (r Recording) Records(n int) bool {
	return r.Enabled && r.Percent > 0 && n%100 < r.Percent
}
