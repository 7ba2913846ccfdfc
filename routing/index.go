package routing

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"callgate/pool"
)

// This file is the in-memory index behind the outbound router: per tenant, every
// caller number with its lease, counters and health, grouped by kind and place in
// heaps of free numbers, least recently used first. A number that cannot be used
// whoever the callee is (locked, resting, over its hourly or daily cap) is parked:
// taken out of its heaps until the moment it may be free again. Selection therefore
// walks only free numbers and stops at the first that is not over the pair cap for
// this callee. Everything is guarded by the tenant's mutex; the store gets the same
// changes through the tenant's journal, appended under that mutex so that it sees
// them in the order they happened.

const hourMS = int64(time.Hour / time.Millisecond)

// maxSkips bounds the skipped candidates a decision reports.
const maxSkips = 32

// hold is a number's lease.
type hold struct {
	id       int64
	until    int64 // unix ms
	acquired int64
	callID   string
	lease    *Lease // nil for a lease this process did not take (read at start)
}

// attempt is one reservation, for the sliding hour.
type attempt struct {
	at int64
	id int64
}

// healthBucket counts placed calls and answers in one unix hour.
type healthBucket struct {
	hour     int64
	attempts int
	answers  int
}

// callerState is one caller number in memory.
type callerState struct {
	n               pool.CallerNumber
	idx             int // config order
	perDay, perHour int // effective caps; 0: none
	cityKeys        []string
	provinceKeys    []string

	lastUsed     int64 // unix ms; 0 never
	restingUntil int64
	restReason   string
	held         hold
	day, dayN    int // calls on day (the tenant's)
	hour         []attempt
	health       []healthBucket

	members    []*member
	parked     bool
	parkReason SkipReason
	gen        uint64
	seen       uint64 // the selection that last examined it
}

// pairCount is the calls from one number to a callee today.
type pairCount struct {
	c *callerState
	n int
}

// calleeDay is the calls to one callee today.
type calleeDay struct {
	total int
	pairs []pairCount
}

func (d *calleeDay) pair(c *callerState) int {
	if d == nil {
		return 0
	}
	for _, p := range d.pairs {
		if p.c == c {
			return p.n
		}
	}
	return 0
}

func (d *calleeDay) add(c *callerState, delta int) {
	d.total = max(d.total+delta, 0)
	for i := range d.pairs {
		if d.pairs[i].c == c {
			d.pairs[i].n = max(d.pairs[i].n+delta, 0)
			return
		}
	}
	if delta > 0 {
		d.pairs = append(d.pairs, pairCount{c: c, n: delta})
	}
}

// escalation is how the last placed call to a callee ended.
type escalation struct {
	kind     pool.NumberKind
	answered bool
	at       int64
}

// groupKey names a group of numbers: a kind, and a place for city and province
// matches.
type groupKey struct {
	kind  pool.NumberKind
	match Match
	place string
}

// tenantIndex is one tenant's numbers and selection state.
type tenantIndex struct {
	id         uint32 // for do-not-call keys; 0 is the global list
	plan       TenantPlan
	loc        *time.Location
	kinds      []pool.NumberKind
	strategies [][]Step // [0]: the plan's; [i+1]: after an unanswered call from kinds[i]
	log        *slog.Logger

	mu       sync.Mutex
	nums     []*callerState
	byNumber map[string]*callerState
	groups   map[groupKey]*numberHeap
	wakes    wakeHeap
	parkedBy map[SkipReason]int
	today    int
	dayEnds  time.Time
	callees  map[uint64]*calleeDay // today's
	esc      map[uint64]escalation // two generations, rotated every EscalateWithin
	escPrev  map[uint64]escalation
	escSince int64
	live     map[int64]*callerState // leases this process holds
	epoch    uint64
	scratch  []cursor
	heaps    []*numberHeap   // scratch for stepGroups
	journal  []pool.CallerOp // changes not yet handed to the store
}

