package pool

import (
	"fmt"
	"strings"
	"time"
)

// This file holds the types of virtual-number pools and of bindings made through the
// business API: what a request for a binding says, the rules allocation keeps, and
// the errors it reports.

// EndReason says why a binding was deleted.
type EndReason string

// The end reasons.
const (
	EndUnbound EndReason = "unbound" // deleted through the API
	EndExpired EndReason = "expired" // reclaimed by the GC after its expiry
	EndIdle    EndReason = "idle"    // a binding without expiry reclaimed after no calls for BindingRules.IdleReclaim
	EndConfig  EndReason = "config"  // a static binding removed from the config
)

// BindingRecord is a binding with what the business API keeps about it besides its
// routing. Binding itself stays small: it is what call setup reads.
type BindingRecord struct {
	Binding
	City, Channel  string    // the pool policy inputs it was bound with
	Pool           string    // pool X was allocated from; "" for static bindings
	IdempotencyKey string    // the key of the create request, if it had one
	UpdatedAt      time.Time // last change; zero if never changed
	DeletedAt      time.Time // unbound or reclaimed; zero while live
	EndReason      EndReason // why it was deleted; "" while live
}

// VirtualNumber is one number of a virtual pool, as the config defines it.
type VirtualNumber struct {
	Number   string // E.164
	Pool     string
	Tenant   string // "" when the pool is shared by all tenants
	Supplier string
	Region   string
	// Trunk carries the B-legs of calls that show this number; a binding copies it
	// from its X (Binding.Trunk) and its Y (Binding.YTrunk).
	Trunk string
}

// BindingRules are the limits allocation and the GC keep. The zero value of each
// field means its default.
type BindingRules struct {
	// MaxPerNumber is how many live bindings may share one virtual number (AXB and
	// AXYB; an AXN binding holds its number alone); default DefaultMaxPerNumber.
	MaxPerNumber int
	// CoolDown is how long a (number, party) pair stays blocked after its binding
	// ends (unbound, reclaimed or its party B changed), so that a late call from
	// that party is not routed to someone new; default DefaultCoolDown; negative: none.
	CoolDown time.Duration
	// IdleReclaim is how long a binding without expiry may go without calls before
	// the GC reclaims it; default DefaultIdleReclaim; negative: never.
	IdleReclaim time.Duration
}

// The defaults of BindingRules.
const (
	DefaultMaxPerNumber = 200
	DefaultCoolDown     = time.Hour
	DefaultIdleReclaim  = 72 * time.Hour
)

// withDefaults returns r with zero fields set to their defaults.
func (r BindingRules) withDefaults() BindingRules {
	if r.MaxPerNumber <= 0 {
		r.MaxPerNumber = DefaultMaxPerNumber
	}
	if r.CoolDown == 0 {
		r.CoolDown = DefaultCoolDown
	}
	if r.IdleReclaim == 0 {
		r.IdleReclaim = DefaultIdleReclaim
	}
	return r
}

// ExpirySpec is when a binding stops routing: the expiry type and its parameter.
type ExpirySpec struct {
	Type ExpiryType // "" means ExpiryNever
	Sec  int64      // N, for the after_* types
	At   time.Time  // for ExpiryAt
}

// NewBinding asks for a binding through the business API. The store picks its
// virtual number(s) from Pools.
type NewBinding struct {
	Tenant string
	Mode   Mode
	A      string // "" for AXN
	B      string
	// X and Y, when set, ask for these virtual numbers instead of any: they must be in
	// one of Pools, and a taken one is an ErrConflict. Y is for AXYB only.
	X, Y string
	// City and Channel are the pool policy inputs, recorded with the binding.
	City, Channel string
	Expiry        ExpirySpec
	// Pools are the pools to allocate from, in order of preference: the policy's
	// answer for (Tenant, City, Channel) (Policy.Resolve).
	Pools []string
	// IdempotencyKey, when set, makes the create idempotent per tenant: the same key
	// with the same request returns the binding the first one made; with a different
	// request it is ErrIdempotencyKey.
	IdempotencyKey string
}

