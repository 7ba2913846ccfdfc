package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"callgate/configs"
	"callgate/media"
	"callgate/pool"
	"callgate/routing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Router decides where an inbound call goes.
type Router interface {
	Route(ctx context.Context, c routing.InboundCall) (routing.Decision, error)
}

// Recorder keeps call records and binding call times.
type Recorder interface {
	// SaveCall stores a call record with its attempts, replacing an earlier
	// snapshot of the same call. It is called during setup and at the end of every
	// call, so it should queue rather than write: pool.Journal does.
	SaveCall(ctx context.Context, c pool.Call) error
	// TouchBinding records a call through a binding (first/last call times).
	TouchBinding(ctx context.Context, id int64, at time.Time) error
}

// Settings are the SIP side's knobs, taken from the config.
type Settings struct {
	UDPAddr         string // listen address, "" = off
	TCPAddr         string // listen address, "" = off
	PublicHost      string // host in Via/Contact; default: the UDP (or TCP) listen host
	UserAgent       string
	RingTimeout     time.Duration
	MaxCallDuration time.Duration // <= 0: no limit
	ShutdownGrace   time.Duration
	NoRouteStatus   int
	MediaBind       netip.Addr
	MediaPublic     netip.Addr
	RTPTimeout      time.Duration // <= 0: off
	RelayWorkers    int           // epoll RTP relay workers; 0: GOMAXPROCS; negative: off (goroutines)
	// Limits bound what the SIP listeners accept before parsing (guard.go).
	Limits Limits
}

// SettingsFrom takes the SIP side's settings out of a loaded config.
func SettingsFrom(c *configs.Config) (Settings, error) {
	bind, err := netip.ParseAddr(c.Media.BindAddress)
	if err != nil {
		return Settings{}, fmt.Errorf("media bind address: %w", err)
	}
	pub := bind
	if c.Media.PublicAddress != "" {
		if pub, err = netip.ParseAddr(c.Media.PublicAddress); err != nil {
			return Settings{}, fmt.Errorf("media public address: %w", err)
		}
	}
	return Settings{
		UDPAddr:         c.Listen.SIPUDP,
		TCPAddr:         c.Listen.SIPTCP,
		PublicHost:      c.SIP.PublicAddress,
		UserAgent:       c.SIP.UserAgent,
		RingTimeout:     c.SIP.RingTimeout.Std(),
		MaxCallDuration: c.SIP.MaxCallDuration.Std(),
		ShutdownGrace:   c.SIP.ShutdownGrace.Std(),
		NoRouteStatus:   c.SIP.NoRouteStatus,
		MediaBind:       bind,
		MediaPublic:     pub,
		RTPTimeout:      c.Media.RTPTimeout.Std(),
		RelayWorkers:    c.Media.RelayWorkers,
		Limits:          limitsFrom(c.SIP.Limits),
	}, nil
}

// Edge is callgate's SIP user agent: listeners, trunks, registrations and live calls.
type Edge struct {
	set       Settings
	log       *slog.Logger
	router    Router
	outRouter OutboundRouter
	callbacks CallbackRouter // nil: no callbacks to agents (callback.go)
	pages     AgentPages
	observer  CallObserver
	// recording says which calls are recorded (record.go).
	recording recordings
	prompts   sync.Map // announcement path → announcement
	recorder  Recorder
	ports     *media.Ports
	relay     *media.Relay // epoll RTP relay of the calls' SIP legs, set by Start; nil: goroutines
	now       func() time.Time

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	// One client and dialog UA per transport, so requests leave from the listener
	// the carrier knows and our Contact names the right transport.
	udp, tcp transportSide

	trunks atomic.Pointer[trunkSet]
	regs   *registrations
	guard  *guard // pre-parse flood and syntax filter, set by Start

	// registrar authenticates trunks that register to callgate (registrar.go).
	registrar *registrar

	// Failover and trunk health (failover.go, probe.go).
	scorer     TrunkScorer                         // nil: probes and limits alone steer calls
	alternates atomic.Pointer[map[string][]string] // trunk → trunks its calls fail over to
	probes     probeSet

	dialogs sync.Map       // Call-ID → dialogRef, both legs of every live call
	calls   sync.Map       // call id → *call
	live    atomic.Int64   // entries in calls
	wg      sync.WaitGroup // one per call in setup or connected

	draining atomic.Bool
	// gate orders admitting a call (wg.Add) before Shutdown's wg.Wait.
	gate      sync.RWMutex
	closeOnce sync.Once
	stop      context.CancelFunc
	serveDone chan struct{}
}