// newTenantIndex builds the index of plan p (checked) with every number free.
func newTenantIndex(id uint32, p TenantPlan, log *slog.Logger) *tenantIndex {
	t := &tenantIndex{
		id: id, plan: p, loc: p.Location, kinds: p.kinds(), log: log,
		byNumber: make(map[string]*callerState, len(p.Numbers)),
		groups:   map[groupKey]*numberHeap{},
		parkedBy: map[SkipReason]int{},
		callees:  map[uint64]*calleeDay{},
		esc:      map[uint64]escalation{},
		live:     map[int64]*callerState{},
	}
	if t.loc == nil {
		t.loc = time.UTC
	}
	t.strategies = append(t.strategies, p.Strategy)
	for _, k := range t.kinds {
		t.strategies = append(t.strategies, escalated(p.Strategy, t.kinds, k))
	}
	for i, n := range p.Numbers {
		c := &callerState{n: n, idx: i, perDay: pool.Limit(n.PerDay, p.Caps.CallerPerDay),
			perHour: pool.Limit(n.PerHour, p.Caps.CallerPerHour)}
		for _, s := range n.Cities {
			c.cityKeys = appendKey(c.cityKeys, s)
		}
		for _, s := range n.Provinces {
			c.provinceKeys = appendKey(c.provinceKeys, s)
		}
		for _, g := range t.groupsOf(c) {
			h := t.groups[g]
			if h == nil {
				h = &numberHeap{}
				t.groups[g] = h
			}
			c.members = append(c.members, &member{c: c, h: h, pos: -1})
		}
		t.nums = append(t.nums, c)
		t.byNumber[n.Number] = c
	}
	return t
}

// groupsOf lists the groups number c belongs to under the plan's steps.
func (t *tenantIndex) groupsOf(c *callerState) []groupKey {
	var out []groupKey
	for _, s := range t.plan.Strategy {
		if s.Kind != c.n.Kind {
			continue
		}
		switch s.Match {
		case MatchAny:
			out = append(out, groupKey{kind: s.Kind, match: MatchAny})
		case MatchCity:
			for _, k := range c.cityKeys {
				out = append(out, groupKey{kind: s.Kind, match: MatchCity, place: k})
			}
		case MatchProvince:
			for _, k := range c.provinceKeys {
				out = append(out, groupKey{kind: s.Kind, match: MatchProvince, place: k})
			}
		}
	}
	return out
}

// stepGroups returns the heaps of step s for callee, in t.heaps.
func (t *tenantIndex) stepGroups(s Step, callee *Callee) []*numberHeap {
	var keys []string
	switch s.Match {
	case MatchAny:
		keys = []string{""}
	case MatchCity:
		keys = callee.cityKeys
	case MatchProvince:
		keys = callee.provinceKeys
	}
	out := t.heaps[:0]
	for _, k := range keys {
		if h := t.groups[groupKey{kind: s.Kind, match: s.Match, place: k}]; h != nil {
			out = append(out, h)
		}
	}
	t.heaps = out
	return out
}

