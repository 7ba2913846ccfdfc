package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// janusLeg is an agent's signalling with Janus: one websocket, one session, one SIP
// plugin handle.
type janusLeg struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	events  chan janusMessage // during setup
	session uint64
	handle  uint64
	tx      atomic.Uint64

	stop     chan struct{} // ends the keepalives
	stopOnce sync.Once
	ended    chan struct{} // closed when Janus says the call ended
	endOnce  sync.Once
}

func dialJanus(ctx context.Context, url string) (*janusLeg, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096,
		Subprotocols: []string{janusSubprotocol}}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	return &janusLeg{ws: ws, events: make(chan janusMessage, 16), stop: make(chan struct{}), ended: make(chan struct{})}, nil
}

func (j *janusLeg) nextTx() string { return "t" + strconv.FormatUint(j.tx.Add(1), 10) }

// write sends r as one text message: the JSON alone (Janus rejects the newline
// WriteJSON adds after it).
func (j *janusLeg) write(r janusRequest) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	_ = j.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return j.ws.WriteMessage(websocket.TextMessage, b)
}

// read is the websocket's one reader: it feeds setup, then notices the call ending.
func (j *janusLeg) read(a *agent) {
	defer close(j.events)
	for {
		_, b, err := j.ws.ReadMessage()
		if err != nil {
			if a.answered.Load() && a.streaming.Load() {
				a.drop()
			}
			return
		}
		m, err := parseJanusMessage(b)
		if err != nil {
			continue
		}
		if m.endsCall() {
			j.endOnce.Do(func() { close(j.ended) })
		}
		if a.answered.Load() {
			if m.endsCall() {
				a.drop()
			}
			continue
		}
		select {
		case j.events <- m:
		default:
		}
	}
}

// next is the next message of setup.
func (j *janusLeg) next(ctx context.Context) (janusMessage, error) {
	select {
	case m, ok := <-j.events:
		if !ok {
			return m, errJanusClosed
		}
		return m, nil
	case <-ctx.Done():
		return janusMessage{}, ctx.Err()
	}
}

// transact sends r and waits for its response (an ack is not one): the message,
// or the error it carries.
func (j *janusLeg) transact(ctx context.Context, r janusRequest) (janusMessage, error) {
	if err := j.write(r); err != nil {
		return janusMessage{}, err
	}
	for {
		m, err := j.next(ctx)
		if err != nil {
			return m, err
		}
		// An error Janus cannot tie to a request (it could not parse it) has no
		// transaction: it is this request's.
		if m.Janus == "ack" || (m.Transaction != r.Transaction && !(m.Transaction == "" && m.Janus == "error")) {
			continue
		}
		return m, m.err()
	}
}

// open creates the session and attaches the SIP plugin.
func (j *janusLeg) open(ctx context.Context) error {
	m, err := j.transact(ctx, janusCreate(j.nextTx()))
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if j.session = m.Data.ID; m.Janus != "success" || j.session == 0 {
		return fmt.Errorf("create: %q with no session", m.Janus)
	}
	if m, err = j.transact(ctx, janusAttach(j.nextTx(), j.session)); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	if j.handle = m.Data.ID; m.Janus != "success" || j.handle == 0 {
		return fmt.Errorf("attach: %q with no handle", m.Janus)
	}
	return nil
}

// register registers identity as a guest.
func (j *janusLeg) register(ctx context.Context, identity string) error {
	m, err := j.transact(ctx, sipRegisterGuest(j.nextTx(), j.session, j.handle, identity))
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	if ev := m.sipEventName(); ev != "registered" {
		return fmt.Errorf("register: event %q", ev)
	}
	return nil
}

// keepalive keeps the session alive (Janus ends one after 60 s without a request)
// until the leg closes.
func (j *janusLeg) keepalive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			if j.write(janusKeepalive(j.nextTx(), j.session)) != nil {
				return
			}
		}
	}
}