type transportSide struct {
	addr   netip.AddrPort // bound listener address
	client *sipgo.Client
	dialog *sipgo.DialogUA
}

// Option configures an Edge.
type Option func(*Edge)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(e *Edge) { e.log = l } }

// CallObserver learns of every finished call (metrics).
type CallObserver interface {
	// CallEnded gets the final record and the time callgate took from the call's
	// arrival to sending the callee's INVITE (0 if no INVITE was sent).
	CallEnded(rec pool.Call, setup time.Duration)
}

// CallProgressObserver is a CallObserver that also learns of calls as they
// progress: rec.State is "setup" when the callee's INVITE went out, then "ringing"
// at the first 180/183, then "answered". It is called on the call's own goroutine:
// it must not block.
type CallProgressObserver interface {
	CallProgress(rec pool.Call)
}

// WithObserver sets the observer of finished calls (and of calls in progress, if it
// is a CallProgressObserver).
func WithObserver(o CallObserver) Option { return func(e *Edge) { e.observer = o } }

// WithClock sets the clock used for records and limits (default time.Now).
func WithClock(now func() time.Time) Option { return func(e *Edge) { e.now = now } }

// New builds the SIP edge. Start opens its listeners.
func New(set Settings, trunks []configs.Trunk, router Router, recorder Recorder, ports *media.Ports, opts ...Option) (*Edge, error) {
	e := &Edge{
		set:      set,
		log:      slog.Default(),
		router:   router,
		recorder: recorder,
		ports:    ports,
		now:      time.Now,
	}
	for _, o := range opts {
		o(e)
	}
	e.steerRouters() // failover.go
	e.registrar = newRegistrar(e.set.PublicHost, e.now)
	e.regs = newRegistrations(e) // register.go: loops start with Start
	if e.set.UserAgent == "" {
		e.set.UserAgent = "callgate"
	}
	if e.set.NoRouteStatus == 0 {
		e.set.NoRouteStatus = 404
	}
	if e.set.RingTimeout <= 0 {
		e.set.RingTimeout = 60 * time.Second
	}
	ts, err := newTrunkSet(trunks, nil)
	if err != nil {
		return nil, err
	}
	e.trunks.Store(ts)
	return e, nil
}

// Start opens the SIP listeners and starts serving. It returns once the sockets are
// bound, so port conflicts are reported at once.
func (e *Edge) Start(ctx context.Context) error {
	if e.set.UDPAddr == "" && e.set.TCPAddr == "" {
		return errors.New("sip: no listener configured")
	}
	// Everything sipgo logs goes through a rate limit (parse failures are logged at
	// ERROR with the whole payload: a flood of garbage would flood the log).
	sipLog := newLimitedLogger(e.log, e.now).With("layer", "sipgo")
	e.guard = newGuard(e.set.Limits, func(a netip.Addr) bool { return e.trunkAt(a) != nil },
		e.now, newLimitedLogger(e.log, e.now).With("layer", "guard"))
	parser := sip.NewParser()
	if n := e.guard.lim.MaxMessageBytes; n > 0 {
		parser.MaxMessageLength = n
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(e.set.UserAgent),
		sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(sipLog),
			sip.WithTransportLayerReadFilter(e.guard.readFilter)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			// sipgo's default logs every stray response at INFO through its global logger.
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				sipLog.Debug("response matches no transaction", "status", r.StatusCode, "source", r.Source())
			})))
	if err != nil {
		return fmt.Errorf("sip: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		ua.Close()
		return fmt.Errorf("sip: server: %w", err)
	}
	e.ua, e.srv = ua, srv
	e.routes()

	var udpConn net.PacketConn
	var tcpLn net.Listener
	fail := func(err error) error {
		if udpConn != nil {
			udpConn.Close()
		}
		if tcpLn != nil {
			tcpLn.Close()
		}
		ua.Close()
		return err
	}
	if e.set.UDPAddr != "" {
		if udpConn, err = net.ListenPacket("udp", e.set.UDPAddr); err != nil {
			return fail(fmt.Errorf("sip: listen udp %s: %w", e.set.UDPAddr, err))
		}
		e.guard.setUDP(udpConn)
		udpConn = e.guard.packetConn(udpConn)
		if e.udp, err = e.side(ua, "udp", udpConn.LocalAddr().String()); err != nil {
			return fail(err)
		}
	}
	if e.set.TCPAddr != "" {
		if tcpLn, err = net.Listen("tcp", e.set.TCPAddr); err != nil {
			return fail(fmt.Errorf("sip: listen tcp %s: %w", e.set.TCPAddr, err))
		}
		tcpLn = e.guard.listener(tcpLn)
		if e.tcp, err = e.side(ua, "tcp", tcpLn.Addr().String()); err != nil {
			return fail(err)
		}
	}
	// Every trunk must be reachable on a transport we serve: say so now, not at the
	// first call.
	for _, t := range e.trunks.Load().list {
		if _, err := e.sideFor(t); err != nil {
			return fail(fmt.Errorf("sip: %w", err))
		}
	}
	// SIP legs' RTP is relayed by epoll workers (media.WithRelay); without them
	// (turned off, not Linux, or no epoll) by a goroutine per direction.
	if e.set.RelayWorkers >= 0 {
		if e.relay, err = media.NewRelay(e.set.RelayWorkers); err != nil {
			if !errors.Is(err, media.ErrRelayUnsupported) {
				e.log.Warn("rtp relay unavailable, relaying with goroutines", "err", err)
			}
			e.relay = nil
		}
	}
	ctx, e.stop = context.WithCancel(context.WithoutCancel(ctx))
	e.serveDone = make(chan struct{})
	var serving sync.WaitGroup
	serving.Add(1)
	go func() { defer serving.Done(); e.guard.run(ctx) }()
	if udpConn != nil {
		serving.Add(1)
		go func() { defer serving.Done(); _ = srv.ServeUDP(udpConn) }()
	}
	if tcpLn != nil {
		serving.Add(1)
		go func() { defer serving.Done(); _ = srv.ServeTCP(tcpLn) }()
	}
	if udpConn != nil {
		WaitListening(ua.TransportLayer(), "udp", udpConn.LocalAddr().String())
	}
	go func() {
		<-ctx.Done()
		if udpConn != nil {
			udpConn.Close()
		}
		if tcpLn != nil {
			tcpLn.Close()
		}
		serving.Wait()
		close(e.serveDone)
	}()
	e.regs.start(ctx, e.trunks.Load())
	e.probes.start(e, e.trunks.Load())
	e.log.Info("sip listening", "udp", e.udp.addr, "tcp", e.tcp.addr)
	return nil
}

