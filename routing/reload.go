package routing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"callgate/configs"
)

// This file is the outbound router across config reloads. An Outbound's tenants are
// fixed when it is built, so a reload that changes the tenants' caller settings or
// caller pools builds a new Outbound from the store (after the old one has written
// its journal) and routes new calls through it. The old one is retired, not closed:
// the calls in progress hold its leases, which it keeps renewing and releases when
// those calls end. Until then the new router treats those numbers as locked, for as
// long as the old router holds them (mirror), so a reload never lets two calls
// share a caller number. A reload that changes nothing the router uses keeps the
// router as it is.

// mirrorEvery is how often the leases of retired routers are mirrored into the
// current one.
const mirrorEvery = time.Second

// ReloadingOutbound is the outbound router of the running config: it routes through
// the Outbound built from the latest config given to Reload. Safe for concurrent
// use; Close it when done.
type ReloadingOutbound struct {
	store    CallerStore
	analyzer *Analyzer
	opts     []RouterOption
	log      *slog.Logger
	now      func() time.Time

	// mu is held for reading by every use of cur, and for writing while Reload
	// swaps it, so no lease is taken from a router whose journal was already read
	// into its successor.
	mu      sync.RWMutex
	cur     *Outbound
	key     callerKey
	retired []*retiredRouter

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// retiredRouter is a router of an earlier config serving the leases of calls in
// progress; ids are the leases it held when retired.
type retiredRouter struct {
	r   *Outbound
	ids map[int64]bool
}

// callerKey is what of a config the outbound router is built from; a reload that
// leaves it equal keeps the router.
type callerKey struct {
	tenants []configs.Tenant
	pools   []configs.Pool
	maxHold time.Duration
}

// callerKeyOf takes the router's part of cfg, without positions or settings other
// parts use.
func callerKeyOf(cfg *configs.Config) callerKey {
	k := callerKey{maxHold: maxHoldOf(cfg)}
	for _, t := range cfg.Tenants {
		k.tenants = append(k.tenants, configs.Tenant{Name: t.Name, TimeZone: t.TimeZone, DefaultRegion: t.DefaultRegion,
			Callers: t.Callers})
	}
	for _, p := range cfg.Pools {
		if p.CallerPool() {
			p.Pos = configs.Pos{}
			k.pools = append(k.pools, p)
		}
	}
	return k
}

// maxHoldOf is how long a lease is renewed at most: the longest call (see
// NewOutboundFromConfig); 0 when calls have no limit.
func maxHoldOf(cfg *configs.Config) time.Duration {
	if d := cfg.SIP.MaxCallDuration.Std(); d > 0 {
		return d + cfg.SIP.RingTimeout.Std() + time.Minute
	}
	return 0
}

// NewReloadingOutbound builds the outbound router of cfg over store, as
// NewOutboundFromConfig does, ready to take later configs through Reload. opts
// apply to every router it builds (WithMaxHold is taken from each config).
func NewReloadingOutbound(ctx context.Context, cfg *configs.Config, store CallerStore, opts ...RouterOption) (*ReloadingOutbound, error) {
	set := routerSettings{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&set); err != nil {
			return nil, err
		}
	}
	r := &ReloadingOutbound{store: store, analyzer: set.analyzer, opts: opts, log: set.log, now: set.now}
	if r.analyzer == nil {
		r.analyzer = NewAnalyzer()
	}
	cur, err := r.build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.cur, r.key = cur, callerKeyOf(cfg)
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop, r.done = stop, make(chan struct{})
	go r.mirrorLoop(bg)
	return r, nil
}

// build makes the router of cfg.
func (r *ReloadingOutbound) build(ctx context.Context, cfg *configs.Config) (*Outbound, error) {
	plans, err := PlansFromConfig(cfg, r.analyzer)
	if err != nil {
		return nil, err
	}
	opts := append([]RouterOption{WithAnalyzer(r.analyzer)}, r.opts...)
	if d := maxHoldOf(cfg); d > 0 {
		opts = append(opts, WithMaxHold(d))
	}
	return NewOutboundRouter(ctx, r.store, plans, opts...)
}

// Reload makes cfg's tenants, caller settings and caller pools the ones new calls
// are routed by, and reports whether anything the router uses changed. On error
// the router of the previous config keeps routing.
func (r *ReloadingOutbound) Reload(ctx context.Context, cfg *configs.Config) (changed bool, err error) {
	key := callerKeyOf(cfg)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur.closed.Load() {
		return false, ErrClosed
	}
	if reflect.DeepEqual(key, r.key) {
		return false, nil
	}
	// Everything the old router did is in the store before the new one reads it.
	if err := r.cur.Flush(ctx); err != nil {
		return false, fmt.Errorf("routing: reload: write the journal: %w", err)
	}
	next, err := r.build(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("routing: reload: %w", err)
	}
	old := &retiredRouter{r: r.cur, ids: map[int64]bool{}}
	for _, l := range liveLeases(old.r, r.now()) {
		old.ids[l.id] = true
	}
	r.retired = append(r.retired, old)
	r.cur, r.key = next, key
	r.mirrorLocked()
	r.log.Info("caller-number routing reloaded", "tenants", len(key.tenants), "caller_pools", len(key.pools),
		"leases_of_calls_in_progress", len(old.ids))
	return true, nil
}

