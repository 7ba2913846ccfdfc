package sip

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// RegState is where a trunk registration stands.
type RegState string

// The registration states.
const (
	RegRegistering  RegState = "registering"
	RegRegistered   RegState = "registered"
	RegFailed       RegState = "failed"
	RegUnregistered RegState = "unregistered"
)

// Registration is the visible state of callgate's registration to one trunk.
type Registration struct {
	Trunk     string
	State     RegState
	Code      int       // last final SIP status
	Error     string    // last failure, "" when registered
	Expires   time.Time // when the binding lapses if not refreshed
	RefreshAt time.Time // when callgate refreshes it
	Since     time.Time // when State last changed
}

// registrations runs one REGISTER loop per trunk that asks for it.
type registrations struct {
	e      *Edge
	mu     sync.Mutex
	state  map[string]*Registration
	cancel map[string]context.CancelFunc
	wg     sync.WaitGroup
	// retryMin and retryMax bound the back-off after a failed REGISTER.
	retryMin, retryMax time.Duration
}

func newRegistrations(e *Edge) *registrations {
	return &registrations{e: e, state: map[string]*Registration{}, cancel: map[string]context.CancelFunc{},
		retryMin: time.Second, retryMax: time.Minute}
}

// Registrations lists the registration state of every trunk that registers.
func (e *Edge) Registrations() []Registration {
	if e.regs == nil {
		return nil
	}
	e.regs.mu.Lock()
	defer e.regs.mu.Unlock()
	out := make([]Registration, 0, len(e.regs.state))
	for _, t := range e.trunks.Load().list {
		if r, ok := e.regs.state[t.Name()]; ok {
			out = append(out, *r)
		}
	}
	return out
}

func (r *registrations) start(ctx context.Context, ts *trunkSet) {
	for _, t := range ts.list {
		if t.cfg.Register == nil {
			continue
		}
		cctx, cancel := context.WithCancel(ctx)
		r.mu.Lock()
		r.cancel[t.Name()] = cancel
		r.state[t.Name()] = &Registration{Trunk: t.Name(), State: RegRegistering, Since: r.e.now()}
		r.mu.Unlock()
		r.wg.Add(1)
		go r.loop(cctx, t)
	}
}

// stopAll ends every loop and unregisters (Expires: 0), bounded by ctx.
func (r *registrations) stopAll(ctx context.Context) {
	r.mu.Lock()
	for _, c := range r.cancel {
		c()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (r *registrations) set(name string, f func(*Registration)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg := r.state[name]
	prev := reg.State
	f(reg)
	if reg.State != prev {
		reg.Since = r.e.now()
		r.e.log.Info("trunk registration", "trunk", name, "state", reg.State, "code", reg.Code, "err", reg.Error)
	}
}

func (r *registrations) loop(ctx context.Context, t *Trunk) {
	defer r.wg.Done()
	reg := &registerer{e: r.e, t: t, callID: uuid.NewString(), tag: sip.GenerateTagN(16)}
	backoff := r.retryMin
	registered := false
	for {
		granted, code, err := reg.register(ctx, t.cfg.Register.Expires.Std())
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.set(t.Name(), func(s *Registration) { s.State, s.Code, s.Error = RegFailed, code, err.Error() })
			wait, backoff = backoff, min(backoff*2, r.retryMax)
			registered = false
		} else {
			registered = true
			backoff = r.retryMin
			wait = granted / 2
			now := r.e.now()
			r.set(t.Name(), func(s *Registration) {
				s.State, s.Code, s.Error = RegRegistered, code, ""
				s.Expires, s.RefreshAt = now.Add(granted), now.Add(wait)
			})
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
			continue
		}
		break
	}
	if registered {
		uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _, _ = reg.register(uctx, 0)
		cancel()
	}
	r.set(t.Name(), func(s *Registration) { s.State, s.Error = RegUnregistered, "" })
}

// registerer sends the REGISTERs of one trunk: one Call-ID, increasing CSeq.
type registerer struct {
	e      *Edge
	t      *Trunk
	callID string
	tag    string
	cseq   uint32
}

// register sends one REGISTER asking for expires (0 removes the binding), answering a
// digest challenge, and returns the expiry the registrar granted.
func (g *registerer) register(ctx context.Context, expires time.Duration) (time.Duration, int, error) {
	ts, err := g.e.sideFor(g.t)
	if err != nil {
		return 0, 0, err
	}
	cfg := g.t.cfg
	user := cfg.Register.User
	if user == "" && cfg.Auth != nil {
		user = cfg.Auth.Username
	}
	domain := g.t.domain()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: domain, Port: cfg.Port})
	req.SetTransport(transportName(cfg.Transport))
	req.SetDestination(g.t.hostPort())
	aor := sip.Uri{Scheme: "sip", User: user, Host: domain}
	from := sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", g.tag)
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	callID := sip.CallIDHeader(g.callID)
	req.AppendHeader(&callID)
	g.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: g.cseq, MethodName: sip.REGISTER})
	contact := ts.dialog.ContactHDR.Clone()
	contact.Address.User = user
	req.AppendHeader(contact)
	secs := int(expires / time.Second)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(secs)))

	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := ts.client.Do(rctx, req)
	if err != nil {
		return 0, 0, fmt.Errorf("REGISTER to %s: %w", cfg.Name, err)
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && cfg.Auth != nil {
		g.cseq++
		res, err = ts.client.DoDigestAuth(rctx, req, res, sipgo.DigestAuth{Username: cfg.Auth.Username, Password: cfg.Auth.Password})
		if err != nil {
			return 0, 0, fmt.Errorf("REGISTER to %s with credentials: %w", cfg.Name, err)
		}
	}
	if res.StatusCode != 200 {
		return 0, res.StatusCode, fmt.Errorf("REGISTER to %s: %d %s", cfg.Name, res.StatusCode, reasonPhrase(res.StatusCode))
	}
	granted := expires
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n >= 0 {
			granted = time.Duration(n) * time.Second
		}
	}
	if c := res.Contact(); c != nil {
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				granted = time.Duration(n) * time.Second
			}
		}
	}
	if expires > 0 && granted < 2*time.Second {
		granted = 2 * time.Second
	}
	return granted, 200, nil
}