// call sends the call request with the offer and waits for the callee to answer: the
// SDP answer comes with "accepted" (or with an earlier "progress": early media).
func (j *janusLeg) call(ctx context.Context, uri, offer string) (string, error) {
	r := sipCall(j.nextTx(), j.session, j.handle, uri, offer)
	if err := j.write(r); err != nil {
		return "", err
	}
	answer := ""
	for {
		m, err := j.next(ctx)
		if err != nil {
			return "", err
		}
		if m.Janus == "ack" || m.Janus == "keepalive" {
			continue
		}
		if err := m.err(); err != nil {
			return "", err
		}
		if sdp := m.answerSDP(); sdp != "" && answer == "" {
			answer = sdp
		}
		switch ev := m.sipEventName(); ev {
		case "accepted":
			if answer == "" {
				return "", errors.New("accepted without an SDP answer")
			}
			return answer, nil
		case "hangup":
			res := m.PluginData.Data.Result
			return "", fmt.Errorf("%w: %d %s", errEnded, res.Code, res.Reason)
		}
		if m.Janus == "hangup" {
			return "", fmt.Errorf("%w: PeerConnection closed: %s", errEnded, m.Reason)
		}
	}
}

// close hangs up (inCall: and waits up to 2 s for the BYE to be answered) and closes
// the websocket, which ends the session. Called once, by agent.close.
func (j *janusLeg) close(inCall bool) {
	j.stopOnce.Do(func() { close(j.stop) })
	if inCall && j.write(sipHangup(j.nextTx(), j.session, j.handle)) == nil {
		select {
		case <-j.ended:
		case <-time.After(2 * time.Second):
		}
	}
	// Closing the websocket destroys the session (reclaim_session_timeout 0): an
	// explicit destroy would race the close in Janus and be refused.
	_ = j.ws.Close()
}

// loginJanus is the agent's login through Janus: websocket, session, SIP plugin,
// guest registration. On failure it returns the stage.
func (a *agent) loginJanus(ctx context.Context) (string, error) {
	a.startAt = time.Now()
	j, err := dialJanus(ctx, a.f.wsURL)
	if err != nil {
		return "websocket", err
	}
	a.jl = j
	go j.read(a)
	if err := j.open(ctx); err != nil {
		return "login", err
	}
	go j.keepalive(a.f.s.janusKeepalive)
	if err := j.register(ctx, fmt.Sprintf("sip:agent%d@%s", a.idx, a.f.janusHost)); err != nil {
		return "login", err
	}
	a.readyAt = time.Now()
	return "", nil
}

// dialJanus takes a logged-in agent to an answered call with media flowing: offer,
// call, answer, ICE, DTLS. On failure it returns the stage.
func (a *agent) dialJanus(ctx context.Context) (string, error) {
	j := a.jl
	offer, err := a.makeOffer(ctx)
	if err != nil {
		return "offer", err
	}
	a.dialAt = time.Now()
	a.callID = "janus" // hang up on close from here on
	answer, err := j.call(ctx, fmt.Sprintf("sip:%s@%s", a.callee, a.f.s.carrier), offer)
	if err != nil {
		if errors.Is(err, errEnded) {
			return "answer", err
		}
		return "dial", err
	}
	a.answeredAt = time.Now()
	if err := pcmuNegotiated(answer); err != nil {
		return "answer", err
	}
	if err := a.applyAnswer(answer); err != nil {
		return "answer", err
	}
	if stage, err := a.awaitDTLS(ctx); err != nil {
		return stage, err
	}
	a.answered.Store(true)
	a.f.stream.activate(a)
	return "", nil
}

// pcmuNegotiated checks that an SDP answer accepts audio with PCMU among its formats
// (the agents send nothing else; Janus passes the carrier's codecs on).
func pcmuNegotiated(sdp string) error {
	var formats []string
	rtpmap := map[string]string{}
	inAudio, seen := false, false
	for _, l := range strings.Split(sdp, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "m="); ok {
			f := strings.Fields(rest)
			inAudio = !seen && len(f) >= 4 && f[0] == "audio"
			if inAudio {
				seen = true
				if f[1] == "0" {
					return errors.New("SDP answer rejects the audio")
				}
				formats = f[3:]
			}
			continue
		}
		if rest, ok := strings.CutPrefix(l, "a=rtpmap:"); ok && inAudio {
			if pt, enc, ok := strings.Cut(rest, " "); ok {
				rtpmap[pt] = strings.ToUpper(strings.TrimSpace(enc))
			}
		}
	}
	if !seen {
		return errors.New("SDP answer has no audio")
	}
	for _, pt := range formats {
		enc, ok := rtpmap[pt]
		if enc == "PCMU/8000" || enc == "PCMU/8000/1" || (!ok && pt == "0") {
			return nil
		}
	}
	return fmt.Errorf("SDP answer has no PCMU (formats %s)", strings.Join(formats, " "))
}
