package routing

import (
	"errors"
	"fmt"

	"callgate/pool"
)

// Errors returned by routing decisions. Callers map them to SIP or HTTP codes.
var (
	// ErrInvalidNumber means a number is not a dialable E.164 number. Callee analysis
	// returns it inside a *NumberError that says why.
	ErrInvalidNumber = errors.New("invalid number")
	// ErrNoRoute means no active binding matches the call, or no caller number can
	// carry an outbound call (then inside a *RefusedError that says why).
	ErrNoRoute = errors.New("no route")
	// ErrDoNotCall means the callee is on the tenant's or the global do-not-call list.
	ErrDoNotCall = errors.New("callee is on a do-not-call list")
	// ErrCalleeCapped means the callee has had the tenant's daily number of calls.
	ErrCalleeCapped = errors.New("callee reached the daily call cap")
	// ErrNoCallerNumber means every caller number the strategy allows for the callee
	// is in a call, resting or over a cap.
	ErrNoCallerNumber = errors.New("no caller number available")
	// ErrUnknownTenant means a request names a tenant the router has no plan for.
	ErrUnknownTenant = errors.New("unknown tenant")
	// ErrPlan means a tenant plan given to the outbound router is inconsistent.
	ErrPlan = errors.New("invalid caller-number plan")
	// ErrClosed means the outbound router was used after Close.
	ErrClosed = errors.New("outbound router closed")
)

// RefusedError is an outbound call refused before any SIP was sent. It wraps its
// Reason (ErrDoNotCall, ErrCalleeCapped or ErrNoCallerNumber) and ErrNoRoute.
type RefusedError struct {
	Tenant string
	Callee string // E.164
	Reason error
	Detail string
	// Skipped lists the candidates examined and passed over, in order.
	Skipped []Skip
}

// Error returns "no route: <reason>: <callee>: <detail>".
func (e *RefusedError) Error() string {
	s := fmt.Sprintf("%v: %v: %s", ErrNoRoute, e.Reason, e.Callee)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the reason and ErrNoRoute.
func (e *RefusedError) Unwrap() []error { return []error{e.Reason, ErrNoRoute} }

// Skip is a caller number passed over for a call, and why.
type Skip = pool.Skip

// SkipReason says why a caller number was passed over.
type SkipReason = pool.SkipReason

// The reasons a caller number is passed over.
const (
	SkipLocked        = pool.SkipLocked
	SkipResting       = pool.SkipResting
	SkipCallerHourCap = pool.SkipCallerHourCap
	SkipCallerDayCap  = pool.SkipCallerDayCap
	SkipPairCap       = pool.SkipPairCap
	SkipNoRule        = pool.SkipNoRule
)