// BindingPatch changes a live binding. Zero fields are left as they are.
type BindingPatch struct {
	// B is the new party B. For AXB it must be free on X, for AXYB on Y.
	B string
	// Expiry, when set, replaces the expiry. The after_* types still count from the
	// binding's creation and calls, not from the change.
	Expiry *ExpirySpec
}

// BindingFilter selects live (not deleted) bindings for ListBindings. Zero fields
// do not filter.
type BindingFilter struct {
	Tenant  string
	Virtual string // X or Y
	Party   string // A or B
	// After is the paging cursor: only bindings with a greater ID are listed.
	After int64
	// Limit is the page size: default 50, at most MaxListLimit.
	Limit int
}

// MaxListLimit is the largest page ListBindings returns.
const MaxListLimit = 500

// defaultListLimit is the page size when BindingFilter.Limit is zero.
const defaultListLimit = 50

// AllocReason says why no number could carry a binding.
type AllocReason string

// The allocation failure reasons.
const (
	// ReasonNoPool: the policy names no pool the tenant may use.
	ReasonNoPool AllocReason = "no_pool"
	// ReasonNoNumbers: the pools hold no number that may be allocated (empty, or
	// every number blocked or retired).
	ReasonNoNumbers AllocReason = "no_numbers"
	// ReasonAllBusy: every number is at MaxPerNumber, held by an AXN binding, or
	// (for AXN) shared or cooling down.
	ReasonAllBusy AllocReason = "all_busy"
	// ReasonPartyBound: numbers have room, but on each of them a party of the request
	// is already bound or cooling down.
	ReasonPartyBound AllocReason = "party_bound"
	// ReasonNumberTaken: a requested number (NewBinding.X or Y, or the number a new B
	// would be reached on) is taken for this party, full or cooling down.
	ReasonNumberTaken AllocReason = "number_taken"
)

// AllocationError says why a binding could not be made or changed. It unwraps to
// ErrNoNumber or ErrConflict.
type AllocationError struct {
	Reason AllocReason
	Mode   Mode
	Tenant string
	Pools  []string // the pools searched
	Number string   // the requested number, for ReasonNumberTaken
	Party  string   // the party that is taken on Number, if known
	err    error
}

// Error says what failed and why.
func (e *AllocationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool: %s binding for tenant %q: %v", e.Mode, e.Tenant, e.err)
	switch e.Reason {
	case ReasonNoPool:
		b.WriteString(": the pool policy names no virtual pool for this tenant, city and channel")
	case ReasonNoNumbers:
		fmt.Fprintf(&b, ": pools %s hold no number that may be allocated", strings.Join(e.Pools, ", "))
	case ReasonAllBusy:
		fmt.Fprintf(&b, ": every number of pools %s is full, held exclusively or cooling down", strings.Join(e.Pools, ", "))
	case ReasonPartyBound:
		fmt.Fprintf(&b, ": on every number of pools %s with room, a party of the binding is already bound or cooling down", strings.Join(e.Pools, ", "))
	case ReasonNumberTaken:
		if e.Party != "" {
			fmt.Fprintf(&b, ": %s is taken on %s (bound or cooling down)", e.Party, e.Number)
		} else {
			fmt.Fprintf(&b, ": %s is full, held exclusively or cooling down", e.Number)
		}
	}
	return b.String()
}

// Unwrap returns ErrNoNumber or ErrConflict.
func (e *AllocationError) Unwrap() error { return e.err }

// GCResult is what one CollectGarbage pass did.
type GCResult struct {
	Expired int // bindings reclaimed after their expiry
	Idle    int // bindings without expiry reclaimed for having no calls
	// Released counts (number, party) pairs whose cool-down ended and which may be
	// bound again.
	Released int
	// Reclaimed are the bindings reclaimed, as stored after reclaiming (DeletedAt and
	// EndReason set), in the order reclaimed.
	Reclaimed []BindingRecord
}