// allows reports whether step s allows number c for callee.
func allows(s Step, c *callerState, callee *Callee) bool {
	if s.Kind != c.n.Kind {
		return false
	}
	switch s.Match {
	case MatchCity:
		return intersects(c.cityKeys, callee.cityKeys)
	case MatchProvince:
		return intersects(c.provinceKeys, callee.provinceKeys)
	}
	return true
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// roll moves the index to now's day: yesterday's callee counters go.
func (t *tenantIndex) roll(now time.Time) {
	if d := DayKey(now, t.loc); d != t.today {
		t.today, t.dayEnds = d, dayEnd(now, t.loc)
		clear(t.callees)
	}
	if w := t.plan.EscalateWithin.Milliseconds(); w > 0 && now.UnixMilli()-t.escSince >= w {
		t.escPrev, t.esc, t.escSince = t.esc, map[uint64]escalation{}, now.UnixMilli()
	}
}

// escalationOf returns the callee's last placed call if it is within the window.
func (t *tenantIndex) escalationOf(key uint64, now int64) (escalation, bool) {
	w := t.plan.EscalateWithin.Milliseconds()
	if w <= 0 {
		return escalation{}, false
	}
	e, ok := t.esc[key]
	if !ok {
		e, ok = t.escPrev[key]
	}
	return e, ok && now-e.at <= w
}

// strategyFor returns the steps for a callee, escalated after an unanswered call,
// and the kind escalated from.
func (t *tenantIndex) strategyFor(key uint64, now int64) ([]Step, pool.NumberKind) {
	e, ok := t.escalationOf(key, now)
	if !ok || e.answered {
		return t.strategies[0], ""
	}
	for i, k := range t.kinds {
		if k == e.kind {
			return t.strategies[i+1], k
		}
	}
	return t.strategies[0], ""
}

// blocked says why c cannot carry any call at now and until when, or "" if it can.
func (t *tenantIndex) blocked(c *callerState, now int64) (SkipReason, int64, string) {
	if c.held.id != 0 && c.held.until > now {
		detail := "in a call"
		if c.held.callID != "" {
			detail = "in call " + c.held.callID
		}
		return SkipLocked, c.held.until, detail
	}
	if c.restingUntil > now {
		return SkipResting, c.restingUntil, c.restReason
	}
	if c.perHour > 0 {
		k := 0
		for k < len(c.hour) && c.hour[k].at <= now-hourMS {
			k++
		}
		if k > 0 {
			c.hour = slices.Delete(c.hour, 0, k)
		}
		if n := len(c.hour); n >= c.perHour {
			return SkipCallerHourCap, c.hour[n-c.perHour].at + hourMS,
				fmt.Sprintf("%d of %d calls in the last hour", n, c.perHour)
		}
	}
	if c.perDay > 0 && c.day == t.today && c.dayN >= c.perDay {
		return SkipCallerDayCap, t.dayEnds.UnixMilli(), fmt.Sprintf("%d of %d calls today", c.dayN, c.perDay)
	}
	return "", 0, ""
}

// pairBlocked says why c cannot call the callee of cd, or "" if it can.
func (t *tenantIndex) pairBlocked(c *callerState, cd *calleeDay) (SkipReason, string) {
	if limit := t.plan.Caps.PairPerDay; limit > 0 {
		if n := cd.pair(c); n >= limit {
			return SkipPairCap, fmt.Sprintf("%d of %d calls to this callee today", n, limit)
		}
	}
	return "", ""
}

// park takes c out of its heaps until at (unix ms), when it is looked at again.
func (t *tenantIndex) park(c *callerState, why SkipReason, at int64) {
	if c.parked {
		t.parkedBy[c.parkReason]--
	} else {
		for _, m := range c.members {
			m.h.remove(m)
		}
		c.parked = true
	}
	c.parkReason = why
	t.parkedBy[why]++
	c.gen++
	t.wakes.push(wake{at: at, c: c, gen: c.gen})
}

// unpark puts c back in its heaps.
func (t *tenantIndex) unpark(c *callerState) {
	if !c.parked {
		return
	}
	t.parkedBy[c.parkReason]--
	c.parked, c.parkReason = false, ""
	c.gen++
	for _, m := range c.members {
		m.h.push(m)
	}
}

// recheck parks or unparks c according to its state at now.
func (t *tenantIndex) recheck(c *callerState, now int64) {
	if why, until, _ := t.blocked(c, now); why != "" {
		t.park(c, why, until)
		return
	}
	t.unpark(c)
}

// wakeDue rechecks the parked numbers whose time has come.
func (t *tenantIndex) wakeDue(now int64) {
	for {
		w, ok := t.wakes.popDue(now)
		if !ok {
			return
		}
		if w.gen == w.c.gen && w.c.parked {
			t.recheck(w.c, now)
		}
	}
}

// selection is the outcome of choosing a number for a callee.
type selection struct {
	chosen  *callerState
	step    Step
	skipped []Skip
	from    pool.NumberKind // escalated from
}

// choose picks the number for callee at now: the first free number in strategy
// order that is under the pair cap. It changes only the parking of numbers found
// blocked on the way.
func (t *tenantIndex) choose(callee *Callee, key uint64, now time.Time) (selection, error) {
	nowMS := now.UnixMilli()
	t.roll(now)
	t.wakeDue(nowMS)
	cd := t.callees[key]
	if limit := t.plan.Caps.CalleePerDay; limit > 0 && cd != nil && cd.total >= limit {
		return selection{}, &RefusedError{Tenant: t.plan.Tenant, Callee: callee.E164, Reason: ErrCalleeCapped,
			Detail: fmt.Sprintf("%d of %d calls today", cd.total, limit)}
	}
	var sel selection
	var steps []Step
	steps, sel.from = t.strategyFor(key, nowMS)
	t.epoch++
	type parking struct {
		c     *callerState
		why   SkipReason
		until int64
	}
	var toPark []parking
	skip := func(c *callerState, why SkipReason, until int64, detail string) {
		if len(sel.skipped) < maxSkips {
			sk := Skip{Number: c.n.Number, Reason: why, Detail: detail}
			if until > 0 {
				sk.Until = time.UnixMilli(until).UTC()
			}
			sel.skipped = append(sel.skipped, sk)
		}
	}
	for _, s := range steps {
		walkHeaps(t.stepGroups(s, callee), &t.scratch, func(m *member) bool {
			c := m.c
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
			sel.chosen, sel.step = c, s
			return false
		})
		if sel.chosen != nil {
			break
		}
	}
	for _, p := range toPark {
		t.park(p.c, p.why, p.until)
	}
	if sel.chosen == nil {
		return sel, &RefusedError{Tenant: t.plan.Tenant, Callee: callee.E164, Reason: ErrNoCallerNumber,
			Detail: t.busySummary(), Skipped: sel.skipped}
	}
	return sel, nil
}

// busySummary says how many numbers are parked, by reason.
func (t *tenantIndex) busySummary() string {
	var b []byte
	for _, why := range []SkipReason{SkipLocked, SkipResting, SkipCallerHourCap, SkipCallerDayCap} {
		if n := t.parkedBy[why]; n > 0 {
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, ' ')
			b = append(b, why...)
			b = append(b, ", "...)
		}
	}
	b = append(b, "of "...)
	b = strconv.AppendInt(b, int64(len(t.nums)), 10)
	b = append(b, " numbers; no other is allowed for this callee and under the pair cap"...)
	return string(b)
}

