package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"callgate/configs"
	"callgate/pool"
	"callgate/routing"
	"callgate/signaling"
	"callgate/sip"
	"callgate/web"

	"github.com/fsnotify/fsnotify"
)

// This file is hot reload: the serve command's reloader loads the config files
// again when one of them changes (fsnotify on their folders, debounced), on SIGHUP,
// and on POST /v1/admin/reload. A new config is loaded and validated whole; a bad
// one is refused with its file:line errors and the running config keeps serving. A
// good one is applied part by part: trunks (calls in progress keep the trunk they
// started with), failover pools and trunk scores, caller numbers and tenants'
// caller settings, static bindings and virtual numbers, binding rules and policy,
// agents and their passwords and tokens, seats, tenants' recording, and the API's
// apps. What cannot
// change while running (listeners, storage, media ports, …) is reported as needing
// a restart and keeps its running value.

// reloadDebounce is how long the watcher waits after the last change to a config
// file before reloading: editors save in several steps (write, rename, chmod).
const reloadDebounce = 300 * time.Millisecond

// The parts a reload changes; each is a small interface, met by the running parts.
type (
	trunkTable interface {
		SetTrunks(cfgs []configs.Trunk) error
		SetFailoverPools(pools []configs.Pool)
	}
	trunkScores interface {
		SetTrunksFromConfig(trunks []configs.Trunk)
	}
	configStore interface {
		SyncStaticBindings(ctx context.Context, bs []pool.Binding) error
		SyncVirtualNumbers(ctx context.Context, ns []pool.VirtualNumber) error
		SetBindingRules(r pool.BindingRules)
	}
	callerRouter interface {
		Reload(ctx context.Context, cfg *configs.Config) (bool, error)
	}
	seatTable interface {
		SetTotals(total map[string]int)
	}
	recordingPolicy interface {
		SetRecording(tenants map[string]sip.TenantRecording)
	}
)

var (
	_ callerRouter    = (*routing.ReloadingOutbound)(nil)
	_ seatTable       = (*signaling.Seats)(nil)
	_ recordingPolicy = (*sip.Edge)(nil)
	_ configStore     = (*pool.SQLiteStore)(nil)
)

// reloadParts are the running parts a reload changes. A nil part is left alone.
type reloadParts struct {
	trunks  trunkTable
	scores  trunkScores
	store   configStore
	callers callerRouter
	seats   seatTable
	// recording is the tenants' recording settings; calls in progress keep theirs.
	recording recordingPolicy
	// agents is the directory agents log in against, swapped whole.
	agents *agentDirectory
	// internal is the business API's handler, rebuilt for a new config (apps,
	// tenants, binding policy) and swapped whole.
	internal *swapHandler
	// newInternal builds the business API's handler for cfg.
	newInternal func(cfg *configs.Config) (http.Handler, error)
	// newDirectory builds the agents' directory for cfg.
	newDirectory func(cfg *configs.Config) *signaling.Directory
}

// reloader holds the running config and reloads it.
type reloader struct {
	path  string // "" for the built-in config: nothing to reload
	log   *slog.Logger
	now   func() time.Time
	parts reloadParts

	mu       sync.Mutex // one reload at a time; guards the fields below
	cur      *configs.Config
	version  string
	loadedAt time.Time
	last     *web.ReloadResult
}

var _ web.ConfigAdmin = (*reloader)(nil)

// newReloader returns the reloader of cfg, loaded from its first file (none for the
// built-in config). Set its parts before the first reload.
func newReloader(cfg *configs.Config, log *slog.Logger) *reloader {
	path := ""
	if len(cfg.Files) > 0 && cfg.Files[0] != configs.BuiltinName {
		path = cfg.Files[0]
	}
	return &reloader{path: path, log: log.With("component", "reload"), now: time.Now,
		cur: cfg, version: configVersion(cfg), loadedAt: time.Now()}
}

// ConfigStatus describes the running config (GET /v1/admin/config).
func (r *reloader) ConfigStatus() web.ConfigStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := web.ConfigStatus{Version: r.version, Files: slices.Clone(r.cur.Files), LoadedAt: r.loadedAt.UTC()}
	if r.last != nil {
		last := *r.last
		st.LastReload = &last
	}
	return st
}

