package routing

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"callgate/pool"

	"github.com/google/uuid"
)

// This file is the outbound router: an agent's call comes in as an OutboundCall, the
// callee is analysed and checked against the do-not-call lists, and the tenant's
// in-memory index picks and leases the caller number in one step under the tenant's
// mutex. The store is the durable record: every reservation, release and renewal is
// journalled to it in order and written in batches by one goroutine (see journal.go),
// and at start the index is rebuilt from it. Nothing on the call path waits for the
// disk: SQLite's commits cost a few hundred microseconds and its checkpoints
// milliseconds (BenchmarkReserveCaller), the index a few microseconds.

// CallerStore is the durable record behind the outbound router.
type CallerStore interface {
	SyncCallerNumbers(ctx context.Context, ns []pool.CallerNumber) error
	LoadCallerState(ctx context.Context, q pool.CallerStateQuery) (pool.CallerState, error)
	ApplyCallerOps(ctx context.Context, ops []pool.CallerOp) ([]pool.CallerOpResult, error)
	SweepCallers(ctx context.Context, r pool.SweepRequest) (pool.SweepResult, error)
	AddDoNotCall(ctx context.Context, es []pool.DNCEntry) (int, error)
	RemoveDoNotCall(ctx context.Context, tenant, number string) (bool, error)
	EachDoNotCall(ctx context.Context, fn func(pool.DNCEntry) error) error
}

var _ CallerStore = (*pool.SQLiteStore)(nil)

// OutboundCall is an agent's call to a customer.
type OutboundCall struct {
	Tenant string
	Agent  string
	// To is the callee as the agent or business system wrote it: E.164, "0086…",
	// "86…" or national ("0755 1234 5678", "138 0013 8000" for a tenant in CN),
	// with spaces, dashes or full-width digits. The decision's Callee.E164 is the
	// number to dial.
	To string
	// CallID names the call in the lease (optional; for explaining who holds a
	// number).
	CallID string
}

// OutboundDecision says how to place an outbound call.
type OutboundDecision struct {
	From   string   // caller number shown to the callee, E.164
	Trunk  string   // the first of Trunks
	Trunks []string // trunks that carry calls from From, in order
	Pool   string
	Kind   pool.NumberKind
	// Step is the strategy step that allowed From.
	Step Step
	// Callee is the analysed callee: Callee.E164 is the number to dial.
	Callee Callee
	// Lease locks From for this call until released; nil from routers that hold
	// nothing. Release it when the call ends, however it ends.
	Lease *Lease
	// EscalatedFrom is the kind of number the callee's last, unanswered call came
	// from, when that changed the order of the strategy.
	EscalatedFrom pool.NumberKind
	// Skipped lists the candidates examined and passed over before From, in order.
	Skipped []Skip
}

// Outcome is how a call ended, as Lease.Release takes it.
type Outcome = pool.Outcome

// The outcomes of a call.
const (
	OutcomeAnswered   = pool.OutcomeAnswered
	OutcomeUnanswered = pool.OutcomeUnanswered
	OutcomeNotPlaced  = pool.OutcomeNotPlaced
)

// Lease is the lock on a caller number for one call.
type Lease struct {
	r          *Outbound
	t          *tenantIndex
	c          *callerState
	id         int64
	callID     string
	instance   string
	callee     uint64
	calleeE164 string
	day        int
	at         int64
	until      time.Time
	released   atomic.Bool
}

// ID identifies the lease in the store.
func (l *Lease) ID() int64 { return l.id }

// Number is the caller number the lease holds.
func (l *Lease) Number() string { return l.c.n.Number }

// Release ends the lease with the call's outcome (see OutcomeOf): the number is free
// for the next call at once. It never blocks on I/O, is safe on a nil Lease and
// after the first call does nothing.
func (l *Lease) Release(outcome Outcome) {
	if l == nil || !l.released.CompareAndSwap(false, true) {
		return
	}
	if !outcome.Valid() {
		outcome = OutcomeUnanswered
	}
	l.r.release(l, outcome)
}

// Outbound chooses caller numbers for agents' calls: it is safe for concurrent use;
// Close it to stop its goroutines and write what it holds to the store.
type Outbound struct {
	store    CallerStore
	analyzer *Analyzer
	now      func() time.Time
	log      *slog.Logger
	instance string
	maxHold  time.Duration

	tenants map[string]*tenantIndex
	byID    []*tenantIndex // index = tenant id - 1
	dnc     *dncSet
	shared  *sharedMode // nil unless WithSharedStore (shared.go)

	journal   *committer
	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
}

// RouterOption configures NewOutboundRouter.
type RouterOption func(*routerSettings) error

type routerSettings struct {
	now      func() time.Time
	log      *slog.Logger
	instance string
	maxHold  time.Duration
	analyzer *Analyzer
	batch    time.Duration
	shared   bool
}

