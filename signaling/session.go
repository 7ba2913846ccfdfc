package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"callgate/pool"
	"callgate/sip"

	"github.com/gorilla/websocket"
)

// session is one agent's websocket: one reader goroutine (run) and one writer.
type session struct {
	s    *Server
	conn *websocket.Conn
	log  *slog.Logger

	out      chan any
	done     chan struct{}
	ended    chan struct{} // closed when run has released everything
	stopOnce sync.Once

	// Owned by the reader goroutine.
	agent   *Agent
	release func()

	mu      sync.Mutex
	tokenID string // the issued token the session logs in with (EndTokenSessions)
	leg     BrowserLeg
	call    *sip.AgentCall
	callReq string // id of the dial request of the current call
	// incoming is the callback ringing on the page, nil if none (incoming.go).
	incoming *incomingOffer
}

func newSession(s *Server, conn *websocket.Conn) *session {
	return &session{s: s, conn: conn, log: s.deps.Log, out: make(chan any, 64), done: make(chan struct{}), ended: make(chan struct{})}
}

// stop ends the session from outside (server shutdown).
func (ss *session) stop() {
	ss.stopOnce.Do(func() { close(ss.done) })
}

// send queues a message for the writer. A client too slow to take 64 messages is
// dropped rather than blocking calls.
func (ss *session) send(m any) {
	select {
	case ss.out <- m:
	case <-ss.done:
	default:
		ss.log.Warn("agent websocket too slow; dropping it")
		ss.stop()
	}
}

func (ss *session) sendError(id string, err error) {
	ss.send(errorMsg{Type: "error", ID: id, Code: errorCode(err), Message: err.Error()})
}

// run serves the session until the socket closes, then hangs up the agent's call,
// closes the browser leg and frees the seat.
func (ss *session) run() {
	defer close(ss.ended)
	writerDone := make(chan struct{})
	go ss.writer(writerDone)
	ss.reader()
	ss.stop()
	<-writerDone
	ss.conn.Close()
	ss.mu.Lock()
	call, leg := ss.call, ss.leg
	ss.call, ss.leg = nil, nil
	ss.mu.Unlock()
	if call != nil {
		call.Hangup("connection_lost")
	}
	if leg != nil {
		leg.Close()
	}
	if ss.release != nil {
		ss.release()
	}
	if ss.agent != nil {
		ss.log.Info("agent left")
	}
}

func (ss *session) writer(done chan<- struct{}) {
	defer close(done)
	ping := time.NewTicker(ss.s.cfg.PingInterval)
	defer ping.Stop()
	write := func(f func() error) bool {
		_ = ss.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return f() == nil
	}
	for {
		select {
		case m := <-ss.out:
			if !write(func() error { return ss.conn.WriteJSON(m) }) {
				ss.stop()
				_ = ss.conn.Close() // unblocks the reader
				return
			}
		case <-ping.C:
			if !write(func() error { return ss.conn.WriteMessage(websocket.PingMessage, nil) }) {
				ss.stop()
				_ = ss.conn.Close()
				return
			}
		case <-ss.done:
			// Flush what is queued (a final error), then say goodbye.
			for {
				select {
				case m := <-ss.out:
					write(func() error { return ss.conn.WriteJSON(m) })
					continue
				default:
				}
				break
			}
			write(func() error {
				return ss.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			})
			_ = ss.conn.Close() // unblocks the reader
			return
		}
	}
}

func (ss *session) reader() {
	ss.conn.SetReadLimit(ss.s.cfg.MaxMessage)
	_ = ss.conn.SetReadDeadline(time.Now().Add(ss.s.cfg.AuthTimeout))
	ss.conn.SetPongHandler(func(string) error {
		return ss.conn.SetReadDeadline(time.Now().Add(ss.s.cfg.PongWait))
	})
	for {
		kind, b, err := ss.conn.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.TextMessage {
			ss.sendError("", fmt.Errorf("%w: binary frames are not part of the protocol", ErrBadRequest))
			continue
		}
		m, err := parseMessage(b)
		if err != nil {
			ss.sendError(m.ID, err)
			if ss.agent == nil {
				ss.stop()
				return
			}
			continue
		}
		if ss.agent == nil {
			if !ss.auth(m) {
				ss.stop()
				return
			}
			_ = ss.conn.SetReadDeadline(time.Now().Add(ss.s.cfg.PongWait))
			continue
		}
		_ = ss.conn.SetReadDeadline(time.Now().Add(ss.s.cfg.PongWait))
		ss.handle(m)
		select {
		case <-ss.done:
			return
		default:
		}
	}
}