// Reload loads the config files again and applies them if they are valid; by says
// who asked: "file", "signal" or "api:<app>".
func (r *reloader) Reload(ctx context.Context, by string) web.ReloadResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.reloadLocked(ctx, by)
	r.last = &res
	switch {
	case !res.OK:
		r.log.Error("config reload refused: the running config keeps serving", "by", by, "version", res.Version,
			"problems", len(res.Errors))
		for _, e := range res.Errors {
			r.log.Error(e)
		}
	case !res.Changed:
		r.log.Info("config reloaded: nothing changed", "by", by, "version", res.Version)
	default:
		r.log.Info("config reloaded", "by", by, "version", res.Version, "applied", res.Applied,
			"needs_restart", res.NeedsRestart)
	}
	for _, k := range res.NeedsRestart {
		r.log.Warn("config setting changed but takes effect only after a restart", "setting", k)
	}
	return res
}

// reloadLocked does one reload; r.mu is held.
func (r *reloader) reloadLocked(ctx context.Context, by string) web.ReloadResult {
	res := web.ReloadResult{At: r.now().UTC(), By: by, Version: r.version}
	if r.path == "" {
		res.Errors = []string{"callgate serves its built-in config: there is no file to reload (start it with --config FILE)"}
		return res
	}
	next, err := configs.Load(r.path)
	if err != nil {
		res.Errors = problemLines(err)
		return res
	}
	version := configVersion(next)
	if version == r.version {
		res.OK = true
		return res
	}
	res.NeedsRestart = needsRestart(r.cur, next)
	applied, err := r.apply(ctx, r.cur, next)
	res.Applied = applied
	if err != nil {
		res.Errors = []string{fmt.Sprintf("applying the new config: %v (applied before the failure: %v; reload again to retry)", err, applied)}
		return res
	}
	res.OK, res.Changed, res.Version = true, true, version
	r.cur, r.version, r.loadedAt = next, version, r.now()
	return res
}

// apply changes the running parts from old's settings to next's and returns the
// names of what it changed. Every value was validated by the load; what can still
// fail here (the store, the caller router's rebuild) leaves the parts before it
// applied, and says so.
func (r *reloader) apply(ctx context.Context, old, next *configs.Config) ([]string, error) {
	p := r.parts
	var applied []string
	changed := func(a, b any) bool { return !reflect.DeepEqual(a, b) }
	trunksChanged := changed(withoutPos(old.Trunks), withoutPos(next.Trunks))
	poolsChanged := changed(withoutPos(old.Pools), withoutPos(next.Pools))
	// Trunks first: a caller number of the new config may name a new trunk. A call
	// routed by the old config to a trunk just removed fails as "unknown trunk".
	if p.trunks != nil && trunksChanged {
		if err := p.trunks.SetTrunks(next.Trunks); err != nil {
			return applied, fmt.Errorf("trunks: %w", err)
		}
		applied = append(applied, "trunks")
	}
	if p.scores != nil && trunksChanged {
		p.scores.SetTrunksFromConfig(next.Trunks)
	}
	if p.trunks != nil && poolsChanged {
		p.trunks.SetFailoverPools(next.Pools)
		applied = append(applied, "pools")
	}
	if p.callers != nil {
		ok, err := p.callers.Reload(ctx, next)
		if err != nil {
			return applied, fmt.Errorf("caller numbers: %w", err)
		}
		if ok {
			applied = append(applied, "caller numbers")
		}
	}
	if p.store != nil {
		if changed(withoutPos(old.Bindings), withoutPos(next.Bindings)) {
			if err := p.store.SyncStaticBindings(ctx, staticBindings(next)); err != nil {
				return applied, fmt.Errorf("static bindings: %w", err)
			}
			applied = append(applied, "bindings")
		}
		if poolsChanged || changed(old.Masking, next.Masking) {
			if err := p.store.SyncVirtualNumbers(ctx, pool.VirtualNumbersFrom(next)); err != nil {
				return applied, fmt.Errorf("virtual numbers: %w", err)
			}
			p.store.SetBindingRules(pool.BindingRulesFrom(next))
			applied = append(applied, "virtual numbers")
		}
	}
	if p.internal != nil && p.newInternal != nil {
		h, err := p.newInternal(next)
		if err != nil {
			return applied, fmt.Errorf("business API: %w", err)
		}
		p.internal.set(h)
		if changed(old.API.Apps, next.API.Apps) {
			applied = append(applied, "api apps")
		}
	}
	if p.seats != nil && changed(tenantSeats(old), tenantSeats(next)) {
		p.seats.SetTotals(tenantSeats(next))
		applied = append(applied, "seats")
	}
	if p.recording != nil && changed(sip.RecordingsFrom(old), sip.RecordingsFrom(next)) {
		p.recording.SetRecording(sip.RecordingsFrom(next))
		applied = append(applied, "recording")
	}
	if p.agents != nil && p.newDirectory != nil && (changed(withoutPos(old.Agents), withoutPos(next.Agents)) ||
		changed(old.AgentsLockout, next.AgentsLockout)) {
		p.agents.set(p.newDirectory(next))
		applied = append(applied, "agents")
	}
	return applied, nil
}

