// Package storetest is the conformance suite of pool.Store: the same test functions
// run against every implementation (SQLite, PostgreSQL), so that callgate behaves the
// same whichever store a deployment chooses. An implementation's test calls Run with
// a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"callgate/pool"
)

// Opener opens a new, empty store for t with opts (the suite passes pool.WithClock
// and pool.WithBindingRules) and closes it when t ends.
type Opener func(t *testing.T, opts ...pool.Option) pool.Store

// Allocator is the binding API beyond pool.Store the suite covers: syncing the
// virtual numbers and allocating from them.
type Allocator interface {
	SyncVirtualNumbers(ctx context.Context, ns []pool.VirtualNumber) error
	CreateBinding(ctx context.Context, nb pool.NewBinding) (pool.BindingRecord, bool, error)
	GetOrBind(ctx context.Context, nb pool.NewBinding) (pool.BindingRecord, bool, error)
}

// Router is the call-setup lookup of bindings.
type Router interface {
	RouteBindings(ctx context.Context, v, caller string, now time.Time) ([]pool.Binding, error)
}

// Recorder writes call records in batches and ends the ones a dead process left
// open.
type Recorder interface {
	SaveBatch(ctx context.Context, b pool.Batch) error
	CloseOpenCalls(ctx context.Context) ([]pool.Call, error)
}

// NonceStore keeps the nonces of signed API requests.
type NonceStore interface {
	UseNonce(ctx context.Context, app, nonce string, at, pruneBefore time.Time) error
}

// Run runs every conformance test against stores from open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"StaticBindings", testStaticBindings},
		{"Expiry", testExpiry},
		{"TouchBinding", testTouchBinding},
		{"RouteBindings", testRouteBindings},
		{"Allocate", testAllocate},
		{"AllocateIdempotent", testAllocateIdempotent},
		{"AllocateConcurrent", testAllocateConcurrent},
		{"GetOrBindConcurrent", testGetOrBindConcurrent},
		{"ReserveCaller", testReserveCaller},
		{"ReserveCallerCaps", testReserveCallerCaps},
		{"ReserveCallerHealth", testReserveCallerHealth},
		{"ReserveCallerConcurrent", testReserveCallerConcurrent},
		{"RenewLeases", testRenewLeases},
		{"CallerOps", testCallerOps},
		{"Calls", testCalls},
		{"Feedback", testFeedback},
		{"SaveBatch", testSaveBatch},
		{"CloseOpenCalls", testCloseOpenCalls},
		{"DoNotCall", testDoNotCall},
		{"Nonces", testNonces},
		{"Close", testClose},
		{"BindingRead", testBindingRead},
		{"UpdateBinding", testUpdateBinding},
		{"DeleteBinding", testDeleteBinding},
		{"ListBindings", testListBindings},
		{"GCExpiryTypes", testGCExpiryTypes},
		{"GCSettings", testGCSettings},
		{"GCBatches", testGCBatches},
		{"GCRacesAllocation", testGCRacesAllocation},
		{"Callbacks", testCallbacks},
		{"CallbacksSweep", testCallbacksSweep},
		{"AgentTokens", testAgentTokens},
		{"AgentTokensChecks", testAgentTokensChecks},
		{"RevokeAgentTokens", testRevokeAgentTokens},
		{"AgentTokensClosed", testAgentTokensClosed},
		{"ListCallsFilters", testListCallsFilters},
		{"ListCallsDetails", testListCallsDetails},
		{"ListCallsPages", testListCallsPages},
		{"ListCallsRefuses", testListCallsRefuses},
		{"ListFeedback", testListFeedback},
		{"CostOf", testCostOf},
		{"ListDNC", testListDNC},
		{"Recordings", testRecordings},
		{"PruneCalls", testPruneCalls},
		{"CloseOpenRecordings", testCloseOpenRecordings},
		{"PoolCountsAndReports", testPoolCountsAndReports},
		{"CallerNumberReports", testCallerNumberReports},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// t0 is the suite's epoch: a whole millisecond, as stores keep times.
var t0 = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

// Clock is a settable clock for pool.WithClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set stops the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// need returns s as a T, or fails t: the store does not implement what the suite
// covers.
func need[T any](t *testing.T, s pool.Store) T {
	t.Helper()
	v, ok := s.(T)
	if !ok {
		var zero *T
		t.Fatalf("%T does not implement %T", s, zero)
	}
	return v
}

// must fails t on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails t unless err is target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func ctxT(t *testing.T) context.Context { return t.Context() }