// auth handles the first message: credentials, then a seat.
func (ss *session) auth(m inMessage) bool {
	if m.Type != "auth" {
		ss.sendError(m.ID, fmt.Errorf("%w: send auth first", ErrBadRequest))
		return false
	}
	if m.V != Version {
		ss.send(errorMsg{Type: "error", ID: m.ID, Code: "bad_version", Message: fmt.Sprintf("protocol version %d is not supported; this server speaks %d", m.V, Version)})
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Known before the token is checked, so a revocation racing this login ends it.
	ss.mu.Lock()
	ss.tokenID = issuedTokenID(m.Token)
	ss.mu.Unlock()
	agent, err := ss.s.deps.Auth.Authenticate(ctx, Credentials{Token: m.Token, Tenant: m.Tenant, Agent: m.Agent, Password: m.Password,
		Source: sourceOf(ss.conn.RemoteAddr())})
	if err != nil {
		ss.sendError(m.ID, loginError(err))
		ss.log.Info("agent login refused", "tenant", m.Tenant, "agent", m.Agent, "source", ss.conn.RemoteAddr().String(), "err", err)
		return false
	}
	ss.s.claimAgent(agent, ss)
	release, used, total, err := ss.s.deps.Seats.Take(agent.Tenant)
	if err != nil {
		ss.s.unclaimAgent(agent, ss)
		ss.sendError(m.ID, err)
		ss.log.Info("agent login refused: no seat", "tenant", agent.Tenant, "agent", agent.Name, "seats", total)
		return false
	}
	ss.agent, ss.release = &agent, release
	ss.log = ss.log.With("tenant", agent.Tenant, "agent", agent.Name)
	ss.log.Info("agent logged in", "seats_used", used, "seats", total)
	ss.send(readyMsg{Type: "ready", ID: m.ID, V: Version, Agent: agent.Name, Tenant: agent.Tenant,
		Seats: seatsMsg{Used: used, Total: total}, ICEServers: []string{}})
	return true
}

// handle serves one request of a logged-in agent.
func (ss *session) handle(m inMessage) {
	var err error
	switch m.Type {
	case "auth":
		err = fmt.Errorf("%w: already authenticated", ErrBadRequest)
	case "offer":
		err = ss.offer(m)
	case "dial":
		err = ss.dial(m)
	case "history":
		err = ss.history(m)
	case "feedback":
		err = ss.feedback(m)
	case "accept", "decline":
		err = ss.answerIncoming(m) // incoming.go
	case "logout":
		err = ss.logout(m)
	default:
		err = ss.control(m)
	}
	if err != nil {
		ss.sendError(m.ID, err)
	}
}

func (ss *session) offer(m inMessage) error {
	ss.mu.Lock()
	busy := ss.call != nil
	ss.mu.Unlock()
	if busy {
		return fmt.Errorf("%w: renegotiating media during a call", ErrBusy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leg, answer, err := ss.s.deps.Media(ctx, m.SDP)
	if err != nil {
		return fmt.Errorf("%w: offer: %w", ErrBadRequest, err)
	}
	ss.mu.Lock()
	old := ss.leg
	ss.leg = leg
	ss.mu.Unlock()
	if old != nil {
		old.Close()
	}
	ss.send(answerMsg{Type: "answer", ID: m.ID, SDP: answer})
	return nil
}

func (ss *session) dial(m inMessage) error {
	ss.mu.Lock()
	leg, busy := ss.leg, ss.call != nil
	ss.mu.Unlock()
	if leg == nil {
		return ErrNotReady
	}
	if busy {
		return ErrBusy
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var first sync.Once
	firstEvent := make(chan struct{})
	call, err := ss.s.deps.Dialer.DialForAgent(ctx, sip.AgentDial{
		Tenant: ss.agent.Tenant, Agent: ss.agent.Name, To: m.To, Media: leg, Record: m.Record,
		Notify: func(ev sip.CallEvent) {
			first.Do(func() { <-firstEvent }) // the call is registered before its first event goes out
			ss.callEvent(ev)
		},
	})
	if err != nil {
		close(firstEvent)
		ss.log.Info("agent dial refused", "req", m.ID, "err", err)
		return err
	}
	ss.mu.Lock()
	ss.call, ss.callReq = call, m.ID
	ss.mu.Unlock()
	close(firstEvent)
	// The call id ties this page's request to the SIP legs' log lines and the record.
	ss.log.Info("agent dialled", "req", m.ID, "call", call.ID())
	return nil
}

// callEvent forwards a call's state change to the page.
func (ss *session) callEvent(ev sip.CallEvent) {
	msg := callMsg{Type: "call", Call: ev.Call, State: ev.State, From: ev.From, To: ev.To, At: unixMilli(ev.At)}
	ss.mu.Lock()
	if ev.State == sip.StateDialing {
		msg.ID = ss.callReq
	}
	if ev.State == sip.StateEnded {
		msg.Code, msg.Reason, msg.By = ev.Code, ev.Reason, ev.By
		billed := ev.Billed
		msg.Billed = &billed
		if ss.call != nil && ss.call.ID() == ev.Call {
			ss.call = nil
		}
	}
	ss.mu.Unlock()
	ss.send(msg)
}

// control handles requests about the current call.
func (ss *session) control(m inMessage) error {
	ss.mu.Lock()
	call := ss.call
	ss.mu.Unlock()
	if call == nil || call.ID() != m.Call {
		return fmt.Errorf("%w: %q", sip.ErrNoCall, m.Call)
	}
	var err error
	switch m.Type {
	case "hangup":
		call.Hangup("caller_bye")
		return nil // the ended event answers
	case "dtmf":
		err = call.SendDTMF(m.Digits)
	case "mute":
		err = call.Mute(*m.Muted)
	case "hold":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = call.Hold(ctx, *m.On)
	case "transfer":
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = call.Transfer(ctx, m.To)
	}
	if err != nil {
		return err
	}
	ss.send(okMsg{Type: "ok", ID: m.ID})
	return nil
}

func (ss *session) history(m inMessage) error {
	limit := m.Limit
	if limit == 0 {
		limit = 20
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls, err := ss.s.deps.Records.Calls(ctx, pool.CallFilter{Tenant: ss.agent.Tenant, Agent: ss.agent.Name, Limit: limit})
	if err != nil {
		return err
	}
	out := historyMsg{Type: "history", ID: m.ID, Calls: make([]historyCall, 0, len(calls))}
	for _, c := range calls {
		out.Calls = append(out.Calls, historyCall{Call: c.ID, To: c.Callee, From: c.Caller, State: c.State, Code: c.SIPCode,
			Reason: c.Reason, SetupAt: unixMilli(c.SetupAt), AnswerAt: unixMilli(c.AnswerAt), EndAt: unixMilli(c.EndAt), Billed: c.BilledSec})
	}
	ss.send(out)
	return nil
}

func (ss *session) feedback(m inMessage) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec, err := ss.s.deps.Records.Call(ctx, m.Call)
	if errors.Is(err, pool.ErrNotFound) || err == nil && (rec.Tenant != ss.agent.Tenant || rec.Agent != ss.agent.Name) {
		return fmt.Errorf("%w: %q is not one of your calls", sip.ErrNoCall, m.Call)
	}
	if err != nil {
		return err
	}
	_, err = ss.s.deps.Records.AddFeedback(ctx, pool.Feedback{CallID: m.Call, Kind: pool.FeedbackKind(m.Kind), Note: m.Note, Agent: ss.agent.Name})
	if errors.Is(err, pool.ErrInvalid) {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err != nil {
		return err
	}
	ss.send(okMsg{Type: "ok", ID: m.ID})
	return nil
}

// logout ends the session at the page's request: the issued token it logged in with
// (if any) is revoked first, then the call is hung up and the seat freed as when the
// socket closes. If the token cannot be revoked, the session stays and the page
// gets the error.
func (ss *session) logout(m inMessage) error {
	ss.mu.Lock()
	id := ss.tokenID
	ss.mu.Unlock()
	if r, ok := ss.s.deps.Auth.(TokenRevoker); ok && id != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.RevokeToken(ctx, id); err != nil {
			return err
		}
	}
	ss.log.Info("agent logged out", "token", id)
	ss.send(okMsg{Type: "ok", ID: m.ID})
	ss.stop()
	return nil
}

var _ = json.Marshal
