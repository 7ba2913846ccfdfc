package signaling

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"callgate/pool"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// This file holds who may log in and how: the agents' accounts (password hashes,
// static tokens), the tokens the business API issues, the lockout after failed
// logins (lockout.go), and the tenants' seats.

// Agent is a logged-in agent.
type Agent struct {
	Tenant string
	Name   string
}

// Credentials are what a page presents in its auth message: a token, or tenant, agent
// and password; and where the login comes from.
type Credentials struct {
	Token    string
	Tenant   string
	Agent    string
	Password string
	// Source is the address the login came from, for the per-address lockout; the
	// zero Addr counts as one address.
	Source netip.Addr
}

// AgentAccount is one agent's login data.
type AgentAccount struct {
	Tenant, Name string
	// PasswordHash is a bcrypt hash or an argon2id PHC string
	// ($argon2id$v=19$m=…,t=…,p=…$salt$hash); "" = no password login.
	PasswordHash string
	// Token is a static token; "" = none. It must not start with
	// pool.AgentTokenPrefix, which marks issued tokens.
	Token string
}

// IssuedTokens checks and revokes the agent tokens the business API issues;
// *pool.SQLiteStore is one. AuthenticateAgentToken returns pool.ErrNotFound for an
// unknown token and pool.ErrEnded for a revoked or expired one.
type IssuedTokens interface {
	AuthenticateAgentToken(ctx context.Context, token string) (pool.AgentToken, error)
	RevokeAgentToken(ctx context.Context, id string) (pool.AgentToken, error)
}

var _ IssuedTokens = (*pool.SQLiteStore)(nil)

// TokenRevoker is an Authenticator that can revoke the issued token a session logged
// in with, when its agent logs out; *Directory is one.
type TokenRevoker interface {
	RevokeToken(ctx context.Context, id string) error
}

var (
	_ Authenticator = (*Directory)(nil)
	_ TokenRevoker  = (*Directory)(nil)
)

// Directory authenticates agents against their accounts, the issued tokens and the
// lockout.
type Directory struct {
	byName map[[2]string]account
	tokens []staticToken
	// dummy is checked when the agent is unknown or has no password, so the answer
	// takes about as long as for a known agent: a hash of the kind and cost most
	// accounts use.
	dummy  passwordHash
	issued IssuedTokens // nil: issued tokens log no one in
	lock   *lockout
}

type account struct {
	AgentAccount
	hash passwordHash // valid only if PasswordHash != ""
	ok   bool         // PasswordHash parsed
}

type staticToken struct {
	sum   [sha256.Size]byte
	agent Agent
}

// DirectoryOption configures NewDirectory.
type DirectoryOption func(*directorySettings)

type directorySettings struct {
	issued  IssuedTokens
	lockout LockoutSettings
	now     func() time.Time
}

// WithIssuedTokens lets the tokens issued by the business API (pool.AgentTokenPrefix…)
// log agents in. Without it they never do.
func WithIssuedTokens(t IssuedTokens) DirectoryOption {
	return func(s *directorySettings) { s.issued = t }
}

// WithLockout sets the login lockout; without it, the defaults of LockoutSettings.
func WithLockout(l LockoutSettings) DirectoryOption {
	return func(s *directorySettings) { s.lockout = l }
}

// WithClock sets the clock of the lockout; default time.Now.
func WithClock(now func() time.Time) DirectoryOption {
	return func(s *directorySettings) {
		if now != nil {
			s.now = now
		}
	}
}

// NewDirectory builds a directory from the accounts. An account whose password hash
// does not parse never logs in with a password (configs refuses such hashes).
func NewDirectory(accounts []AgentAccount, opts ...DirectoryOption) *Directory {
	set := directorySettings{now: time.Now}
	for _, o := range opts {
		o(&set)
	}
	d := &Directory{byName: map[[2]string]account{}, issued: set.issued, lock: newLockout(set.lockout, set.now)}
	var bcrypts, argons []passwordHash
	for _, a := range accounts {
		acc := account{AgentAccount: a}
		if a.PasswordHash != "" {
			h, err := parsePasswordHash(a.PasswordHash)
			if err == nil {
				acc.hash, acc.ok = h, true
				if h.argon2 {
					argons = append(argons, h)
				} else {
					bcrypts = append(bcrypts, h)
				}
			}
		}
		d.byName[[2]string{a.Tenant, a.Name}] = acc
		if a.Token != "" {
			d.tokens = append(d.tokens, staticToken{sum: sha256.Sum256([]byte(a.Token)), agent: Agent{Tenant: a.Tenant, Name: a.Name}})
		}
	}
	d.dummy = dummyHash(bcrypts, argons)
	return d
}

