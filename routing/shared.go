package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"callgate/pool"
)

// This file is the outbound router's shared-store mode (WithSharedStore), for
// several callgate instances on one PostgreSQL database. The in-memory index still
// orders the candidates (strategy, escalation, city, least recently used) and knows
// the numbers this instance holds, but it cannot know what the other instances did
// since it last asked. So the reservation itself is the store's ReserveCaller: one
// transaction that locks the first candidate that is free and under every cap across
// all instances, leases it to this instance and counts it. The index then takes the
// store's answer: the chosen number is held by this call, and each candidate the
// store passed over is parked for as long as the store says (held by another
// instance, resting, over a cap) and moved to the back of its least-recently-used
// order.
//
// Candidates come in rounds. A round offers the store the first sharedBatch free
// numbers of the index, in strategy order; what the store refuses is parked, so the
// next round offers the next ones. When the index has no free number left, a last
// round offers every number the strategy allows except the ones this instance holds
// itself or knows to be resting or over a cap (counts only grow, but for calls not
// placed; a cap learnt from the store is looked at again after capRecheck): a number
// the index parked because another instance held it may be free again, and only the
// store knows.
// Within one instance a number offered first is marked pending until the store
// answers, so concurrent selections start from different numbers.
//
// Releases and renewals go to the store through the journal, as in the single-store
// mode: the lease row stays until the release is written, so no instance can take
// the number before this one let it go, and a few milliseconds later every instance
// can. If the store refuses every number and some only because this instance's
// release of them is not written yet, the selection waits for the journal once and
// tries again. A dead instance renews nothing and its leases expire after the tenant's lease
// time. Health is judged by the store on each release (over every instance's calls);
// a number it rests reaches this index the next time the store skips it.
//
// The do-not-call lists are checked at dial time in the store (DoNotCall, one
// indexed read) after the in-memory set: a number listed through another instance is
// refused at once, and a number taken off a list through another instance is
// callable at once. The in-memory set still answers OnDoNotCall and Explain, for
// this instance's changes and the lists as loaded at start.

// SharedCallerStore is the store of the shared-store mode: check-and-reserve across
// instances and the do-not-call lists at dial time.
type SharedCallerStore interface {
	CallerStore
	ReserveCaller(ctx context.Context, r pool.ReserveRequest) (pool.Reservation, error)
	DoNotCall(ctx context.Context, tenant, number string) (pool.DNCEntry, bool, error)
}

var (
	_ SharedCallerStore = (*pool.SQLiteStore)(nil)
	_ SharedCallerStore = (*pool.PostgresStore)(nil)
)

// Limits of a shared-mode selection.
const (
	sharedBatch  = 8 // free numbers offered per round
	sharedRounds = 4 // rounds of free numbers before the last round
	// sharedHint is how long a number is parked when the store skipped it because
	// another transaction was reserving it right then (no lease end known yet).
	sharedHint = time.Second
	// capRecheck bounds how long a number the store found over a cap is left out.
	capRecheck = time.Minute
	// unknownPark is how long a number the store does not know is left out.
	unknownPark = time.Minute
	// releaseGrace is how long after this instance released a number a lease the
	// store still shows is taken for that release not yet written, and writeHint
	// how long the number is then left out.
	releaseGrace = 5 * time.Second
	writeHint    = 20 * time.Millisecond
)

// foreignHold is the id of a hold the index learnt from the store: another
// instance's lease, whose id the store does not say.
const foreignHold = -1

// WithSharedStore makes the router reserve every caller number in the store
// (ReserveCaller) rather than in memory, so that several callgate instances on one
// store never hand one number to two calls nor count past a cap; the store must be
// a SharedCallerStore. Use it with PostgreSQL; on SQLite one process owns the file
// and the default mode is faster.
func WithSharedStore() RouterOption {
	return func(s *routerSettings) error {
		s.shared = true
		return nil
	}
}

// sharedMode is the shared-store state of a router.
type sharedMode struct {
	store SharedCallerStore
	// pending counts, per tenant (index = tenant id - 1) and under the tenant's
	// mutex, the selections that offered a number first and await the store.
	pending []map[*callerState]int
	// releasedAt is, per tenant and under its mutex, when this instance last
	// released each number: until the journal has written the release, the store
	// still shows the lease, which is no reason to think another instance holds it.
	releasedAt []map[*callerState]int64
}

