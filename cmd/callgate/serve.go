package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"callgate/configs"
	"callgate/media"
	"callgate/pool"
	"callgate/routing"
	"callgate/signaling"
	"callgate/sip"
	"callgate/sip/demo"
	"callgate/web"
	"callgate/web/hooks"
)

// serveCmd loads the config and serves until ctx ends (SIGINT/SIGTERM), then shuts
// down gracefully: no new calls, calls drained or hung up, store closed.
func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, code, ok := parseFlags("serve", args, stderr)
	if !ok {
		return code
	}
	path := f.config
	var cfg *configs.Config
	var err error
	if path == "" {
		cfg, err = configs.Default()
	} else {
		cfg, err = configs.Load(path)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logs := newLogBuffer(stderr, 50*time.Millisecond)
	defer logs.Close()
	log := newLogger(cfg.Log, logs)
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "callgate serve: --cpuprofile:", err)
			return 1
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			fmt.Fprintln(stderr, "callgate serve: --cpuprofile:", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); out.Close() }()
	}
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("callgate stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c configs.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// staticBindings turns the config's bindings into store rows.
func staticBindings(cfg *configs.Config) []pool.Binding {
	out := make([]pool.Binding, 0, len(cfg.Bindings))
	for _, b := range cfg.Bindings {
		out = append(out, pool.Binding{Tenant: b.Tenant, Mode: pool.Mode(b.Mode), Virtual: b.Virtual, B: b.B,
			Trunk: b.Trunk, Static: true, Expiry: pool.ExpiryNever})
	}
	return out
}

// trunkGauges reads the trunks' live calls and registration state for the metrics.
func trunkGauges(edge *sip.Edge) []web.TrunkGauge {
	regs := map[string]bool{}
	for _, r := range edge.Registrations() {
		regs[r.Trunk] = r.State == sip.RegRegistered
	}
	var out []web.TrunkGauge
	for _, t := range edge.Trunks() {
		st := edge.Standing(t)
		g := web.TrunkGauge{Name: t.Name(), Active: t.Active(), State: string(st.State), Score: st.Score, ASR: st.ASR}
		if ok, registers := regs[t.Name()]; registers {
			g.Registered = &ok
		} else if t.RegistersToUs() {
			_, ok := edge.TrunkContact(t)
			g.Registered = &ok
		}
		out = append(out, g)
	}
	return out
}

// trunkBoard shows the trunks on the business API as failover sees them, and sets
// their manual control on the scoreboard.
type trunkBoard struct {
	edge   *sip.Edge
	scores *routing.Scoreboard
}

func (b trunkBoard) TrunkViews() []web.TrunkView {
	var out []web.TrunkView
	for _, t := range b.edge.Trunks() {
		st := b.edge.Standing(t)
		v := web.TrunkView{Name: t.Name(), Supplier: t.Config().Supplier, State: string(st.State), Why: st.Why, Since: st.Since,
			Score: st.Score, ASR: st.ASR, Seizures: st.Seizures, Answers: st.Answers, PDDMillis: st.PDD.Milliseconds(),
			Weight: st.Weight, Drained: st.Drained, Disabled: st.Disabled, Active: st.Active,
			Probe: web.ProbeView{State: string(st.Probe.State), LastCode: st.Probe.LastCode, LastError: st.Probe.LastError,
				RTTMillis: st.Probe.RTT.Milliseconds()}}
		if at := st.Probe.LastAt; !at.IsZero() {
			v.Probe.LastAt = &at
		}
		out = append(out, v)
	}
	return out
}

func (b trunkBoard) SetTrunkControl(name string, c routing.TrunkControl) bool {
	return b.scores.SetControl(name, c)
}

// adminPage serves the admin page beside the business API when the config has admin
// users (web/admin.go); d holds what does not come from the config.
func adminPage(cfg *configs.Config, api *web.Internal, d web.AdminDeps) (http.Handler, error) {
	if len(cfg.Admin.Users) == 0 {
		return api, nil
	}
	d.Users, d.SessionTTL, d.API = cfg.Admin.Users, cfg.Admin.SessionTTL.Std(), api
	for _, t := range cfg.Tenants {
		d.Tenants = append(d.Tenants, t.Name)
	}
	admin, err := web.NewAdmin(d)
	if err != nil {
		return nil, fmt.Errorf("admin page: %w", err)
	}
	return admin.Mount(api), nil
}

// liveCalls shows the SIP edge's calls in progress on the admin page.
type liveCalls struct{ edge *sip.Edge }

func (l liveCalls) LiveCalls() []web.LiveCallView {
	var out []web.LiveCallView
	for _, c := range l.edge.ActiveCallsSnapshot() {
		v := web.LiveCallView{ID: c.ID, Tenant: c.Tenant, Direction: c.Direction, Agent: c.Agent, Caller: c.Caller,
			Callee: c.Callee, InTrunk: c.InTrunk, OutTrunk: c.OutTrunk, State: c.State, SetupAt: c.SetupAt, Recording: c.Recording}
		if !c.AnswerAt.IsZero() {
			v.AnswerAt = &c.AnswerAt
		}
		out = append(out, v)
	}
	return out
}

func (l liveCalls) Hangup(id string) bool { return l.edge.HangupCall(id) }

func agentAccounts(cfg *configs.Config) []signaling.AgentAccount {
	out := make([]signaling.AgentAccount, 0, len(cfg.Agents))
	for _, a := range cfg.Agents {
		out = append(out, signaling.AgentAccount{Tenant: a.Tenant, Name: a.Name, PasswordHash: a.PasswordHash, Token: a.Token})
	}
	return out
}

// lockoutFrom is the agents' login lockout of the config.
func lockoutFrom(cfg *configs.Config) signaling.LockoutSettings {
	l := cfg.AgentsLockout
	return signaling.LockoutSettings{Failures: l.Failures, IPFailures: l.IPFailures, Window: l.Window.Std(), Lockout: l.Lockout.Std()}
}

// agentTokens configures the business API's agent tokens: issued for the configured
// tenants, kept in store, ending the sessions of agents whose tokens are revoked.
func agentTokens(cfg *configs.Config, store web.AgentTokenStore, agents *signaling.Server) web.AgentTokens {
	tenants := make([]string, 0, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		tenants = append(tenants, t.Name)
	}
	return web.AgentTokens{Store: store, Sessions: agents, Tenants: tenants,
		DefaultTTL: cfg.API.AgentTokens.DefaultTTL.Std(), MaxTTL: cfg.API.AgentTokens.MaxTTL.Std()}
}

func tenantSeats(cfg *configs.Config) map[string]int {
	out := make(map[string]int, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		out[t.Name] = t.Seats
	}
	return out
}

// loopbackOnly reports whether media is bound to loopback (the demo, tests): browser
// legs then need loopback ICE candidates.
func loopbackOnly(cfg *configs.Config) bool {
	a, err := netip.ParseAddr(cfg.Media.BindAddress)
	return err == nil && a.IsLoopback()
}

// relayProcs gives each RTP relay worker a Go processor (P) of its own on top of
// GOMAXPROCS, unless media.relay_shared_procs or the relay is off: a worker leaves
// its P while it waits in epoll_wait and needs one back to relay what woke it; with
// spare Ps it never waits for a goroutine to yield (the kernel schedules the threads,
// and preempts in favour of the one just woken). It fixes the worker count first, as
// relay_workers 0 means the GOMAXPROCS before the raise, and returns the GOMAXPROCS
// to restore.
func relayProcs(cfg *configs.Config, set *sip.Settings) (prev int, raised bool) {
	if cfg.Media.RelayWorkers < 0 || cfg.Media.RelaySharedProcs {
		return 0, false
	}
	procs := runtime.GOMAXPROCS(0)
	if set.RelayWorkers == 0 {
		set.RelayWorkers = procs
	}
	return runtime.GOMAXPROCS(procs + set.RelayWorkers), true
}

// iceHostIPs are the addresses browser legs gather ICE host candidates on: the
// media bind address when it is one specific IP that an interface holds (a
// candidate per interface address costs every leg a socket, a goroutine and its
// connectivity checks); nil, every address, when it is a wildcard, when ice_mux
// decides, or when no interface holds it (127.0.0.21 binds, through lo's
// 127.0.0.0/8, but ICE gathers only the addresses interfaces list).
func iceHostIPs(cfg *configs.Config, held func() ([]net.Addr, error)) []netip.Addr {
	a, err := netip.ParseAddr(cfg.Media.BindAddress)
	if err != nil || a.IsUnspecified() || cfg.Media.ICEMux != "" {
		return nil
	}
	addrs, err := held()
	if err != nil {
		return nil
	}
	for _, h := range addrs {
		if p, err := netip.ParsePrefix(h.String()); err == nil && p.Addr().Unmap() == a.Unmap() {
			return []netip.Addr{a}
		}
	}
	return nil
}

// openRecordings closes, at start, the recordings a stopped process left open;
// *pool.SQLiteStore does (the PostgreSQL store keeps no recordings yet).
type openRecordings interface {
	CloseOpenRecordings(ctx context.Context) ([]pool.Recording, error)
}

var _ openRecordings = (*pool.SQLiteStore)(nil)

// qualityObserver is the edge's observer of calls: the observers of finished calls
// and calls in progress, and the metrics, which also count the legs' RTP quality.
type qualityObserver struct {
	hooks.Observers
	metrics *web.Metrics
}

var _ sip.CallQualityObserver = qualityObserver{}

// CallQuality counts the legs' loss and jitter.
func (o qualityObserver) CallQuality(_ pool.Call, legs []sip.LegQuality) {
	for _, l := range legs {
		o.metrics.LegQuality(l.Leg, l.Stats.PacketsIn, l.Stats.PacketsLost, l.Stats.Jitter)
	}
}

// serve wires the parts together and runs them until ctx ends.
func serve(ctx context.Context, cfg *configs.Config, log *slog.Logger, stdout io.Writer) error {
	// Process-wide in sipgo, so set before any SIP user agent (the demo carrier's
	// too) starts, and only when configured.
	if l := cfg.SIP.TransactionLinger.Std(); l > 0 {
		sip.SetTransactionLinger(l)
	}
	store, err := openStore(ctx, cfg, log) // store.go: SQLite or PostgreSQL
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()
	// Calls a killed or crashed process left open are ended now, as of its last
	// journal write; this process's records then go through the journal, off the
	// call-setup path.
	if open, err := store.CloseOpenCalls(ctx); err != nil {
		return fmt.Errorf("close interrupted calls: %w", err)
	} else if len(open) > 0 {
		log.Warn("ended the records of calls a stopped process left open", "calls", len(open))
	}
	// So are the recordings it was writing: their files stop where the process did.
	if rs, ok := store.(openRecordings); ok {
		if open, err := rs.CloseOpenRecordings(ctx); err != nil {
			return fmt.Errorf("close interrupted recordings: %w", err)
		} else if len(open) > 0 {
			log.Warn("marked failed the recordings a stopped process left open", "recordings", len(open))
		}
	}
	records := pool.NewJournal(store, pool.JournalOptions{Log: log.With("component", "records")})
	defer records.Close() // after the edge drained, before the store closes
	if err := store.SyncStaticBindings(ctx, staticBindings(cfg)); err != nil {
		return fmt.Errorf("load bindings: %w", err)
	}
	if err := store.SyncVirtualNumbers(ctx, pool.VirtualNumbersFrom(cfg)); err != nil {
		return fmt.Errorf("load virtual numbers: %w", err)
	}
	if _, err := pool.PolicyFrom(cfg); err != nil { // checked early; used by the business API
		return fmt.Errorf("binding policy: %w", err)
	}
	// Event callbacks to tenants' business systems (docs/api.md): fed by the business
	// API, the binding GC and finished calls, never waited for by any of them.
	events, err := hooks.New(hooks.TargetsFrom(cfg), hooks.WithLogger(log.With("component", "events")))
	if err != nil {
		return fmt.Errorf("event callbacks: %w", err)
	}
	defer events.Close() // after the edge drained and the GC stopped: delivers what is queued
	if cfg.Masking.GCInterval > 0 {
		gc, err := pool.NewCollector(store, cfg.Masking.GCInterval.Std(), pool.WithCollectorLogger(log.With("component", "binding-gc")),
			pool.WithOnPass(events.Reclaimed))
		if err != nil {
			return err
		}
		gc.Start(ctx)
		defer gc.Stop()
	}
	if cfg.Demo.Carrier != "" {
		carrier := &demo.Carrier{RingFor: time.Second, Tone: time.Second, Log: log.With("component", "demo-carrier")}
		if err := carrier.Start(cfg.Demo.Carrier); err != nil {
			return err
		}
		defer carrier.Close()
		log.Info("demo carrier answering and echoing", "addr", carrier.Addr())
	}

	ports, err := media.NewPorts(cfg.Media.PortMin, cfg.Media.PortMax, 2*time.Second)
	if err != nil {
		return fmt.Errorf("media ports: %w", err)
	}
	set, err := sip.SettingsFrom(cfg)
	if err != nil {
		return err
	}
	if prev, ok := relayProcs(cfg, &set); ok {
		defer runtime.GOMAXPROCS(prev)
	}
	var edge *sip.Edge
	var agents *signaling.Server
	var callers *routing.ReloadingOutbound
	seats := signaling.NewSeats(tenantSeats(cfg))
	metrics := web.NewMetrics(web.MetricsSources{
		ActiveCalls: func() int { return edge.ActiveCalls() },
		Trunks:      func() []web.TrunkGauge { return trunkGauges(edge) },
		Ports:       func() (int, int) { return ports.InUse(), ports.Cap() },
		Sessions:    func() int { return agents.Sessions() },
		Seats: func() []web.SeatGauge {
			var out []web.SeatGauge
			for _, s := range seats.Snapshot() {
				out = append(out, web.SeatGauge{Tenant: s.Tenant, Used: s.Used, Total: s.Total})
			}
			return out
		},
		LeasesHeld: func() int { return callers.LeasesHeld() },
	})
	if err := metrics.Register(events); err != nil {
		return err
	}
	callers, err = routing.NewReloadingOutbound(ctx, cfg, store,
		append(callerOptions(store), routing.WithLogger(log.With("component", "callers")))...) // store.go
	if err != nil {
		return fmt.Errorf("caller numbers: %w", err)
	}
	defer callers.Close() // after the edge drained, before the store closes
	inbound := routing.NewInbound(store, nil, routing.WithNoBinding(routing.NoBinding{
		Action: routing.NoBindingAction(cfg.Masking.NoBinding.Treatment), Status: cfg.SIP.NoRouteStatus,
		Announcement: cfg.Masking.NoBinding.Announcement}))
	// Customers calling back a number an agent used reach the agent's page. The pages
	// are the agents' websocket server, built below: the edge starts after it.
	callbacks := routing.NewCallbacks(store, routing.PresenceFunc(func(tenant, agent string) bool {
		return agents.Online(tenant, agent)
	}), routing.CallbackPoliciesFrom(cfg), nil)
	pages := sip.AgentPagesFunc(func(ctx context.Context, o sip.IncomingOffer) (sip.AgentAnswer, error) {
		return agents.OfferCall(ctx, o)
	})
	// Trunk scores order failover candidates; they fade as time passes (sip.scoring).
	scores := routing.ScoreboardFromConfig(cfg, nil)
	scoring, stopScoring := context.WithCancel(ctx)
	defer stopScoring()
	go scores.Run(scoring, cfg.SIP.Scoring.Every.Std())
	// Pool scores order a binding's pools (routing/pool_score.go); counts are read
	// off the binding path.
	pools := routing.NewPoolBoard(scores, nil, 0)
	pools.SetPools(routing.PoolDefsFrom(cfg))
	poolCounts, _ := any(store).(routing.PoolCounter) // SQLite; without it pools are not counted
	if poolCounts != nil {
		go pools.Run(scoring, poolCounts, cfg.SIP.Scoring.Every.Std(), func(err error) { log.Warn("pool scores", "err", err) })
	}
	if err := metrics.Register(web.NewPoolCollector(pools)); err != nil {
		return err
	}
	edge, err = sip.New(set, cfg.Trunks, inbound, records, ports, sip.WithLogger(log),
		sip.WithOutboundRouter(callers), sip.WithObserver(qualityObserver{hooks.Observers{metrics, events}, metrics}), sip.WithCallbacks(callbacks, pages),
		sip.WithTrunkScorer(scores), sip.WithFailoverPools(cfg.Pools), sip.WithRecording(store, sip.RecordingsFrom(cfg)))
	if err != nil {
		return err
	}

	rtc, err := media.NewWebRTC(media.WebRTCConfig{
		PortMin: cfg.Media.ICEPortMin, PortMax: cfg.Media.ICEPortMax, MuxAddr: cfg.Media.ICEMux,
		NAT1To1: cfg.Media.ICEPublicIPs, Loopback: loopbackOnly(cfg), HostIPs: iceHostIPs(cfg, net.InterfaceAddrs),
		Logger: log.With("component", "webrtc"),
	})
	if err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	defer rtc.Close()
	newDirectory := func(cfg *configs.Config) *signaling.Directory {
		return signaling.NewDirectory(agentAccounts(cfg), signaling.WithIssuedTokens(store), signaling.WithLockout(lockoutFrom(cfg)))
	}
	agentDir := newAgentDirectory(newDirectory(cfg))
	agents = signaling.NewServer(signaling.Config{AllowedOrigins: cfg.Web.AllowedOrigins}, signaling.Deps{
		Auth:  agentDir, // swapped on reload (reload.go)
		Seats: seats,
		Media: func(ctx context.Context, offer string) (signaling.BrowserLeg, string, error) {
			leg, answer, err := rtc.NewBrowserLeg(ctx, offer)
			if err != nil {
				return nil, "", err // a nil interface, not a typed nil *BrowserLeg
			}
			return leg, answer, nil
		},
		Dialer:  edge,
		Records: store,
		Log:     log.With("component", "signaling"),
	})
	defer agents.Close()
	if err := edge.Start(ctx); err != nil {
		return err
	}
	defer edge.Close()

	// The business API is rebuilt for every config a reload applies (reload.go).
	reload := newReloader(cfg, log)
	adminSessions := web.NewAdminSessions() // admins stay logged in across reloads
	newInternal := func(cfg *configs.Config) (http.Handler, error) {
		policy, err := pool.PolicyFrom(cfg)
		if err != nil {
			return nil, fmt.Errorf("binding policy: %w", err)
		}
		pools.SetPools(routing.PoolDefsFrom(cfg))
		api, err := web.NewInternal(web.InternalDeps{Bindings: events.Bindings(store), Nonces: store, Policy: policy, Pools: pools,
			Apps: web.APIAppsFrom(cfg), Log: log.With("component", "api"), Tokens: agentTokens(cfg, store, agents),
			Outbound: web.OutboundAPI{DoNotCall: callers, Lists: store, Explainer: callers, Records: store, Costs: store},
			Trunks:   trunkBoard{edge: edge, scores: scores}, Admin: reload, Recordings: store})
		if err != nil {
			return nil, err
		}
		return adminPage(cfg, api, web.AdminDeps{Trunks: trunkBoard{edge: edge, scores: scores}, Calls: liveCalls{edge},
			Records: store, Config: reload, Sessions: adminSessions, Log: log.With("component", "admin")})
	}
	api, err := newInternal(cfg)
	if err != nil {
		return fmt.Errorf("business API: %w", err)
	}
	internal := newSwapHandler(api)
	reload.parts = reloadParts{trunks: edge, scores: scores, store: store, callers: callers, seats: seats,
		recording: edge, agents: agentDir, newDirectory: newDirectory, internal: internal, newInternal: newInternal}
	stopReload := reload.start(ctx) // config file watch and SIGHUP
	defer stopReload()
	stopPruner, err := startRecordPruner(ctx, cfg, store, metrics, log)
	if err != nil {
		return err
	}
	defer stopPruner()
	supplierAPI, err := supplierEndpoint(cfg, store, pools, poolCounts, callers, log)
	if err != nil {
		return err
	}
	public := web.NewPublic(map[string]web.Check{
		"sip": func(context.Context) error {
			if edge.Draining() {
				return errors.New("shutting down")
			}
			return nil
		},
		"store": store.Ping,
	}, web.WithWebsocket(agents), web.WithMetrics(metrics.Handler()), web.WithAssets(web.Assets()), supplierAPI)
	var servers []*http.Server
	errc := make(chan error, 2)
	for _, l := range []struct {
		name, addr string
		h          http.Handler
		tls        *configs.TLSFiles
	}{
		{"public", cfg.Listen.PublicHTTP, public, cfg.Web.Public.TLS},
		{"internal", cfg.Listen.InternalHTTP, internal, cfg.Web.Internal.TLS},
	} {
		if l.addr == "" {
			continue
		}
		scheme, tlsConf := "http", (*tls.Config)(nil)
		if l.tls != nil {
			scheme = "https"
			if tlsConf, err = listenerTLS(l.tls); err != nil {
				return fmt.Errorf("%s HTTP listener: %w", l.name, err)
			}
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("%s HTTP listener: %w", l.name, err)
		}
		srv := newHTTPServer(l.h, tlsConf, log.With("component", l.name+"-http"))
		servers = append(servers, srv)
		go func() {
			var err error
			if tlsConf != nil {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s HTTP: %w", l.name, err)
			}
		}()
		if l.name == "public" {
			fmt.Fprintf(stdout, "callgate %s serving: page at %s://%s/  SIP on udp %s tcp %s\n",
				version, scheme, ln.Addr(), edge.Addr("udp"), edge.Addr("tcp"))
		} else {
			fmt.Fprintf(stdout, "callgate business API at %s://%s/v1/\n", scheme, ln.Addr())
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: no new calls, draining calls in progress")
	case runErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.SIP.ShutdownGrace.Std()+10*time.Second)
	defer cancel()
	agents.Close() // agents' calls end with their sessions
	if err := edge.Shutdown(shutCtx); err != nil {
		log.Warn("SIP shutdown", "err", err)
	}
	for _, srv := range servers {
		_ = srv.Shutdown(shutCtx)
	}
	log.Info("stopped")
	return runErr
}

// supplierEndpoint serves the supplier endpoint on the public listener when the config
// has suppliers and the store takes their reports (web/supplier.go); a report that
// changes a number refreshes the pool scores at once.
// callerReports takes suppliers' reports on caller numbers into the caller-number
// router's memory (routing.Outbound.SupplierReport).
type callerReports interface {
	SupplierReport(number string, untilMS int64, reason string) bool
}

func supplierEndpoint(cfg *configs.Config, store any, pools *routing.PoolBoard, counts routing.PoolCounter,
	callers callerReports, log *slog.Logger) (web.PublicOption, error) {
	numbers, ok := store.(web.NumberReporter)
	nonces, ok2 := store.(web.NonceStore)
	if len(cfg.Suppliers) == 0 || !ok || !ok2 {
		if len(cfg.Suppliers) > 0 {
			log.Warn("suppliers are configured but the store takes no number reports: the supplier endpoint is off")
		}
		return func(*web.Public) {}, nil
	}
	api, err := web.NewSupplierAPI(web.SupplierDeps{Numbers: numbers, Nonces: nonces, Suppliers: web.SupplierAppsFrom(cfg),
		Log: log.With("component", "supplier-api"),
		Changed: func(ctx context.Context, ch pool.NumberStateChange) {
			if ch.Caller { // one of the tenants' caller numbers: rest it (or not) at once
				var until int64
				if ch.RestReason != "" {
					until = pool.SupplierRestUntil
				}
				callers.SupplierReport(ch.Number, until, ch.RestReason)
				return
			}
			if counts == nil {
				return
			}
			if err := pools.Refresh(ctx, counts); err != nil {
				log.Warn("pool scores after a supplier report", "err", err)
			}
		}})
	if err != nil {
		return nil, fmt.Errorf("supplier endpoint: %w", err)
	}
	return web.WithSuppliers(api), nil
}