// side builds the client and dialog UA that send over one transport.
func (e *Edge) side(ua *sipgo.UserAgent, network, bound string) (transportSide, error) {
	ap, err := netip.ParseAddrPort(bound)
	if err != nil {
		return transportSide{}, fmt.Errorf("sip: listener address %q: %w", bound, err)
	}
	host := e.set.PublicHost
	if host == "" {
		host = ap.Addr().String()
		if ap.Addr().IsUnspecified() {
			host = "127.0.0.1"
		}
	}
	opts := []sipgo.ClientOption{sipgo.WithClientHostname(host), sipgo.WithClientPort(int(ap.Port()))}
	if network == "udp" {
		// Send from the listening socket: carriers answer to where requests came from.
		opts = append(opts, sipgo.WithClientConnectionAddr(bound))
	}
	cli, err := sipgo.NewClient(ua, opts...)
	if err != nil {
		return transportSide{}, fmt.Errorf("sip: %s client: %w", network, err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "callgate", Host: host, Port: int(ap.Port())}}
	if network != "udp" {
		contact.Address.UriParams = sip.NewParams()
		contact.Address.UriParams.Add("transport", network)
	}
	return transportSide{addr: ap, client: cli, dialog: &sipgo.DialogUA{Client: cli, ContactHDR: contact}}, nil
}

// sideFor picks the transport toward a trunk.
func (e *Edge) sideFor(t *Trunk) (transportSide, error) {
	switch t.cfg.Transport {
	case "tcp":
		if e.tcp.client != nil {
			return e.tcp, nil
		}
	case "udp", "":
		if e.udp.client != nil {
			return e.udp, nil
		}
	}
	return transportSide{}, fmt.Errorf("%w: trunk %q uses transport %s, which callgate does not serve (listeners: udp %q, tcp %q; tls is not supported yet)",
		ErrUnknownTrunk, t.cfg.Name, t.cfg.Transport, e.set.UDPAddr, e.set.TCPAddr)
}

// Addr is the bound address of the listener for network ("udp" or "tcp").
func (e *Edge) Addr(network string) netip.AddrPort {
	if network == "tcp" {
		return e.tcp.addr
	}
	return e.udp.addr
}