// newSharedMode returns the shared mode over store, for r's tenants.
func newSharedMode(r *Outbound, store CallerStore) (*sharedMode, error) {
	ss, ok := store.(SharedCallerStore)
	if !ok {
		return nil, fmt.Errorf("routing: WithSharedStore: the store (%T) cannot reserve caller numbers", store)
	}
	m := &sharedMode{store: ss, pending: make([]map[*callerState]int, len(r.byID)),
		releasedAt: make([]map[*callerState]int64, len(r.byID))}
	for i := range m.pending {
		m.pending[i] = map[*callerState]int{}
		m.releasedAt[i] = map[*callerState]int64{}
	}
	return m, nil
}

// candidate is a number offered to the store and the step that allows it.
type candidate struct {
	c    *callerState
	step Step
}

// offer is one round's candidates.
type offer struct {
	cands   []candidate
	skipped []Skip // found blocked in memory on the way
	from    pool.NumberKind
	last    bool // the last round: every allowed number
	day     int
	dayEnd  time.Time
}

// route is Route in shared mode, after the in-memory do-not-call check.
func (m *sharedMode) route(ctx context.Context, r *Outbound, c OutboundCall, t *tenantIndex, callee Callee, key uint64) (OutboundDecision, error) {
	e, listed, err := m.store.DoNotCall(ctx, t.plan.Tenant, callee.E164)
	if err != nil {
		return OutboundDecision{}, fmt.Errorf("routing: do-not-call lookup: %w", err)
	}
	if listed {
		detail := "on the tenant's do-not-call list"
		if e.Tenant == "" {
			detail = "on the global do-not-call list"
		}
		return OutboundDecision{}, &RefusedError{Tenant: c.Tenant, Callee: callee.E164, Reason: ErrDoNotCall, Detail: detail}
	}
	l := &Lease{r: r, t: t, id: pool.NewLeaseID(), callID: c.CallID, instance: r.instance, callee: key, calleeE164: callee.E164}
	var skipped []Skip
	flushed := false
	for round := 0; ; round++ {
		now := r.now()
		t.mu.Lock()
		o, err := m.offer(t, &callee, key, now, round >= sharedRounds)
		t.mu.Unlock()
		skipped = appendSkips(skipped, o.skipped)
		if err != nil {
			return OutboundDecision{}, err
		}
		if len(o.cands) == 0 { // o.last: its skips cover every number
			return OutboundDecision{}, &RefusedError{Tenant: t.plan.Tenant, Callee: callee.E164, Reason: ErrNoCallerNumber,
				Detail: "every number the strategy allows is held by this instance, resting or over a cap", Skipped: o.skipped}
		}
		req := pool.ReserveRequest{Tenant: t.plan.Tenant, Callee: callee.E164, CallID: c.CallID, Instance: r.instance,
			LeaseID: l.id, Now: now, Day: o.day, DayEnd: o.dayEnd, LeaseFor: t.plan.Lease, Caps: t.plan.Caps,
			Candidates: make([]string, len(o.cands))}
		for i, cd := range o.cands {
			req.Candidates[i] = cd.c.n.Number
		}
		res, err := m.store.ReserveCaller(ctx, req)
		t.mu.Lock()
		unwritten := m.settle(t, o, key, res.Skipped, now)
		var chosen *candidate
		if err == nil {
			chosen = o.find(res.Number)
			if chosen != nil {
				if old := chosen.c.held; old.lease != nil && old.id != l.id {
					delete(t.live, old.id) // the store let that lease expire
				}
				l.c = chosen.c
				t.reserve(chosen.c, l, now) // recorded by the store already: nothing to journal
			}
		}
		t.mu.Unlock()
		skipped = appendSkips(skipped, res.Skipped)
		switch {
		case err == nil && chosen == nil:
			return OutboundDecision{}, fmt.Errorf("routing: the store reserved %s, which was not offered", res.Number)
		case err == nil:
			n := chosen.c.n
			return OutboundDecision{From: n.Number, Trunk: n.Trunks[0], Trunks: n.Trunks, Pool: n.Pool, Kind: n.Kind,
				Step: chosen.step, Callee: callee, Lease: l, EscalatedFrom: o.from, Skipped: skipped}, nil
		case errors.Is(err, pool.ErrCalleeCapped):
			return OutboundDecision{}, &RefusedError{Tenant: t.plan.Tenant, Callee: callee.E164, Reason: ErrCalleeCapped,
				Detail: err.Error()}
		case errors.Is(err, pool.ErrNoCallerNumber) && !o.last:
			continue // the store skipped them all: offer the next ones
		case errors.Is(err, pool.ErrNoCallerNumber) && unwritten > 0 && !flushed:
			// Numbers this instance let go are still leased in the store: wait
			// until the journal has written the releases, then try once more.
			flushed = true
			if err := r.journal.flush(ctx); err != nil {
				return OutboundDecision{}, fmt.Errorf("routing: write releases before retrying: %w", err)
			}
			round = -1
			skipped = skipped[:0]
			continue
		case errors.Is(err, pool.ErrNoCallerNumber):
			// The last round looked at every number: its skips are the whole story.
			return OutboundDecision{}, &RefusedError{Tenant: t.plan.Tenant, Callee: callee.E164, Reason: ErrNoCallerNumber,
				Detail:  fmt.Sprintf("the store skipped all %d numbers the strategy allows", len(o.cands)),
				Skipped: appendSkips(appendSkips(nil, o.skipped), res.Skipped)}
		default:
			return OutboundDecision{}, fmt.Errorf("routing: reserve a caller number: %w", err)
		}
	}
}

