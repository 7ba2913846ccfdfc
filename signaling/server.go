package signaling

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"callgate/pool"
	"callgate/sip"

	"github.com/gorilla/websocket"
)

// Authenticator checks an agent's credentials.
type Authenticator interface {
	Authenticate(ctx context.Context, c Credentials) (Agent, error)
}

// SeatTaker hands out a tenant's seats.
type SeatTaker interface {
	Take(tenant string) (release func(), used, total int, err error)
}

// BrowserLeg is an agent's session-long WebRTC leg.
type BrowserLeg interface {
	sip.AgentMedia
	Done() <-chan struct{}
	Close() error
}

// NewBrowserLeg answers a page's WebRTC offer with a new browser leg.
type NewBrowserLeg func(ctx context.Context, offerSDP string) (BrowserLeg, string, error)

// Dialer places agents' calls.
type Dialer interface {
	DialForAgent(ctx context.Context, d sip.AgentDial) (*sip.AgentCall, error)
}

// Records reads agents' call records and stores their feedback.
type Records interface {
	Call(ctx context.Context, id string) (pool.Call, error)
	Calls(ctx context.Context, f pool.CallFilter) ([]pool.Call, error)
	AddFeedback(ctx context.Context, f pool.Feedback) (pool.Feedback, error)
}

// Config holds the server's limits and its Origin allow-list. Zero means default.
type Config struct {
	// AllowedOrigins may open the websocket besides the page's own origin, e.g.
	// "https://crm.example.com".
	AllowedOrigins []string
	// MaxMessage bounds one message (default 64 KiB).
	MaxMessage int64
	// PingInterval and PongWait: the server pings every PingInterval (default 20 s)
	// and drops a client silent for PongWait (default 45 s).
	PingInterval, PongWait time.Duration
	// AuthTimeout bounds the time from connecting to a valid auth (default 10 s).
	AuthTimeout time.Duration
}

// Deps are the parts of callgate the server drives.
type Deps struct {
	Auth    Authenticator
	Seats   SeatTaker
	Media   NewBrowserLeg
	Dialer  Dialer
	Records Records
	Log     *slog.Logger
}

// Server serves the agent websocket at /ws.
type Server struct {
	cfg      Config
	deps     Deps
	allowed  map[string]bool
	upgrader websocket.Upgrader

	mu       sync.Mutex
	sessions map[*session]struct{}
	byAgent  map[Agent]*session // the logged-in session of each agent
	closed   bool
	wg       sync.WaitGroup
}

// NewServer returns the websocket server.
func NewServer(cfg Config, deps Deps) *Server {
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 64 << 10
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 20 * time.Second
	}
	if cfg.PongWait <= 0 {
		cfg.PongWait = 45 * time.Second
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = 10 * time.Second
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, deps: deps, allowed: map[string]bool{}, sessions: map[*session]struct{}{}, byAgent: map[Agent]*session{}}
	for _, o := range cfg.AllowedOrigins {
		s.allowed[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     s.originAllowed,
	}
	return s
}

// originAllowed accepts the page's own origin and the configured ones; a request
// without Origin (not a browser) is refused too.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if strings.EqualFold(u.Host, r.Host) && strings.EqualFold(u.Scheme, scheme) {
		return true
	}
	return s.allowed[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// ServeHTTP upgrades the request to a websocket and runs the agent's session.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.originAllowed(r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered with an HTTP error
	}
	sess := newSession(s, conn)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		sess.run()
		s.mu.Lock()
		delete(s.sessions, sess)
		if sess.agent != nil && s.byAgent[*sess.agent] == sess {
			delete(s.byAgent, *sess.agent)
		}
		s.mu.Unlock()
	}()
}

// claimAgent makes ss the agent's session. An older session of the same agent is told
// it was signed in elsewhere and ended (call hung up, seat freed) before claimAgent
// returns, so the new login can take that seat.
func (s *Server) claimAgent(a Agent, ss *session) {
	s.mu.Lock()
	old := s.byAgent[a]
	s.byAgent[a] = ss
	s.mu.Unlock()
	if old == nil {
		return
	}
	old.send(errorMsg{Type: "error", Code: "signed_in_elsewhere", Message: "this agent signed in on another page"})
	old.stop()
	select {
	case <-old.ended:
	case <-time.After(5 * time.Second):
		s.deps.Log.Warn("replaced agent session did not end", "tenant", a.Tenant, "agent", a.Name)
	}
}

func (s *Server) unclaimAgent(a Agent, ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byAgent[a] == ss {
		delete(s.byAgent, a)
	}
}

// EndTokenSessions ends the sessions that logged in with one of the issued tokens
// ids (tokens just revoked): each page gets the error token_revoked, and its call is
// hung up and its seat freed as the session ends. It returns how many sessions it
// ended, without waiting for them to finish.
func (s *Server) EndTokenSessions(ids ...string) int {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var ending []*session
	s.mu.Lock()
	for sess := range s.sessions {
		sess.mu.Lock()
		if sess.tokenID != "" && want[sess.tokenID] {
			ending = append(ending, sess)
		}
		sess.mu.Unlock()
	}
	s.mu.Unlock()
	for _, sess := range ending {
		sess.send(errorMsg{Type: "error", Code: "token_revoked", Message: "the token this page logged in with was revoked"})
		sess.stop()
	}
	return len(ending)
}

// Sessions is the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close ends every session (their calls are hung up, seats freed) and refuses new
// ones. Safe twice.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for sess := range s.sessions {
		sess.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