// withoutPos copies items with their positions cleared: an item that only moved
// in its file has not changed.
func withoutPos[T any](items []T) []T {
	out := slices.Clone(items)
	for i := range out {
		v := reflect.ValueOf(&out[i]).Elem()
		if f := v.FieldByName("Pos"); f.IsValid() && f.CanSet() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return out
}

// needsRestart names the settings that differ between old and next but are read
// only at start; they keep their running values.
func needsRestart(old, next *configs.Config) []string {
	var out []string
	for _, s := range []struct {
		name string
		a, b any
	}{
		{"listen", old.Listen, next.Listen},
		{"sip", old.SIP, next.SIP},
		{"media", old.Media, next.Media},
		{"storage", old.Storage, next.Storage},
		{"log", old.Log, next.Log},
		{"web", old.Web, next.Web},
		{"demo", old.Demo, next.Demo},
		{"records", old.Records, next.Records},
		{"api.agent_tokens", old.API.AgentTokens, next.API.AgentTokens},
		{"masking.gc_interval", old.Masking.GCInterval, next.Masking.GCInterval},
		{"masking.no_binding", old.Masking.NoBinding, next.Masking.NoBinding},
		{"tenants[].events", tenantEvents(old), tenantEvents(next)},
		{"tenants[].callbacks", tenantCallbacks(old), tenantCallbacks(next)},
	} {
		if !reflect.DeepEqual(s.a, s.b) {
			out = append(out, s.name)
		}
	}
	return out
}

func tenantEvents(cfg *configs.Config) map[string]any {
	out := map[string]any{}
	for _, t := range cfg.Tenants {
		if t.Events != nil {
			out[t.Name] = *t.Events
		}
	}
	return out
}

func tenantCallbacks(cfg *configs.Config) map[string]configs.Callbacks {
	out := map[string]configs.Callbacks{}
	for _, t := range cfg.Tenants {
		out[t.Name] = t.Callbacks
	}
	return out
}

// problemLines is a load error as "file:line: message" lines.
func problemLines(err error) []string {
	var list configs.ErrorList
	if errors.As(err, &list) {
		out := make([]string, 0, len(list))
		for _, e := range list {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

// configVersion is the hex SHA-256 of cfg's files, names and contents, in order;
// for the built-in config, of its name.
func configVersion(cfg *configs.Config) string {
	h := sha256.New()
	for _, f := range cfg.Files {
		h.Write([]byte(f))
		h.Write([]byte{0})
		if f != configs.BuiltinName {
			b, err := os.ReadFile(f)
			if err != nil {
				b = []byte("unreadable: " + err.Error())
			}
			h.Write(b)
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// watch reloads when a config file changes or when hup delivers (SIGHUP), until ctx
// ends. It watches the folders of the config's files and of its trunk_files
// patterns, so that editors that save by renaming, and new trunk files, are seen.
func (r *reloader) watch(ctx context.Context, hup <-chan os.Signal) error {
	if r.path == "" {
		// The built-in config has no file; SIGHUP still answers, with an error.
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				r.Reload(ctx, "signal")
			}
		}
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config files: %w", err)
	}
	defer w.Close()
	watched := map[string]bool{}
	rewatch := func() {
		for _, d := range r.watchDirs() {
			if watched[d] {
				continue
			}
			if err := w.Add(d); err != nil {
				r.log.Warn("cannot watch a config folder: edits there need SIGHUP or the API to reload", "dir", d, "err", err)
				continue
			}
			watched[d] = true
		}
	}
	rewatch()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			r.Reload(ctx, "signal")
			rewatch()
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod || !r.isConfigFile(ev.Name) {
				continue
			}
			timer.Reset(reloadDebounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Warn("watching config files", "err", err)
		case <-timer.C:
			r.Reload(ctx, "file")
			rewatch()
		}
	}
}

// watchDirs are the folders holding the config's files and its trunk_files
// patterns.
func (r *reloader) watchDirs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	add := func(d string) {
		if abs, err := filepath.Abs(d); err == nil && !slices.Contains(out, abs) {
			out = append(out, abs)
		}
	}
	add(filepath.Dir(r.path))
	for _, f := range r.cur.Files {
		add(filepath.Dir(f))
	}
	for _, p := range r.trunkPatterns() {
		if d := filepath.Dir(p); !hasMeta(d) {
			add(d)
		}
	}
	return out
}

// isConfigFile reports whether name is one of the running config's files or
// matches one of its trunk_files patterns.
func (r *reloader) isConfigFile(name string) bool {
	abs, err := filepath.Abs(name)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if main, err := filepath.Abs(r.path); err == nil && main == abs {
		return true
	}
	for _, f := range r.cur.Files {
		if fa, err := filepath.Abs(f); err == nil && fa == abs {
			return true
		}
	}
	for _, p := range r.trunkPatterns() {
		if ok, _ := filepath.Match(p, abs); ok {
			return true
		}
	}
	return false
}

// trunkPatterns are the running config's trunk_files patterns as absolute paths;
// r.mu is held.
func (r *reloader) trunkPatterns() []string {
	var out []string
	for _, p := range r.cur.TrunkFiles {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(r.path), p)
		}
		if abs, err := filepath.Abs(p); err == nil {
			out = append(out, abs)
		}
	}
	return out
}

// hasMeta reports whether path holds glob characters.
func hasMeta(path string) bool {
	for _, c := range path {
		switch c {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}

// swapHandler serves through a handler that a reload replaces whole.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func newSwapHandler(h http.Handler) *swapHandler {
	s := &swapHandler{}
	s.set(h)
	return s
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	(*s.h.Load()).ServeHTTP(w, req)
}

// agentDirectory is the agents' directory of the running config, swapped whole on
// reload; sessions already logged in stay logged in.
type agentDirectory struct {
	d atomic.Pointer[signaling.Directory]
}

var (
	_ signaling.Authenticator = (*agentDirectory)(nil)
	_ signaling.TokenRevoker  = (*agentDirectory)(nil)
)

func newAgentDirectory(d *signaling.Directory) *agentDirectory {
	a := &agentDirectory{}
	a.set(d)
	return a
}

func (a *agentDirectory) set(d *signaling.Directory) { a.d.Store(d) }

// Authenticate checks credentials against the running config's agents.
func (a *agentDirectory) Authenticate(ctx context.Context, c signaling.Credentials) (signaling.Agent, error) {
	return a.d.Load().Authenticate(ctx, c)
}

// RevokeToken revokes an issued token (see signaling.Directory.RevokeToken).
func (a *agentDirectory) RevokeToken(ctx context.Context, id string) error {
	return a.d.Load().RevokeToken(ctx, id)
}

// start watches the config files and SIGHUP until ctx ends or stop is called; stop
// waits for a reload in progress.
func (r *reloader) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	hup, stopHup := notifyReload()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.watch(ctx, hup); err != nil {
			r.log.Warn("config files are not watched: reload with SIGHUP or POST /v1/admin/reload", "err", err)
			<-ctx.Done()
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			stopHup()
		})
	}
}