// WithClock sets the clock decisions use (default time.Now).
func WithClock(now func() time.Time) RouterOption {
	return func(s *routerSettings) error {
		if now == nil {
			return fmt.Errorf("routing: WithClock: nil clock")
		}
		s.now = now
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) RouterOption {
	return func(s *routerSettings) error {
		if l == nil {
			return fmt.Errorf("routing: WithLogger: nil logger")
		}
		s.log = l
		return nil
	}
}

// WithInstance names this process in the leases it takes (default: a random UUID).
func WithInstance(id string) RouterOption {
	return func(s *routerSettings) error {
		s.instance = id
		return nil
	}
}

// WithMaxHold stops renewing a lease held longer than d (a call that outlives the
// longest possible call was lost without a release); 0, the default, renews leases
// for as long as they are held.
func WithMaxHold(d time.Duration) RouterOption {
	return func(s *routerSettings) error {
		s.maxHold = max(d, 0)
		return nil
	}
}

// WithAnalyzer shares an analyser (default: a new one).
func WithAnalyzer(a *Analyzer) RouterOption {
	return func(s *routerSettings) error {
		s.analyzer = a
		return nil
	}
}

// NewOutboundRouter returns a router over the tenants' plans, with store as its
// durable record: it syncs the plans' numbers to the store, rebuilds its index from
// the stored leases, counters, health and escalation state, loads the do-not-call
// lists, and starts the goroutines that write its journal, renew its leases and
// sweep old rows.
func NewOutboundRouter(ctx context.Context, store CallerStore, plans []TenantPlan, opts ...RouterOption) (*Outbound, error) {
	set := routerSettings{now: time.Now, log: slog.New(slog.DiscardHandler), batch: 2 * time.Millisecond}
	for _, o := range opts {
		if err := o(&set); err != nil {
			return nil, err
		}
	}
	if set.instance == "" {
		set.instance = uuid.NewString()
	}
	if set.analyzer == nil {
		set.analyzer = NewAnalyzer()
	}
	r := &Outbound{store: store, analyzer: set.analyzer, now: set.now, log: set.log, instance: set.instance,
		maxHold: set.maxHold, tenants: map[string]*tenantIndex{}, dnc: newDNCSet()}
	var all []pool.CallerNumber
	numbers := map[string]string{}
	for i := range plans {
		p := plans[i]
		if err := p.check(); err != nil {
			return nil, err
		}
		if r.tenants[p.Tenant] != nil {
			return nil, fmt.Errorf("%w: tenant %s has two plans", ErrPlan, p.Tenant)
		}
		for _, n := range p.Numbers {
			if other, dup := numbers[n.Number]; dup {
				return nil, fmt.Errorf("%w: number %s is in the plans of %s and %s", ErrPlan, n.Number, other, p.Tenant)
			}
			numbers[n.Number] = p.Tenant
		}
		t := newTenantIndex(uint32(len(r.byID)+1), p, set.log)
		r.tenants[p.Tenant] = t
		r.byID = append(r.byID, t)
		all = append(all, p.Numbers...)
	}
	if err := store.SyncCallerNumbers(ctx, all); err != nil {
		return nil, fmt.Errorf("routing: sync caller numbers: %w", err)
	}
	if set.shared {
		var err error
		if r.shared, err = newSharedMode(r, store); err != nil {
			return nil, err
		}
	}
	if err := r.loadState(ctx); err != nil {
		return nil, err
	}
	if err := r.loadDoNotCall(ctx); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop, r.done = stop, make(chan struct{})
	r.journal = newCommitter(r, set.batch)
	go r.background(bg)
	return r, nil
}

// loadState rebuilds every tenant's index from the store.
func (r *Outbound) loadState(ctx context.Context) error {
	now := r.now()
	q := pool.CallerStateQuery{Now: now, SinceDay: DayKey(now.Add(-48*time.Hour), time.UTC), HealthSince: now, EscalationSince: now}
	for _, t := range r.byID {
		q.HealthSince = minTime(q.HealthSince, now.Add(-t.plan.Health.Window-time.Hour))
		q.EscalationSince = minTime(q.EscalationSince, now.Add(-max(t.plan.EscalateWithin, 0)))
	}
	st, err := r.store.LoadCallerState(ctx, q)
	if err != nil {
		return fmt.Errorf("routing: load caller state: %w", err)
	}
	for _, t := range r.byID {
		t.mu.Lock()
		t.load(&st, now)
		t.mu.Unlock()
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Route picks the caller number and trunk for an agent's call and leases the number:
// it analyses c.To in the tenant's region, refuses callees on a do-not-call list
// (ErrDoNotCall) or over the tenant's daily per-callee cap (ErrCalleeCapped), and
// takes the first number of the tenant's strategy, escalated after an unanswered
// call, that is not locked, resting or over a cap, least recently used first within
// a step (ErrNoCallerNumber if none). Refusals are *RefusedError and wrap
// ErrNoRoute; an unreadable number is a *NumberError wrapping ErrInvalidNumber.
// The decision's Lease must be released when the call ends. With WithSharedStore the
// store checks and reserves the number (shared.go), and ctx bounds that I/O.
func (r *Outbound) Route(ctx context.Context, c OutboundCall) (OutboundDecision, error) {
	if r.closed.Load() {
		return OutboundDecision{}, ErrClosed
	}
	t := r.tenants[c.Tenant]
	if t == nil {
		return OutboundDecision{}, fmt.Errorf("%w: tenant %q has no caller numbers", ErrNoRoute, c.Tenant)
	}
	callee, err := r.analyzer.Analyze(c.To, t.plan.Region)
	if err != nil {
		return OutboundDecision{}, err
	}
	key, _ := e164Key(callee.E164)
	if list, ok := r.dnc.listed(t.id, key); ok {
		return OutboundDecision{}, &RefusedError{Tenant: c.Tenant, Callee: callee.E164, Reason: ErrDoNotCall, Detail: list}
	}
	if r.shared != nil {
		return r.shared.route(ctx, r, c, t, callee, key) // several instances: the store reserves
	}
	l := &Lease{r: r, t: t, id: pool.NewLeaseID(), callID: c.CallID, instance: r.instance, callee: key, calleeE164: callee.E164}
	now := r.now()
	t.mu.Lock()
	sel, err := t.choose(&callee, key, now)
	if err != nil {
		t.mu.Unlock()
		return OutboundDecision{}, err
	}
	l.c = sel.chosen
	rec := t.reserve(sel.chosen, l, now)
	t.journal = append(t.journal, pool.CallerOp{Record: &rec})
	t.mu.Unlock()
	r.journal.poke()
	n := sel.chosen.n
	return OutboundDecision{From: n.Number, Trunk: n.Trunks[0], Trunks: n.Trunks, Pool: n.Pool, Kind: n.Kind,
		Step: sel.step, Callee: callee, Lease: l, EscalatedFrom: sel.from, Skipped: sel.skipped}, nil
}

// release ends lease l.
func (r *Outbound) release(l *Lease, outcome Outcome) {
	t := l.t
	now := r.now()
	t.mu.Lock()
	if t.release(l, outcome, now) {
		t.journal = append(t.journal, pool.CallerOp{Release: &pool.ReleaseRequest{LeaseID: l.id, Outcome: outcome, At: now,
			Health: t.plan.Health}})
		if r.shared != nil {
			r.shared.released(t, l.c, now)
		}
	}
	t.mu.Unlock()
	r.journal.poke()
}

// renew extends the leases this process holds, as the background loop does every
// third of the shortest lease.
func (r *Outbound) renew() {
	now := r.now()
	for _, t := range r.byID {
		t.mu.Lock()
		t.roll(now)
		if ids, until := t.renew(now, r.maxHold); len(ids) > 0 {
			t.journal = append(t.journal, pool.CallerOp{Renew: &pool.RenewRequest{LeaseIDs: ids, Now: now, Until: until}})
		}
		t.wakeDue(now.UnixMilli())
		t.mu.Unlock()
	}
	r.journal.poke()
}

// sweep deletes stored rows no decision reads any more.
func (r *Outbound) sweep(ctx context.Context) {
	now := r.now()
	req := pool.SweepRequest{LeasesBefore: now.Add(-time.Hour), DaysBefore: DayKey(now.Add(-48*time.Hour), time.UTC),
		AttemptsBefore: now.Add(-2 * time.Hour), HealthBefore: now, EscalationsBefore: now}
	for _, t := range r.byID {
		req.HealthBefore = minTime(req.HealthBefore, now.Add(-t.plan.Health.Window-time.Hour))
		req.EscalationsBefore = minTime(req.EscalationsBefore, now.Add(-max(t.plan.EscalateWithin, 0)))
	}
	res, err := r.store.SweepCallers(ctx, req)
	if err != nil {
		r.log.Warn("sweep caller state", "err", err)
		return
	}
	r.log.Debug("swept caller state", "leases", res.Leases, "counters", res.Counters, "attempts", res.Attempts,
		"health", res.Health, "escalations", res.Escalations)
}

// Intervals of the background loop.
const (
	sweepEvery = 10 * time.Minute
	minRenew   = time.Second
)

// background runs the journal writer and, on timers, lease renewal and the sweeper,
// until ctx ends.
func (r *Outbound) background(ctx context.Context) {
	defer close(r.done)
	var wg sync.WaitGroup
	wg.Go(func() { r.journal.run(ctx) })
	renewEvery := time.Hour
	for _, t := range r.byID {
		renewEvery = min(renewEvery, max(t.plan.Lease/3, minRenew))
	}
	renewT := time.NewTicker(renewEvery)
	sweepT := time.NewTicker(sweepEvery)
	defer renewT.Stop()
	defer sweepT.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-renewT.C:
			r.renew()
		case <-sweepT.C:
			r.sweep(ctx)
		}
	}
}

// Flush waits until every change made so far is written to the store.
func (r *Outbound) Flush(ctx context.Context) error {
	return r.journal.flush(ctx)
}

// Close stops the background goroutines and writes the journal to the store (for
// up to five seconds). It releases no lease: leases of calls still up expire after
// their lease time, as if the process had died. Calls after the first return nil.
func (r *Outbound) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.stop()
		<-r.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = r.journal.drain(ctx)
	})
	return err
}