func appendSkips(to, from []Skip) []Skip {
	if n := maxSkips - len(to); n > 0 {
		to = append(to, from[:min(n, len(from))]...)
	}
	return to
}

// find returns the candidate for number, or nil.
func (o *offer) find(number string) *candidate {
	for i := range o.cands {
		if o.cands[i].c.n.Number == number {
			return &o.cands[i]
		}
	}
	return nil
}

// offer gathers one round's candidates for callee at now, under t.mu: up to
// sharedBatch free numbers in strategy order; in the last round, or when no number
// is free, every number the strategy allows that this instance does not hold and
// does not know to be resting. The first candidate is marked pending.
func (m *sharedMode) offer(t *tenantIndex, callee *Callee, key uint64, now time.Time, last bool) (offer, error) {
	nowMS := now.UnixMilli()
	t.roll(now)
	t.wakeDue(nowMS)
	o := offer{day: t.today, dayEnd: t.dayEnds}
	cd := t.callees[key]
	if limit := t.plan.Caps.CalleePerDay; limit > 0 && cd != nil && cd.total >= limit {
		return o, &RefusedError{Tenant: t.plan.Tenant, Callee: callee.E164, Reason: ErrCalleeCapped,
			Detail: fmt.Sprintf("%d of %d calls today", cd.total, limit)}
	}
	var steps []Step
	steps, o.from = t.strategyFor(key, nowMS)
	pending := m.pending[t.id-1]
	skip := func(c *callerState, why SkipReason, until int64, detail string) {
		if len(o.skipped) < maxSkips {
			sk := Skip{Number: c.n.Number, Reason: why, Detail: detail}
			if until > 0 {
				sk.Until = time.UnixMilli(until).UTC()
			}
			o.skipped = append(o.skipped, sk)
		}
	}
	if !last {
		t.epoch++
		type parking struct {
			c     *callerState
			why   SkipReason
			until int64
		}
		var toPark []parking
		for _, s := range steps {
			walkHeaps(t.stepGroups(s, callee), &t.scratch, func(mb *member) bool {
				c := mb.c
				if c.seen == t.epoch {
					return true
				}
				c.seen = t.epoch
				if why, until, detail := t.blocked(c, nowMS); why != "" {
					skip(c, why, until, detail)
					toPark = append(toPark, parking{c, why, until})
					return true
				}
				if why, detail := t.pairBlocked(c, cd); why != "" {
					skip(c, why, t.dayEnds.UnixMilli(), detail)
					return true
				}
				if pending[c] > 0 {
					return true // another selection of this instance offers it first
				}
				o.cands = append(o.cands, candidate{c: c, step: s})
				return len(o.cands) < sharedBatch
			})
			if len(o.cands) == sharedBatch {
				break
			}
		}
		for _, p := range toPark {
			t.park(p.c, p.why, p.until)
		}
	}
	if len(o.cands) == 0 {
		o.last = true
		o.skipped = o.skipped[:0]
		t.epoch++
		for _, s := range steps {
			start := len(o.cands)
			for _, c := range t.nums {
				if c.seen == t.epoch || !allows(s, c, callee) {
					continue
				}
				c.seen = t.epoch
				switch {
				case c.held.lease != nil && c.held.until > nowMS:
					why, until, detail := t.blocked(c, nowMS)
					skip(c, why, until, detail)
				case c.restingUntil > nowMS:
					skip(c, SkipResting, c.restingUntil, c.restReason)
				case c.parked && c.parkReason != SkipLocked:
					// Over a cap as this instance or the store counted: counts only
					// grow (but for calls not placed), so the store would say the same.
					if why, until, detail := t.blocked(c, nowMS); why != "" {
						skip(c, why, until, detail)
					} else {
						skip(c, c.parkReason, 0, "as the store counted a moment ago")
					}
				case t.pairBlockedFor(c, cd):
					why, detail := t.pairBlocked(c, cd)
					skip(c, why, t.dayEnds.UnixMilli(), detail)
				default:
					o.cands = append(o.cands, candidate{c: c, step: s})
				}
			}
			step := o.cands[start:]
			slices.SortStableFunc(step, func(a, b candidate) int {
				return compareInt(a.c.lastUsed, b.c.lastUsed)
			})
		}
	}
	if len(o.cands) > 0 {
		pending[o.cands[0].c]++
	}
	return o, nil
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// settle takes the store's answer to offer o into the index, under t.mu: the first
// candidate is no longer pending, and each skipped candidate is parked for as long
// as the store says. It returns how many were skipped as locked only because this
// instance's release of them is not written yet.
func (m *sharedMode) settle(t *tenantIndex, o offer, key uint64, skips []Skip, now time.Time) int {
	unwritten := 0
	pending := m.pending[t.id-1]
	if len(o.cands) > 0 {
		first := o.cands[0].c
		if pending[first]--; pending[first] <= 0 {
			delete(pending, first)
		}
	}
	nowMS := now.UnixMilli()
	for _, sk := range skips {
		c := t.byNumber[sk.Number]
		if c == nil {
			continue
		}
		until := msOf(sk.Until)
		if sk.Reason != SkipLocked && c.held.id == foreignHold {
			c.held = hold{} // the store says why it is skipped, and it is not a lease
		}
		switch sk.Reason {
		case SkipLocked:
			if c.held.lease != nil && c.held.until > nowMS {
				continue // this instance's own call: the index knows
			}
			if at, ok := m.releasedAt[t.id-1][c]; ok {
				if nowMS-at < releaseGrace.Milliseconds() {
					t.park(c, SkipLocked, nowMS+writeHint.Milliseconds()) // our release, not yet written
					unwritten++
					continue
				}
				delete(m.releasedAt[t.id-1], c)
			}
			if until <= nowMS {
				until = nowMS + sharedHint.Milliseconds() // being reserved right now
			}
			c.held = hold{id: foreignHold, until: until, acquired: nowMS}
			t.park(c, SkipLocked, until)
			c.lastUsed = max(c.lastUsed, nowMS) // parked: in no heap while it changes
		case SkipResting:
			if until > nowMS {
				c.restingUntil, c.restReason = until, sk.Detail
				t.park(c, SkipResting, until)
			}
		case SkipCallerHourCap, SkipCallerDayCap:
			if until > nowMS {
				// Not until the day ends: a call of another instance that was
				// not placed gives its count back, which only the store sees.
				t.park(c, sk.Reason, min(until, nowMS+capRecheck.Milliseconds()))
			}
		case SkipPairCap:
			t.pairCapped(c, key)
		case pool.SkipUnknown:
			t.log.Warn("caller number unknown to the store", "tenant", t.plan.Tenant, "number", c.n.Number, "detail", sk.Detail)
			t.park(c, pool.SkipUnknown, nowMS+unknownPark.Milliseconds())
		}
	}
	return unwritten
}

// pairCapped records that c reached the pair cap for callee key today (as the store
// counts, over every instance), leaving the callee's total as it is.
func (t *tenantIndex) pairCapped(c *callerState, key uint64) {
	limit := t.plan.Caps.PairPerDay
	if limit <= 0 {
		return
	}
	cd := t.calleeDay(key)
	for i := range cd.pairs {
		if cd.pairs[i].c == c {
			cd.pairs[i].n = max(cd.pairs[i].n, limit)
			return
		}
	}
	cd.pairs = append(cd.pairs, pairCount{c: c, n: limit})
}

// released notes, under t.mu, that this instance released its lease on c at now.
func (m *sharedMode) released(t *tenantIndex, c *callerState, now time.Time) {
	m.releasedAt[t.id-1][c] = now.UnixMilli()
}

// pairBlockedFor reports whether c is at the pair cap for the callee of cd.
func (t *tenantIndex) pairBlockedFor(c *callerState, cd *calleeDay) bool {
	why, _ := t.pairBlocked(c, cd)
	return why != ""
}
