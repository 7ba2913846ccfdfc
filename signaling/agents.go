package signaling

import (
	"context"
	"crypto/subtle"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Agent is a logged-in agent.
type Agent struct {
	Tenant string
	Name   string
}

// Credentials are what a page presents in its auth message: a token, or tenant, agent
// and password.
type Credentials struct {
	Token    string
	Tenant   string
	Agent    string
	Password string
}

// AgentAccount is one agent's login data.
type AgentAccount struct {
	Tenant, Name string
	PasswordHash string // bcrypt; "" = no password login
	Token        string // static token; "" = none
}

// Directory authenticates agents against their accounts.
type Directory struct {
	byName map[[2]string]AgentAccount
	tokens []AgentAccount
	// dummy is compared against when the agent is unknown, so the answer takes the
	// same time whether or not the agent exists.
	dummy []byte
}

// NewDirectory builds a directory from the accounts.
func NewDirectory(accounts []AgentAccount) *Directory {
	d := &Directory{byName: map[[2]string]AgentAccount{}}
	for _, a := range accounts {
		d.byName[[2]string{a.Tenant, a.Name}] = a
		if a.Token != "" {
			d.tokens = append(d.tokens, a)
		}
	}
	d.dummy, _ = bcrypt.GenerateFromPassword([]byte("callgate-dummy"), bcrypt.DefaultCost)
	return d
}

// Authenticate returns the agent the credentials belong to, or ErrBadCredentials.
func (d *Directory) Authenticate(_ context.Context, c Credentials) (Agent, error) {
	if c.Token != "" {
		var found *AgentAccount
		for i := range d.tokens {
			// Compare every token in constant time: no early exit on a match.
			if subtle.ConstantTimeCompare([]byte(d.tokens[i].Token), []byte(c.Token)) == 1 {
				found = &d.tokens[i]
			}
		}
		if found == nil {
			return Agent{}, ErrBadCredentials
		}
		return Agent{Tenant: found.Tenant, Name: found.Name}, nil
	}
	a, ok := d.byName[[2]string{c.Tenant, c.Agent}]
	hash := []byte(a.PasswordHash)
	if !ok || a.PasswordHash == "" {
		hash = d.dummy
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(c.Password)); err != nil || !ok || a.PasswordHash == "" {
		return Agent{}, ErrBadCredentials
	}
	return Agent{Tenant: a.Tenant, Name: a.Name}, nil
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