// reserve leases c for a call to callee (key) at now and counts it; the caller
// journals the returned record.
func (t *tenantIndex) reserve(c *callerState, l *Lease, now time.Time) pool.LeaseRecord {
	nowMS := now.UnixMilli()
	until := now.Add(t.plan.Lease)
	c.held = hold{id: l.id, until: until.UnixMilli(), acquired: nowMS, callID: l.callID, lease: l}
	c.lastUsed = nowMS
	if c.day != t.today {
		c.day, c.dayN = t.today, 0
	}
	c.dayN++
	if c.perHour > 0 {
		c.hour = append(c.hour, attempt{at: nowMS, id: l.id})
	}
	cd := t.callees[l.callee]
	if cd == nil {
		cd = &calleeDay{}
		t.callees[l.callee] = cd
	}
	cd.add(c, 1)
	t.live[l.id] = c
	t.park(c, SkipLocked, c.held.until)
	l.day, l.at, l.until = t.today, nowMS, until
	return pool.LeaseRecord{LeaseID: l.id, Number: c.n.Number, Tenant: t.plan.Tenant, Callee: l.calleeE164,
		CallID: l.callID, Instance: l.instance, Day: t.today, AcquiredAt: time.UnixMilli(nowMS).UTC(), Until: until}
}

// release ends lease l with outcome at now, and reports whether it still held its
// number (a lease that expired and was taken over by another call is ignored).
func (t *tenantIndex) release(l *Lease, outcome pool.Outcome, now time.Time) bool {
	c := l.c
	if c.held.lease != l {
		return false
	}
	nowMS := now.UnixMilli()
	c.held = hold{}
	delete(t.live, l.id)
	t.roll(now)
	switch outcome {
	case pool.OutcomeNotPlaced:
		if c.day == l.day && c.dayN > 0 {
			c.dayN--
		}
		c.hour = slices.DeleteFunc(c.hour, func(a attempt) bool { return a.id == l.id })
		if cd := t.callees[l.callee]; cd != nil && l.day == t.today {
			cd.add(c, -1)
		}
	case pool.OutcomeAnswered, pool.OutcomeUnanswered:
		if t.plan.EscalateWithin > 0 {
			t.esc[l.callee] = escalation{kind: c.n.Kind, answered: outcome == pool.OutcomeAnswered, at: nowMS}
		}
		t.judge(c, outcome == pool.OutcomeAnswered, now)
	}
	t.recheck(c, nowMS)
	return true
}

// judge adds a placed call to c's health and rests c if its answer rate collapsed,
// as the store does in ReleaseCaller.
func (t *tenantIndex) judge(c *callerState, answered bool, now time.Time) {
	rule := t.plan.Health
	if !rule.On() {
		return
	}
	hour := pool.UnixHour(now)
	if n := len(c.health); n > 0 && c.health[n-1].hour == hour {
		c.health[n-1].attempts++
		if answered {
			c.health[n-1].answers++
		}
	} else {
		b := healthBucket{hour: hour, attempts: 1}
		if answered {
			b.answers = 1
		}
		c.health = append(c.health, b)
	}
	from := hour - rule.WindowHours()
	c.health = slices.DeleteFunc(c.health, func(b healthBucket) bool { return b.hour <= from })
	attempts, answers := 0, 0
	for _, b := range c.health {
		attempts += b.attempts
		answers += b.answers
	}
	if !rule.Collapsed(attempts, answers) {
		return
	}
	c.restingUntil = now.Add(rule.Rest).UnixMilli()
	c.restReason = fmt.Sprintf("answered %d of %d calls, below %.0f%%", answers, attempts, 100*rule.AnswerRateFloor)
	c.health = nil
	t.log.Warn("caller number resting: answer rate collapsed", "tenant", t.plan.Tenant, "number", c.n.Number,
		"attempts", attempts, "answers", answers, "until", time.UnixMilli(c.restingUntil).UTC())
}

