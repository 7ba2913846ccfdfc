package sip

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"callgate/configs"

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

// registrations runs one REGISTER loop per trunk that asks for it, and follows the
// trunk set as it is reloaded (apply).
type registrations struct {
	e  *Edge
	mu sync.Mutex
	// base is Start's context (nil before Start): every loop runs under it.
	base    context.Context
	stopped bool // stopAll ran: no loop starts any more
	state   map[string]*Registration
	loops   map[string]*regLoop // the running loop of each registering trunk
	// ending holds the done channel of each trunk's last stopped loop: a new loop
	// for the trunk starts once that one has unregistered.
	ending map[string]<-chan struct{}
	wg     sync.WaitGroup
	// retryMin and retryMax bound the back-off after a failed REGISTER.
	retryMin, retryMax time.Duration
}

// regLoop is one trunk's running REGISTER loop.
type regLoop struct {
	cfg    configs.Trunk // the trunk config it registers with
	cancel context.CancelFunc
	done   chan struct{} // closed once it has unregistered and ended
}

func newRegistrations(e *Edge) *registrations {
	return &registrations{e: e, state: map[string]*Registration{}, loops: map[string]*regLoop{},
		ending: map[string]<-chan struct{}{}, retryMin: time.Second, retryMax: time.Minute}
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
		if r, ok := e.regs.state[t.Name()]; ok && t.cfg.Register != nil {
			out = append(out, *r)
		}
	}
	return out
}

// start runs the loops of ts under ctx (Edge.Start).
func (r *registrations) start(ctx context.Context, ts *trunkSet) {
	r.mu.Lock()
	r.base = ctx
	r.mu.Unlock()
	r.apply(ts)
}

// apply makes the running loops match ts (a reload): a trunk that registers with the
// same config keeps its loop and its registration; a trunk no longer there, or no
// longer registering, is unregistered; a new one, or one whose config changed, starts
// registering (a changed one after its old registration is removed, so that the
// un-REGISTER cannot remove the new binding). Before Start it does nothing.
func (r *registrations) apply(ts *trunkSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base == nil || r.stopped {
		return
	}
	want := make(map[string]*Trunk)
	for _, t := range ts.list {
		if t.cfg.Register != nil {
			want[t.Name()] = t
		}
	}
	for name, l := range r.loops {
		if t, ok := want[name]; ok && reflect.DeepEqual(l.cfg, t.cfg) {
			delete(want, name) // unchanged: keeps registering as it is
			continue
		}
		l.cancel() // the loop unregisters and ends
		delete(r.loops, name)
		r.ending[name] = l.done
	}
	for name, t := range want {
		r.startLocked(t, r.ending[name])
	}
}

// startLocked starts t's loop once after (if not nil) is closed. r.mu is held.
func (r *registrations) startLocked(t *Trunk, after <-chan struct{}) {
	ctx, cancel := context.WithCancel(r.base)
	l := &regLoop{cfg: t.cfg, cancel: cancel, done: make(chan struct{})}
	r.loops[t.Name()] = l
	// Each loop has its own Registration: a stopped loop's last words go to its own.
	st := &Registration{Trunk: t.Name(), State: RegRegistering, Since: r.e.now()}
	r.state[t.Name()] = st
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(l.done)
		if after != nil {
			select {
			case <-after:
			case <-ctx.Done():
				r.set(st, func(s *Registration) { s.State = RegUnregistered })
				return
			}
		}
		r.loop(ctx, t, st)
	}()
}

// stopAll ends every loop and unregisters (Expires: 0), bounded by ctx.
func (r *registrations) stopAll(ctx context.Context) {
	r.mu.Lock()
	r.stopped = true
	for _, l := range r.loops {
		l.cancel()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// set changes reg, one loop's state, under the lock, logging a change of state.
func (r *registrations) set(reg *Registration, f func(*Registration)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := reg.State
	f(reg)
	if reg.State != prev {
		reg.Since = r.e.now()
		r.e.log.Info("trunk registration", "trunk", reg.Trunk, "state", reg.State, "code", reg.Code, "err", reg.Error)
	}
}

func (r *registrations) loop(ctx context.Context, t *Trunk, st *Registration) {
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
			r.set(st, func(s *Registration) { s.State, s.Code, s.Error = RegFailed, code, err.Error() })
			wait, backoff = backoff, min(backoff*2, r.retryMax)
			registered = false
		} else {
			registered = true
			backoff = r.retryMin
			wait = granted / 2
			now := r.e.now()
			r.set(st, func(s *Registration) {
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
	r.set(st, func(s *Registration) { s.State, s.Error = RegUnregistered, "" })
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