// dummyHash hashes a throwaway password like most of the accounts' hashes are.
func dummyHash(bcrypts, argons []passwordHash) passwordHash {
	if len(argons) > len(bcrypts) {
		h := argons[0]
		h.sum = argon2.IDKey([]byte("callgate-dummy"), h.salt, h.time, h.memory, h.lanes, uint32(len(h.sum)))
		return h
	}
	cost := bcrypt.DefaultCost
	if len(bcrypts) > 0 {
		if c, err := bcrypt.Cost(bcrypts[0].bcrypt); err == nil {
			cost = c
		}
	}
	b, _ := bcrypt.GenerateFromPassword([]byte("callgate-dummy"), cost)
	return passwordHash{bcrypt: b}
}

// Authenticate returns the agent the credentials belong to. Wrong credentials of
// every kind (unknown token, revoked or expired issued token, unknown agent, wrong
// password) are ErrBadCredentials, wrapping the cause for the log; an agent or
// address locked out after failed logins is ErrLockedOut whatever it presents; a
// store failure is ErrLoginUnavailable.
func (d *Directory) Authenticate(ctx context.Context, c Credentials) (Agent, error) {
	done, err := d.lock.begin(c.Tenant, c.Agent, c.Token == "", c.Source)
	if err != nil {
		return Agent{}, err
	}
	a, err := d.check(ctx, c)
	switch {
	case err == nil:
		done(loginSucceeded)
	case errors.Is(err, ErrBadCredentials):
		done(loginFailed)
	default:
		done(loginAborted)
	}
	return a, err
}

// check checks the credentials.
func (d *Directory) check(ctx context.Context, c Credentials) (Agent, error) {
	if c.Token != "" {
		if strings.HasPrefix(c.Token, pool.AgentTokenPrefix) {
			return d.checkIssued(ctx, c.Token)
		}
		sum := sha256.Sum256([]byte(c.Token))
		found := -1
		for i := range d.tokens {
			// Compare every token in constant time: no early exit on a match.
			if subtle.ConstantTimeCompare(d.tokens[i].sum[:], sum[:]) == 1 {
				found = i
			}
		}
		if found < 0 {
			return Agent{}, fmt.Errorf("%w: unknown static token", ErrBadCredentials)
		}
		return d.tokens[found].agent, nil
	}
	a, known := d.byName[[2]string{c.Tenant, c.Agent}]
	usable := known && a.PasswordHash != "" && a.ok
	h := a.hash
	if !usable {
		h = d.dummy
	}
	if !h.matches([]byte(c.Password)) || !usable {
		return Agent{}, fmt.Errorf("%w: password", ErrBadCredentials)
	}
	return Agent{Tenant: a.Tenant, Name: a.Name}, nil
}

// checkIssued checks a token issued by the business API.
func (d *Directory) checkIssued(ctx context.Context, token string) (Agent, error) {
	if d.issued == nil {
		return Agent{}, fmt.Errorf("%w: issued tokens are not accepted here", ErrBadCredentials)
	}
	t, err := d.issued.AuthenticateAgentToken(ctx, token)
	switch {
	case errors.Is(err, pool.ErrNotFound), errors.Is(err, pool.ErrEnded):
		return Agent{}, fmt.Errorf("%w: %w", ErrBadCredentials, err)
	case err != nil:
		return Agent{}, fmt.Errorf("%w: %w", ErrLoginUnavailable, err)
	}
	return Agent{Tenant: t.Tenant, Name: t.Agent}, nil
}

