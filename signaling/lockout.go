package signaling

import (
	"net/netip"
	"sync"
	"time"
)

// This file holds the login lockout: failed logins counted per agent and per source
// address, in memory (a restart forgets them).

// LockoutSettings bound failed logins. Zero means default; a negative count turns
// that lockout off.
type LockoutSettings struct {
	// Failures is how many failed password logins of one agent (tenant and name,
	// whether or not the agent exists) within Window lock that agent out; default 5.
	Failures int
	// IPFailures is how many failed logins from one source address (an IPv6
	// address's /64), whatever the agent or way of logging in, within Window lock
	// that address out; default 30.
	IPFailures int
	// Window is how far back failures count; default 15 min.
	Window time.Duration
	// Lockout is how long a lockout lasts; default 15 min.
	Lockout time.Duration
}

// Defaults of LockoutSettings.
const (
	defaultLockoutFailures   = 5
	defaultLockoutIPFailures = 30
	defaultLockoutWindow     = 15 * time.Minute
	defaultLockoutDuration   = 15 * time.Minute
	// maxLockoutEntries bounds the agents and addresses tracked at once. When the
	// table is full of live entries, logins of agents and addresses not in it are
	// refused as locked out until entries expire: guessing is not let through.
	maxLockoutEntries = 1 << 16
)

// outcome is how one login attempt ended.
type outcome int

const (
	loginSucceeded outcome = iota
	loginFailed            // bad credentials: counts towards a lockout
	loginAborted           // neither (the store failed): counts for nothing
)

// lockKey identifies what failures are counted for: an agent, or a source address
// prefix.
type lockKey struct {
	byAgent       bool
	tenant, agent string       // byAgent
	src           netip.Prefix // !byAgent
}

// strikes is the state of one key.
type strikes struct {
	first    time.Time // when the first failure counted now happened
	failures int       // within Window of first
	inflight int       // attempts being checked
	until    time.Time // locked out until then
}

// lockout counts failed logins and refuses logins of locked-out agents and
// addresses. It is safe for concurrent use.
type lockout struct {
	set LockoutSettings
	now func() time.Time

	mu        sync.Mutex
	entries   map[lockKey]*strikes
	lastSweep time.Time
}

func newLockout(set LockoutSettings, now func() time.Time) *lockout {
	if set.Failures == 0 {
		set.Failures = defaultLockoutFailures
	}
	if set.IPFailures == 0 {
		set.IPFailures = defaultLockoutIPFailures
	}
	if set.Window <= 0 {
		set.Window = defaultLockoutWindow
	}
	if set.Lockout <= 0 {
		set.Lockout = defaultLockoutDuration
	}
	return &lockout{set: set, now: now, entries: map[lockKey]*strikes{}}
}

// sourcePrefix is the unit the per-address lockout counts: an IPv4 address, an
// IPv6 /64 (one subscriber usually holds a whole /64), or the zero prefix for an
// unknown source.
func sourcePrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	switch {
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	case a.Is6():
		p, _ := a.WithZone("").Prefix(64)
		return p
	}
	return netip.Prefix{}
}

// begin admits one login attempt from src, of agent (tenant, name) if password is
// set (token logins count per address only). It returns ErrLockedOut if the agent
// or the address is locked out, or if so many attempts are being checked that their
// failing would lock it out: for an agent always, for an address once a failure from
// it is counted (so the pages behind one address reconnecting at once after a
// restart are not refused). Otherwise the caller checks the credentials and calls
// done with the outcome, exactly once.
func (l *lockout) begin(tenant, name string, password bool, src netip.Addr) (done func(outcome), err error) {
	type counted struct {
		key   lockKey
		limit int
	}
	var keys [2]counted
	n := 0
	if password && l.set.Failures > 0 {
		keys[n] = counted{lockKey{byAgent: true, tenant: tenant, agent: name}, l.set.Failures}
		n++
	}
	if l.set.IPFailures > 0 {
		keys[n] = counted{lockKey{src: sourcePrefix(src)}, l.set.IPFailures}
		n++
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var es [2]*strikes
	for i, k := range keys[:n] {
		e := l.entry(k.key, now)
		if e == nil {
			return nil, ErrLockedOut // the table is full
		}
		guarded := k.key.byAgent || e.failures > 0
		if now.Before(e.until) || guarded && e.failures+e.inflight >= k.limit {
			return nil, ErrLockedOut
		}
		es[i] = e
	}
	for _, e := range es[:n] {
		e.inflight++
	}
	var once sync.Once
	return func(o outcome) {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			now := l.now()
			for i, k := range keys[:n] {
				e := es[i]
				e.inflight--
				switch {
				case o == loginFailed:
					if e.failures == 0 {
						e.first = now
					}
					e.failures++
					if e.failures >= k.limit {
						e.until, e.failures = now.Add(l.set.Lockout), 0
					}
				case o == loginSucceeded && k.key.byAgent:
					// The agent proved its password: its count starts over. An
					// address's does not, or one valid account would reset it between
					// guesses at others.
					e.failures = 0
				}
				if e.idle(now) && l.entries[k.key] == e {
					delete(l.entries, k.key)
				}
			}
		})
	}, nil
}

// entry returns key's strikes, brought up to date at now, creating them if needed;
// nil if the table is full.
func (l *lockout) entry(key lockKey, now time.Time) *strikes {
	e := l.entries[key]
	if e == nil {
		if len(l.entries) >= maxLockoutEntries {
			l.sweep(now)
			if len(l.entries) >= maxLockoutEntries {
				return nil
			}
		}
		e = &strikes{}
		l.entries[key] = e
	}
	if !e.until.IsZero() && !now.Before(e.until) {
		e.until = time.Time{}
	}
	if e.failures > 0 && now.Sub(e.first) >= l.set.Window {
		e.failures = 0
	}
	return e
}

// idle reports whether e holds nothing worth keeping at now.
func (e *strikes) idle(now time.Time) bool {
	return e.inflight == 0 && e.failures == 0 && !now.Before(e.until)
}

// sweep forgets the entries that hold nothing any more; at most once a second, so a
// full table of live entries does not cost a scan per attempt.
func (l *lockout) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	for k, e := range l.entries {
		if e.failures > 0 && now.Sub(e.first) >= l.set.Window {
			e.failures = 0
		}
		if e.idle(now) {
			delete(l.entries, k)
		}
	}
}