// SetTrunks swaps the trunk table (on config reload). Calls in progress keep the
// trunks they started with; a removed trunk takes no new calls.
func (e *Edge) SetTrunks(cfgs []configs.Trunk) error {
	ts, err := newTrunkSet(cfgs, e.trunks.Load())
	if err != nil {
		return err
	}
	e.trunks.Store(ts)
	e.probes.run(e, ts)
	if e.regs != nil {
		e.regs.apply(ts) // register.go: start, keep or stop each trunk's REGISTER loop
	}
	return nil
}

// Trunks lists the trunks with their live call counts.
func (e *Edge) Trunks() []*Trunk { return append([]*Trunk(nil), e.trunks.Load().list...) }

// ActiveCalls is the number of calls in progress.
func (e *Edge) ActiveCalls() int {
	return int(e.live.Load())
}

// Draining reports whether the edge has stopped taking new calls (shutting down).
func (e *Edge) Draining() bool { return e.draining.Load() }

// admit counts a new call in (for Shutdown to wait on), or refuses it while draining.
func (e *Edge) admit() bool {
	e.gate.RLock()
	defer e.gate.RUnlock()
	if e.draining.Load() {
		return false
	}
	e.wg.Add(1)
	return true
}

// Shutdown stops taking calls, lets calls in progress run for the shutdown grace (or
// until ctx ends), hangs up the rest, unregisters, and closes the listeners.
func (e *Edge) Shutdown(ctx context.Context) error {
	e.gate.Lock()
	e.draining.Store(true)
	e.gate.Unlock()
	if e.stop == nil {
		return nil
	}
	grace := e.set.ShutdownGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	drained := make(chan struct{})
	go func() { e.wg.Wait(); close(drained) }()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
		e.hangupAll("shutdown")
	case <-ctx.Done():
		e.hangupAll("shutdown")
	}
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		e.log.Warn("calls still tearing down at shutdown")
	}
	if e.regs != nil {
		e.regs.stopAll(ctx)
	}
	return e.Close()
}

// Close stops serving at once. Calls still in progress lose their signaling (no BYE
// is sent: Shutdown is the graceful way), but their media and sockets are closed and
// their records written, ended by "shutdown". Safe twice.
func (e *Edge) Close() error {
	e.closeOnce.Do(func() {
		e.gate.Lock() // as in Shutdown: no admit runs past this
		e.draining.Store(true)
		e.gate.Unlock()
		e.probes.close()
		if e.stop != nil {
			e.stop()
			<-e.serveDone
		}
		e.endCalls()
		if e.ua != nil {
			e.ua.Close()
		}
		if e.relay != nil { // after the calls: Shutdown drained them
			e.relay.Close()
		}
	})
	return nil
}

// endCalls ends, without BYE, the calls still up when the edge closes, and waits
// (a bounded time) for their teardown: media closed, records written.
func (e *Edge) endCalls() {
	e.calls.Range(func(_, v any) bool {
		v.(*call).hangup(hangupEvent{by: "system", cause: "shutdown", quiet: true})
		return true
	})
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		e.log.Warn("calls still ending at close")
	}
}

func (e *Edge) hangupAll(cause string) {
	e.calls.Range(func(_, v any) bool {
		v.(*call).hangup(hangupEvent{by: "system", cause: cause})
		return true
	})
}

// routes installs the request handlers.
// Every request is validated (validate.go) before its handler sees it.
func (e *Edge) routes() {
	e.srv.OnInvite(e.validated(e.onInvite))
	e.srv.OnAck(e.validated(e.onAck))
	e.srv.OnBye(e.validated(e.onBye))
	e.srv.OnInfo(e.validated(e.onInfo))
	e.srv.OnOptions(e.validated(e.onOptions))
	e.srv.OnNotify(e.validated(e.onNotify))
	e.srv.OnRegister(e.validated(e.onRegister)) // registrar.go; 405 when no trunk registers
	e.srv.OnCancel(e.validated(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL matching a pending INVITE is answered by the transaction layer; one
		// that reaches us matches nothing.
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
	}))
	e.srv.OnNoRoute(e.validated(e.onUnknownMethod))
}

// sourceTrunk finds the trunk a request came from, or nil.
func (e *Edge) sourceTrunk(req *sip.Request) *Trunk {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return nil
	}
	return e.trunkAt(ap.Addr()) // inbound CIDRs, then registered addresses (registrar.go)
}

func (e *Edge) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if e.sourceTrunk(req) == nil {
		respond(tx, req, 403, "Forbidden")
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY"))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	if err := tx.Respond(res); err != nil {
		e.log.Debug("respond OPTIONS", "err", err)
	}
}

// respond answers a request with a status and a standard reason phrase.
func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}
