package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"callgate/pool"
)

// This file holds the call recordings on the business API:
//
//	GET /v1/tenants/{tenant}/recordings             list the tenant's recordings
//	GET /v1/tenants/{tenant}/calls/{id}/recording   the call's WAV file (audio/wav)
//
// A recording is a stereo WAV file, 8 kHz 16-bit PCM: left the caller (the agent),
// right the callee (media/record.go).

// RecordingStore reads the recordings' rows; *pool.SQLiteStore is one.
type RecordingStore interface {
	Recording(ctx context.Context, callID string) (pool.Recording, error)
	ListRecordings(ctx context.Context, q pool.RecordingQuery) ([]pool.Recording, error)
}

var _ RecordingStore = (*pool.SQLiteStore)(nil)

// RecordingView is a recording as the API shows it.
type RecordingView struct {
	CallID string `json:"call_id"`
	// State is recording (the call goes on), done, or failed (the file holds the
	// audio up to the failure; Error says why).
	State     string     `json:"state"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// Bytes is the size of the file; Seconds the audio it holds.
	Bytes   int64  `json:"bytes"`
	Seconds int64  `json:"seconds"`
	Dropped int64  `json:"dropped_packets"`
	Error   string `json:"error,omitempty"`
	// URL is the path of the file on this API.
	URL string `json:"url"`
}

// RecordingList answers GET /v1/tenants/{tenant}/recordings.
type RecordingList struct {
	Recordings []RecordingView `json:"recordings"`
}

// errNoRecording answers a call that has no recording.
var errNoRecording = &requestError{status: http.StatusNotFound, code: "not_found", msg: "no recording of this call"}

// routeRecordings registers the recording endpoints (NewInternal calls it).
func (h *Internal) routeRecordings(s RecordingStore) {
	if s == nil {
		return
	}
	h.recordings = s
	h.mux.HandleFunc("/v1/tenants/{tenant}/recordings", h.api(h.recordingList))
	h.mux.HandleFunc("/v1/tenants/{tenant}/calls/{id}/recording", h.api(h.recording))
}

// recordingList serves GET /v1/tenants/{tenant}/recordings.
func (h *Internal) recordingList(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	tenant, err := pathTenant(c)
	if err != nil {
		return err
	}
	q, err := queryParams(c, "since", "until", "limit")
	if err != nil {
		return err
	}
	rq := pool.RecordingQuery{Tenant: tenant}
	if rq.Since, rq.Until, err = window(q, time.Time{}); err != nil {
		return err
	}
	if rq.Limit, err = limitOf(q); err != nil {
		return err
	}
	recs, err := h.recordings.ListRecordings(c.ctx, rq)
	if err != nil {
		return err
	}
	out := RecordingList{Recordings: make([]RecordingView, 0, len(recs))}
	for _, r := range recs {
		out.Recordings = append(out.Recordings, wireRecording(r))
	}
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

// recording serves GET (and HEAD) /v1/tenants/{tenant}/calls/{id}/recording: the WAV
// file, with ranges; 404 when the call has none (or is another tenant's).
func (h *Internal) recording(c *apiCall) error {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		return methodNotAllowed(c.r.Method, "GET, HEAD")
	}
	tenant, err := pathTenant(c)
	if err != nil {
		return err
	}
	if _, err := queryParams(c); err != nil {
		return err
	}
	rec, err := h.recordings.Recording(c.ctx, c.r.PathValue("id"))
	switch {
	case errors.Is(err, pool.ErrNotFound):
		return errNoRecording
	case err != nil:
		return err
	case rec.Tenant != tenant:
		return errNoRecording
	}
	return serveRecording(c.w, c.r, rec)
}

// serveRecording writes a recording's file as audio/wav.
func serveRecording(w http.ResponseWriter, r *http.Request, rec pool.Recording) error {
	f, err := os.Open(rec.Path)
	if errors.Is(err, os.ErrNotExist) {
		return &requestError{status: http.StatusNotFound, code: "not_found", msg: "the recording's file is gone"}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Content-Disposition", `attachment; filename="`+filepath.Base(rec.CallID)+`.wav"`)
	h.Set("X-Callgate-Recording-State", string(rec.State))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", st.ModTime(), f)
	return nil
}

// wireRecording is r as the API shows it.
func wireRecording(r pool.Recording) RecordingView {
	v := RecordingView{CallID: r.CallID, State: string(r.State), StartedAt: r.StartedAt, EndedAt: timeOrNil(r.EndedAt),
		Bytes: r.Bytes, Dropped: r.Dropped, Error: r.Error,
		URL: "/v1/tenants/" + url.PathEscape(r.Tenant) + "/calls/" + url.PathEscape(r.CallID) + "/recording"}
	if r.Bytes > 44 {
		v.Seconds = (r.Bytes - 44) / (4 * 8000)
	}
	return v
}