// startRecordPruner starts deleting call records older than records.retention,
// counted in the metrics; stop stops it.
func startRecordPruner(ctx context.Context, cfg *configs.Config, store pool.CallPruner, metrics *web.Metrics, log *slog.Logger) (stop func(), err error) {
	pruned, err := web.NewPrunedRecords(metrics)
	if err != nil {
		return nil, fmt.Errorf("records metrics: %w", err)
	}
	log = log.With("component", "records-pruner")
	p := pool.NewPruner(store, pool.PrunerSettings{Retention: cfg.Records.Retention.Std(), Every: cfg.Records.PruneEvery.Std(),
		Log: log, OnPass: func(r pool.PruneResult) {
			pruned.Add(r)
			removeRecordingFiles(r.RecordingFiles, log)
		}})
	p.Start(ctx)
	return p.Stop, nil
}

// removeRecordingFiles deletes the WAV files of pruned recordings. A file already
// gone is fine; other failures are logged, and the file stays for an admin.
func removeRecordingFiles(paths []string, log *slog.Logger) {
	removed := 0
	for _, p := range paths {
		err := os.Remove(p)
		switch {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			log.Warn("pruned recording's file not deleted", "path", p, "err", err)
		}
	}
	if removed > 0 {
		log.Info("deleted pruned recordings' files", "files", removed)
	}
}
