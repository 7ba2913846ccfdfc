package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
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
	log := newLogger(cfg.Log, stderr)
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
		g := web.TrunkGauge{Name: t.Name(), Active: t.Active()}
		if ok, registers := regs[t.Name()]; registers {
			g.Registered = &ok
		}
		out = append(out, g)
	}
	return out
}

func agentAccounts(cfg *configs.Config) []signaling.AgentAccount {
	out := make([]signaling.AgentAccount, 0, len(cfg.Agents))
	for _, a := range cfg.Agents {
		out = append(out, signaling.AgentAccount{Tenant: a.Tenant, Name: a.Name, PasswordHash: a.PasswordHash, Token: a.Token})
	}
	return out
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

// serve wires the parts together and runs them until ctx ends.
func serve(ctx context.Context, cfg *configs.Config, log *slog.Logger, stdout io.Writer) error {
	store, err := pool.OpenSQLite(ctx, cfg.Storage.SQLite.Path, pool.WithLogger(log),
		pool.WithBindingRules(pool.BindingRulesFrom(cfg)))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()
	if err := store.SyncStaticBindings(ctx, staticBindings(cfg)); err != nil {
		return fmt.Errorf("load bindings: %w", err)
	}
	if err := store.SyncVirtualNumbers(ctx, pool.VirtualNumbersFrom(cfg)); err != nil {
		return fmt.Errorf("load virtual numbers: %w", err)
	}
	policy, err := pool.PolicyFrom(cfg)
	if err != nil {
		return fmt.Errorf("binding policy: %w", err)
	}
	if cfg.Masking.GCInterval > 0 {
		gc, err := pool.NewCollector(store, cfg.Masking.GCInterval.Std(), pool.WithCollectorLogger(log.With("component", "binding-gc")))
		if err != nil {
			return err
		}
		gc.Start(ctx)
		defer gc.Stop()
	}
	internal, err := web.NewInternal(web.InternalDeps{Bindings: store, Nonces: store, Policy: policy,
		Apps: web.APIAppsFrom(cfg), Log: log.With("component", "api")})
	if err != nil {
		return fmt.Errorf("business API: %w", err)
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
	var edge *sip.Edge
	var agents *signaling.Server
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
	})
	callers, err := routing.NewOutboundFromConfig(ctx, cfg, store, routing.WithLogger(log.With("component", "callers")))
	if err != nil {
		return fmt.Errorf("caller numbers: %w", err)
	}
	defer callers.Close() // after the edge drained, before the store closes
	inbound := routing.NewInbound(store, nil, routing.WithNoBinding(routing.NoBinding{
		Action: routing.NoBindingAction(cfg.Masking.NoBinding.Treatment), Status: cfg.SIP.NoRouteStatus,
		Announcement: cfg.Masking.NoBinding.Announcement}))
	edge, err = sip.New(set, cfg.Trunks, inbound, store, ports, sip.WithLogger(log),
		sip.WithOutboundRouter(callers), sip.WithObserver(metrics))
	if err != nil {
		return err
	}
	if err := edge.Start(ctx); err != nil {
		return err
	}
	defer edge.Close()

	rtc, err := media.NewWebRTC(media.WebRTCConfig{
		PortMin: cfg.Media.ICEPortMin, PortMax: cfg.Media.ICEPortMax, MuxAddr: cfg.Media.ICEMux,
		NAT1To1: cfg.Media.ICEPublicIPs, Loopback: loopbackOnly(cfg), Logger: log.With("component", "webrtc"),
	})
	if err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	defer rtc.Close()
	agents = signaling.NewServer(signaling.Config{AllowedOrigins: cfg.Web.AllowedOrigins}, signaling.Deps{
		Auth:  signaling.NewDirectory(agentAccounts(cfg)),
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

	public := web.NewPublic(map[string]web.Check{
		"sip": func(context.Context) error {
			if edge.Draining() {
				return errors.New("shutting down")
			}
			return nil
		},
		"store": store.Ping,
	}, web.WithWebsocket(agents), web.WithMetrics(metrics.Handler()), web.WithAssets(web.Assets()))
	var servers []*http.Server
	errc := make(chan error, 2)
	for _, l := range []struct {
		name, addr string
		h          http.Handler
	}{
		{"public", cfg.Listen.PublicHTTP, public},
		{"internal", cfg.Listen.InternalHTTP, internal},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("%s HTTP listener: %w", l.name, err)
		}
		srv := &http.Server{Handler: l.h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s HTTP: %w", l.name, err)
			}
		}()
		if l.name == "public" {
			fmt.Fprintf(stdout, "callgate %s serving: page at http://%s/  SIP on udp %s tcp %s\n",
				version, ln.Addr(), edge.Addr("udp"), edge.Addr("tcp"))
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
