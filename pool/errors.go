package pool

import "errors"

// The errors of package pool. Functions wrap them with %w and context; test with
// errors.Is.
var (
	// ErrNotFound means the record asked for (a call, a binding) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means a record with the same identity (call ID, static binding
	// identity) is already stored.
	ErrExists = errors.New("already exists")
	// ErrInvalid means a record or argument breaks the rules of its type (a binding
	// without party B, an AXYB binding without Y, a call without ID, …).
	ErrInvalid = errors.New("invalid")
	// ErrClosed means the store was used after Close.
	ErrClosed = errors.New("store closed")
	// ErrNoNumber means no virtual number can carry a new binding: the policy names no
	// pool, or every number is at capacity, cooling down or already holds a party.
	// It comes wrapped in an *AllocationError that says which.
	ErrNoNumber = errors.New("no virtual number available")
	// ErrConflict means a change would break the invariant "at most one active binding
	// per (virtual number, party)": a requested number or a new party B is taken. It
	// comes wrapped in an *AllocationError.
	ErrConflict = errors.New("binding conflict")
	// ErrIdempotencyKey means an idempotency key was reused with a different request.
	ErrIdempotencyKey = errors.New("idempotency key reused with a different request")
	// ErrEnded means a binding can no longer be changed: it was unbound, reclaimed or
	// has expired.
	ErrEnded = errors.New("binding has ended")
	// ErrStatic means a binding is defined in config and only config changes it.
	ErrStatic = errors.New("binding is defined in config")
	// ErrNoCallerNumber means no caller number can carry an outbound call now: every
	// candidate is locked, resting or over a cap (Reservation.Skipped says which).
	ErrNoCallerNumber = errors.New("no caller number available")
	// ErrCalleeCapped means the callee has had as many calls today as the tenant's
	// per-callee cap allows.
	ErrCalleeCapped = errors.New("callee reached the daily call cap")
	// ErrSchemaTooNew means the database was migrated by a newer callgate than this
	// one; this binary refuses to write to a schema it does not know.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
)