// RevokeToken revokes the issued token id: a session that logged in with it logs
// out. Without issued tokens there is nothing to revoke.
func (d *Directory) RevokeToken(ctx context.Context, id string) error {
	if d.issued == nil {
		return nil
	}
	if _, err := d.issued.RevokeAgentToken(ctx, id); err != nil {
		return fmt.Errorf("revoke token %s at logout: %w", id, err)
	}
	return nil
}

// loginError is what the page is told about a failed login: one of the sentinels,
// without the cause, so every wrong credential reads the same.
func loginError(err error) error {
	switch {
	case errors.Is(err, ErrLockedOut):
		return ErrLockedOut
	case errors.Is(err, ErrBadCredentials):
		return ErrBadCredentials
	}
	return ErrLoginUnavailable
}

// issuedTokenID returns the ID of token if it is shaped like an issued token, else "".
func issuedTokenID(token string) string {
	id, _ := pool.AgentTokenID(token)
	return id
}

// sourceOf returns the IP address of a connection's remote address, or the zero Addr.
func sourceOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Bounds on argon2id parameters (as configs checks them), so one login cannot take
// the process's memory or a core for long.
const (
	argon2MaxMemory = 1 << 20 // KiB
	argon2MaxTime   = 16
	argon2MaxLanes  = 16
)

// passwordHash is a parsed password hash: bcrypt, or argon2id.
type passwordHash struct {
	bcrypt []byte

	argon2       bool
	memory, time uint32
	lanes        uint8
	salt, sum    []byte
}

// parsePasswordHash parses a bcrypt hash or an argon2id PHC string.
func parsePasswordHash(s string) (passwordHash, error) {
	if !strings.HasPrefix(s, "$argon2") {
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return passwordHash{}, err
		}
		return passwordHash{bcrypt: []byte(s)}, nil
	}
	bad := errors.New("not an argon2id PHC string $argon2id$v=19$m=…,t=…,p=…$salt$hash within bounds")
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return passwordHash{}, bad
	}
	var m, t, p uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) ||
		p < 1 || p > argon2MaxLanes || t < 1 || t > argon2MaxTime || m < 8*p || m > argon2MaxMemory {
		return passwordHash{}, bad
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	sum, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(sum) < 16 {
		return passwordHash{}, bad
	}
	return passwordHash{argon2: true, memory: m, time: t, lanes: uint8(p), salt: salt, sum: sum}, nil
}

// matches reports whether password hashes to h, in constant time.
func (h passwordHash) matches(password []byte) bool {
	if !h.argon2 {
		return bcrypt.CompareHashAndPassword(h.bcrypt, password) == nil
	}
	got := argon2.IDKey(password, h.salt, h.time, h.memory, h.lanes, uint32(len(h.sum)))
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}

// Seats counts logged-in agents per tenant against the tenant's seat count.
type Seats struct {
	mu    sync.Mutex
	total map[string]int
	used  map[string]int
}

// NewSeats returns a seat table; total maps tenant to its seat count.
func NewSeats(total map[string]int) *Seats {
	return &Seats{total: total, used: map[string]int{}}
}

// Take takes one of the tenant's seats. release gives it back (safe to call twice).
func (s *Seats) Take(tenant string) (release func(), used, total int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total = s.total[tenant]
	if s.used[tenant] >= total {
		return nil, s.used[tenant], total, fmt.Errorf("%w: tenant %s has %d", ErrSeatsExhausted, tenant, total)
	}
	s.used[tenant]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.used[tenant]--
			s.mu.Unlock()
		})
	}, s.used[tenant], total, nil
}

// SetTotals replaces the seat counts (on config reload). Seats taken stay taken,
// even where a tenant now has fewer seats than agents logged in: only new logins
// are refused.
func (s *Seats) SetTotals(total map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total = total
}

// Used is the number of seats taken in tenant.
func (s *Seats) Used(tenant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used[tenant]
}

// SeatUse is one tenant's seats.
type SeatUse struct {
	Tenant      string
	Used, Total int
}

// Snapshot lists every tenant's seats.
func (s *Seats) Snapshot() []SeatUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SeatUse, 0, len(s.total))
	for tenant, total := range s.total {
		out = append(out, SeatUse{Tenant: tenant, Used: s.used[tenant], Total: total})
	}
	return out
}
