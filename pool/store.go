// Package pool owns callgate's number resources and virtual-number bindings, call
// records, and the storage behind them (SQLite by default).
package pool

import (
	"context"
	"time"
)

// Store is everything callgate keeps in its database. Implementations are safe for
// concurrent use; Close is safe to call twice.
type Store interface {
	// SyncStaticBindings makes the config-defined bindings (Static=true rows) exactly
	// the given set: inserts new ones, updates changed ones, deletes vanished ones.
	SyncStaticBindings(ctx context.Context, bs []Binding) error
	// ActiveBindings returns the bindings on virtual number v that are active at now
	// (not deleted, not expired). v may be a binding's X (Virtual) or the Y of an AXYB
	// binding.
	ActiveBindings(ctx context.Context, v string, now time.Time) ([]Binding, error)
	// RouteBindings returns the bindings that can route a call from caller to v at
	// now: ActiveBindings(v) narrowed to the caller's own rows and the AXN ones. A
	// number its supplier reported blocked routes nothing.
	RouteBindings(ctx context.Context, v, caller string, now time.Time) ([]Binding, error)
	// TouchBinding records a call through binding id at time at: FirstCall is set if
	// unset (or later than at) and LastCall if earlier than at. The after_first_call
	// and after_last_call expiry types count from them.
	TouchBinding(ctx context.Context, id int64, at time.Time) error

	// StartCall inserts a call record in state "setup" (ID must be set).
	StartCall(ctx context.Context, c Call) error
	// AddAttempt records one outbound leg attempt of a call.
	AddAttempt(ctx context.Context, a Attempt) error
	// EndCall writes the final fields of a call record.
	EndCall(ctx context.Context, c Call) error
	// Call reads one call record with its attempts and feedback.
	Call(ctx context.Context, id string) (Call, error)
	// Calls lists call records, newest first.
	Calls(ctx context.Context, f CallFilter) ([]Call, error)

	// AddFeedback attaches feedback f to call record f.CallID and returns it as
	// stored, with its ID.
	AddFeedback(ctx context.Context, f Feedback) (Feedback, error)
	// Feedback returns the feedback on call record callID, oldest first.
	Feedback(ctx context.Context, callID string) ([]Feedback, error)

	// SyncCallerNumbers makes the stored caller numbers exactly the given set,
	// keeping the runtime state of the ones that stay.
	SyncCallerNumbers(ctx context.Context, ns []CallerNumber) error
	// CallerNumbers lists a tenant's caller numbers ("" for all) with their state.
	CallerNumbers(ctx context.Context, tenant string) ([]CallerNumber, error)
	// ReserveCaller checks the candidates of r in order and leases the first that is
	// free, not resting and under every cap, counting the call: one atomic step.
	ReserveCaller(ctx context.Context, r ReserveRequest) (Reservation, error)
	// ReleaseCaller ends a lease with the call's outcome (health, escalation, or the
	// cap counts given back for a call never placed).
	ReleaseCaller(ctx context.Context, r ReleaseRequest) (Released, error)
	// RenewLeases extends unexpired leases.
	RenewLeases(ctx context.Context, r RenewRequest) (int, error)
	// ApplyCallerOps writes the router's journal of decisions in one transaction.
	ApplyCallerOps(ctx context.Context, ops []CallerOp) ([]CallerOpResult, error)
	// LoadCallerState reads the state the router keeps in memory.
	LoadCallerState(ctx context.Context, q CallerStateQuery) (CallerState, error)
	// SweepCallers deletes caller-number state no decision reads any more.
	SweepCallers(ctx context.Context, r SweepRequest) (SweepResult, error)

	// AddDoNotCall adds entries (E.164 numbers) to do-not-call lists.
	AddDoNotCall(ctx context.Context, es []DNCEntry) (int, error)
	// RemoveDoNotCall takes a number off a list.
	RemoveDoNotCall(ctx context.Context, tenant, number string) (bool, error)
	// DoNotCall looks a number up on a tenant's list and the global one.
	DoNotCall(ctx context.Context, tenant, number string) (DNCEntry, bool, error)
	// ListDoNotCall pages through one list.
	ListDoNotCall(ctx context.Context, f DNCFilter) ([]DNCEntry, error)
	// EachDoNotCall walks every entry of every list.
	EachDoNotCall(ctx context.Context, fn func(DNCEntry) error) error

	// Ping checks that the store can serve reads, for readiness checks.
	Ping(ctx context.Context) error

	Close() error
}