// liveLease is a lease a router holds for a call in progress.
type liveLease struct {
	tenant, number string
	id             int64
	h              hold
}

// liveLeases lists the unexpired leases r's calls hold at now.
func liveLeases(r *Outbound, now time.Time) []liveLease {
	nowMS := now.UnixMilli()
	var out []liveLease
	for _, t := range r.byID {
		t.mu.Lock()
		for id, c := range t.live {
			if c.held.id == id && c.held.until > nowMS {
				h := c.held
				h.lease = nil
				out = append(out, liveLease{tenant: t.plan.Tenant, number: c.n.Number, id: id, h: h})
			}
		}
		t.mu.Unlock()
	}
	return out
}

// mirrorLoop mirrors the retired routers' leases until ctx ends.
func (r *ReloadingOutbound) mirrorLoop(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(mirrorEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.mu.RLock()
			n := len(r.retired)
			r.mu.RUnlock()
			if n == 0 {
				continue
			}
			r.mu.Lock()
			r.mirrorLocked()
			r.mu.Unlock()
		}
	}
}

// mirrorLocked locks in the current router every number a retired router's call
// still holds, frees those whose calls ended, and closes retired routers that hold
// nothing any more. r.mu is held.
func (r *ReloadingOutbound) mirrorLocked() {
	if len(r.retired) == 0 {
		return
	}
	now := r.now()
	nowMS := now.UnixMilli()
	held := map[int64]liveLease{}
	known := map[int64]bool{}
	keep := r.retired[:0]
	for _, old := range r.retired {
		n := 0
		for _, l := range liveLeases(old.r, now) {
			if old.ids[l.id] {
				held[l.id] = l
				n++
			}
		}
		for id := range old.ids {
			known[id] = true
		}
		if n > 0 {
			keep = append(keep, old)
			continue
		}
		if err := old.r.Close(); err != nil {
			r.log.Warn("close the caller-number router of an earlier config", "err", err)
		}
	}
	clear(r.retired[len(keep):])
	r.retired = keep
	byNumber := map[string]map[string]liveLease{}
	for _, l := range held {
		if byNumber[l.tenant] == nil {
			byNumber[l.tenant] = map[string]liveLease{}
		}
		byNumber[l.tenant][l.number] = l
	}
	for _, t := range r.cur.byID {
		t.mu.Lock()
		for _, c := range t.nums {
			l, ok := byNumber[t.plan.Tenant][c.n.Number]
			switch {
			case ok && c.held.lease == nil && (c.held.id == 0 || c.held.id == l.id):
				if c.held.id != l.id || c.held.until != l.h.until {
					c.held = l.h
					t.recheck(c, nowMS)
				}
			case !ok && c.held.lease == nil && known[c.held.id]:
				c.held = hold{} // that call ended
				t.recheck(c, nowMS)
			}
		}
		t.mu.Unlock()
	}
}

// Current returns the router new calls go through now (for tests and explain).
func (r *ReloadingOutbound) Current() *Outbound {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur
}

// Route routes an agent's call with the current config (see Outbound.Route).
func (r *ReloadingOutbound) Route(ctx context.Context, c OutboundCall) (OutboundDecision, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.Route(ctx, c)
}

// Explain explains caller-number selection with the current config.
func (r *ReloadingOutbound) Explain(ctx context.Context, tenant, callee string) (Explanation, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.Explain(ctx, tenant, callee)
}

// AddDoNotCall adds numbers to a do-not-call list (see Outbound.AddDoNotCall).
func (r *ReloadingOutbound) AddDoNotCall(ctx context.Context, tenant string, numbers []string, source string) (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.AddDoNotCall(ctx, tenant, numbers, source)
}

// RemoveDoNotCall removes a number from a do-not-call list.
func (r *ReloadingOutbound) RemoveDoNotCall(ctx context.Context, tenant, number string) (bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.RemoveDoNotCall(ctx, tenant, number)
}

// ImportDoNotCall adds the numbers of a CSV file to a do-not-call list.
func (r *ReloadingOutbound) ImportDoNotCall(ctx context.Context, tenant string, csv io.Reader, source string) (DNCImport, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.ImportDoNotCall(ctx, tenant, csv, source)
}

// OnDoNotCall reports whether number is on tenant's or the global list.
func (r *ReloadingOutbound) OnDoNotCall(tenant, number string) (bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.OnDoNotCall(tenant, number)
}

// Normalize reads number as tenant's calls do.
func (r *ReloadingOutbound) Normalize(tenant, number string) (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.Normalize(tenant, number)
}

// Flush waits until every change made so far by the current router is written.
func (r *ReloadingOutbound) Flush(ctx context.Context) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.Flush(ctx)
}

// Close closes the current router and every retired one (see Outbound.Close).
// Calls after the first return nil.
func (r *ReloadingOutbound) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.stop()
		<-r.done
		r.mu.Lock()
		defer r.mu.Unlock()
		err = r.cur.Close()
		for _, old := range r.retired {
			if cerr := old.r.Close(); err == nil {
				err = cerr
			}
		}
		r.retired = nil
	})
	return err
}
