package web

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// This file is the config's administration on the business API, for apps that act
// for every tenant (tenants: ["*"]):
//
//	GET  /v1/admin/config   the running config's version, files, load time and the
//	                        last reload's result
//	POST /v1/admin/reload   load and validate the config files again and, if they
//	                        are good, apply them; answers the reload's result (200
//	                        also when the files are refused: see ok and errors)

// ConfigAdmin reloads the running config and reports on it; the serve command's
// reloader is one.
type ConfigAdmin interface {
	// Reload loads the config files again and applies them if they are valid; by
	// says who asked ("api:<app>"). It returns what happened.
	Reload(ctx context.Context, by string) ReloadResult
	// ConfigStatus describes the running config.
	ConfigStatus() ConfigStatus
}

// ConfigStatus answers GET /v1/admin/config.
type ConfigStatus struct {
	// Version is the hex SHA-256 of the running config's files, in order.
	Version string `json:"version"`
	// Files are the files the running config was read from, main file first.
	Files []string `json:"files"`
	// LoadedAt is when the running config was loaded (at start or by a reload).
	LoadedAt time.Time `json:"loaded_at"`
	// LastReload is the last reload attempt's result, good or bad; nil if none yet.
	LastReload *ReloadResult `json:"last_reload,omitempty"`
}

// ReloadResult is what one reload did.
type ReloadResult struct {
	// At is when it ran; By who asked: "file" (a watched file changed), "signal"
	// (SIGHUP) or "api:<app>".
	At time.Time `json:"at"`
	By string    `json:"by"`
	// OK is false when the new files were refused (Errors says why) or could not be
	// applied; the config that was running keeps running.
	OK bool `json:"ok"`
	// Changed is false when the files hold the config already running.
	Changed bool `json:"changed"`
	// Version is the version running after the reload.
	Version string `json:"version"`
	// Errors are the problems found, each "file:line: message".
	Errors []string `json:"errors,omitempty"`
	// Applied names what changed and was applied: "trunks", "pools", "bindings", …
	Applied []string `json:"applied,omitempty"`
	// NeedsRestart names settings that changed but take effect only after a restart
	// ("listen.sip_udp", "storage.sqlite.path", …); they keep their running values.
	NeedsRestart []string `json:"needs_restart,omitempty"`
}

// errNotAdmin answers an app that does not act for every tenant.
func errNotAdmin(app string) error {
	return &requestError{status: http.StatusForbidden, code: "admin_only",
		msg: "app " + strconv.Quote(app) + ` may not administer callgate: only apps with tenants: ["*"] may`}
}

// routeAdmin registers the admin endpoints when a ConfigAdmin is given.
func (h *Internal) routeAdmin(a ConfigAdmin) {
	if a == nil {
		return
	}
	h.mux.HandleFunc("/v1/admin/config", h.api(func(c *apiCall) error {
		if c.r.Method != http.MethodGet {
			return methodNotAllowed(c.r.Method, "GET")
		}
		if !c.app.all {
			return errNotAdmin(c.app.name)
		}
		if _, err := queryParams(c); err != nil {
			return err
		}
		writeAPIJSON(c.w, http.StatusOK, a.ConfigStatus())
		return nil
	}))
	h.mux.HandleFunc("/v1/admin/reload", h.api(func(c *apiCall) error {
		if c.r.Method != http.MethodPost {
			return methodNotAllowed(c.r.Method, "POST")
		}
		if !c.app.all {
			return errNotAdmin(c.app.name)
		}
		if _, err := queryParams(c); err != nil {
			return err
		}
		// A refused config is a result, not a failed request: 200 with ok false
		// and the errors.
		writeAPIJSON(c.w, http.StatusOK, a.Reload(c.ctx, "api:"+c.app.name))
		return nil
	}))
}