// renew extends the leases this process holds that have not expired and are
// younger than maxHold (0: no bound), and returns their ids and new end.
func (t *tenantIndex) renew(now time.Time, maxHold time.Duration) ([]int64, time.Time) {
	nowMS := now.UnixMilli()
	until := now.Add(t.plan.Lease)
	var ids []int64
	for id, c := range t.live {
		switch {
		case c.held.until <= nowMS:
			continue // expired: the number may already be in another call
		case maxHold > 0 && nowMS-c.held.acquired >= maxHold.Milliseconds():
			continue // held too long: the call must have been lost; let it expire
		}
		c.held.until = until.UnixMilli()
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, until
}

// load applies the stored state st at now to a fresh index, then parks what is
// blocked and fills the heaps.
func (t *tenantIndex) load(st *pool.CallerState, now time.Time) {
	nowMS := now.UnixMilli()
	t.roll(now)
	t.escSince = nowMS
	if len(t.callees) == 0 {
		t.callees = make(map[uint64]*calleeDay, len(st.CalleeDays))
	}
	for _, n := range st.Numbers {
		if c := t.byNumber[n.Number]; c != nil && n.Tenant == t.plan.Tenant {
			c.lastUsed = msOf(n.LastUsedAt)
			c.restingUntil = msOf(n.RestingUntil)
			c.restReason = n.RestReason
		}
	}
	for _, l := range st.Leases {
		if c := t.byNumber[l.Number]; c != nil {
			c.held = hold{id: l.LeaseID, until: l.Until.UnixMilli(), acquired: l.AcquiredAt.UnixMilli(), callID: l.CallID}
		}
	}
	for _, d := range st.CallerDays {
		if c := t.byNumber[d.Key]; c != nil && d.Day == t.today {
			c.day, c.dayN = d.Day, d.Calls
		}
	}
	for _, d := range st.CalleeDays {
		if d.Tenant != t.plan.Tenant || d.Day != t.today {
			continue
		}
		if k, ok := e164Key(d.Callee); ok {
			cd := t.calleeDay(k)
			cd.total += d.Calls
		}
	}
	for _, p := range st.Pairs {
		c := t.byNumber[p.Caller]
		k, ok := e164Key(p.Callee)
		if c == nil || !ok || p.Day != t.today {
			continue
		}
		cd := t.calleeDay(k)
		cd.pairs = append(cd.pairs, pairCount{c: c, n: p.Calls})
	}
	for _, a := range st.Attempts {
		if c := t.byNumber[a.Number]; c != nil && c.perHour > 0 {
			c.hour = append(c.hour, attempt{at: a.At.UnixMilli(), id: a.LeaseID})
		}
	}
	from := pool.UnixHour(now) - t.plan.Health.WindowHours()
	for _, h := range st.Health {
		if c := t.byNumber[h.Number]; c != nil && h.Hour > from {
			c.health = append(c.health, healthBucket{hour: h.Hour, attempts: h.Attempts, answers: h.Answers})
		}
	}
	for _, e := range st.Escalations {
		if e.Tenant != t.plan.Tenant {
			continue
		}
		if k, ok := e164Key(e.Callee); ok {
			t.esc[k] = escalation{kind: e.Kind, answered: e.Outcome == pool.OutcomeAnswered, at: e.At.UnixMilli()}
		}
	}
	for _, c := range t.nums {
		slices.SortFunc(c.hour, func(a, b attempt) int { return int(a.at - b.at) })
		slices.SortFunc(c.health, func(a, b healthBucket) int { return int(a.hour - b.hour) })
		c.parked = true // so that recheck either parks it or pushes it into its heaps
		c.parkReason = SkipLocked
		t.parkedBy[SkipLocked]++
		t.recheck(c, nowMS)
	}
}

func (t *tenantIndex) calleeDay(k uint64) *calleeDay {
	cd := t.callees[k]
	if cd == nil {
		cd = &calleeDay{}
		t.callees[k] = cd
	}
	return cd
}

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// e164Key packs an E.164 number into an integer: its digits, with a leading 1 so
// that no two numbers share a key.
func e164Key(s string) (uint64, bool) {
	if len(s) < 2 || len(s) > 16 || s[0] != '+' {
		return 0, false
	}
	k := uint64(1)
	for i := 1; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		k = k*10 + uint64(d)
	}
	return k, true
}
