package routing

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"callgate/pool"
)

// bindingList is an in-memory BindingLookup: routing is pure logic over its inputs.
// It returns every binding whose X or (AXYB) Y is v, whatever the caller (more than
// the store returns, which the contract allows), and does not filter by time, so
// the router's own party and expiry checks are tested.
type bindingList []pool.Binding

func (l bindingList) RouteBindings(_ context.Context, v, _ string, _ time.Time) ([]pool.Binding, error) {
	var out []pool.Binding
	for _, b := range l {
		if b.Virtual == v || b.Mode == pool.ModeAXYB && b.Y == v {
			out = append(out, b)
		}
	}
	return out, nil
}

type failingLookup struct{}

func (failingLookup) RouteBindings(context.Context, string, string, time.Time) ([]pool.Binding, error) {
	return nil, errors.New("disk on fire")
}

func TestInboundRoute(t *testing.T) {
	const v, a, b, other = "+8675500000001", "+8613800000001", "+8613900000002", "+8613700000003"
	store := bindingList{
		{ID: 1, Tenant: "t1", Mode: pool.ModeAXN, Virtual: v, B: b, Trunk: "carrier"},
		{ID: 2, Tenant: "t1", Mode: pool.ModeAXB, Virtual: "+8675500000002", A: a, B: b},
		{ID: 3, Tenant: "t2", Mode: pool.ModeAXN, Virtual: "+8675500000002", B: other},
	}
	tests := []struct {
		name           string
		caller, callee string
		want           Decision
		err            error
	}{
		{name: "AXN any caller", caller: other, callee: v,
			want: Decision{Tenant: "t1", BindingID: 1, Mode: pool.ModeAXN, Target: b, ShowAs: v, Trunk: "carrier"}},
		{name: "AXB A reaches B", caller: a, callee: "+8675500000002",
			want: Decision{Tenant: "t1", BindingID: 2, Mode: pool.ModeAXB, Target: b, ShowAs: "+8675500000002"}},
		{name: "AXB B reaches A", caller: b, callee: "+8675500000002",
			want: Decision{Tenant: "t1", BindingID: 2, Mode: pool.ModeAXB, Target: a, ShowAs: "+8675500000002"}},
		{name: "AXB stranger falls back to AXN", caller: "+8613000000009", callee: "+8675500000002",
			want: Decision{Tenant: "t2", BindingID: 3, Mode: pool.ModeAXN, Target: other, ShowAs: "+8675500000002"}},
		{name: "unbound number", caller: a, callee: "+8675500000099", err: ErrNoRoute},
	}
	r := NewInbound(store, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Route(context.Background(), InboundCall{Trunk: "carrier", Caller: tt.caller, Callee: tt.callee})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Route = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := NewInbound(failingLookup{}, nil).Route(context.Background(), InboundCall{Caller: a, Callee: v}); err == nil || errors.Is(err, ErrNoRoute) {
		t.Fatalf("store failure must not look like no route: %v", err)
	}
}

func TestInboundRouteAXYBAndExpiry(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	const (
		x, y, a, b, stranger = "+8675500000011", "+8675500000012", "+8613800000001", "+8613900000002", "+8613700000003"
		x2, v3               = "+8675500000021", "+8675500000031"
	)
	store := bindingList{
		{ID: 1, Tenant: "t1", Mode: pool.ModeAXYB, Virtual: x, A: a, B: b, Y: y, Trunk: "tr-x", YTrunk: "tr-y", CreatedAt: t0},
		// An AXYB binding whose Y has no trunk of its own uses X's.
		{ID: 2, Tenant: "t1", Mode: pool.ModeAXYB, Virtual: x2, A: a, B: b, Y: v3, Trunk: "tr-x2", CreatedAt: t0},
		// Expired bindings on v3 that the lookup still returns: never routed.
		{ID: 3, Tenant: "t1", Mode: pool.ModeAXN, Virtual: v3, B: stranger, CreatedAt: t0,
			Expiry: pool.ExpiryAfterBind, ExpirySec: 60},
		{ID: 4, Tenant: "t1", Mode: pool.ModeAXB, Virtual: v3, A: stranger, B: a, CreatedAt: t0,
			Expiry: pool.ExpiryAt, ExpireAt: t0.Add(30 * time.Second)},
		{ID: 5, Tenant: "t1", Mode: pool.ModeAXB, Virtual: v3, A: "+8613600000004", B: b, CreatedAt: t0,
			Expiry: pool.ExpiryAfterLastCall, ExpirySec: 60, FirstCall: t0, LastCall: t0.Add(time.Minute)},
	}
	tests := []struct {
		name           string
		at             time.Duration
		caller, callee string
		want           Decision
		noRoute        bool
	}{
		{name: "AXYB A dials X, reaches B shown Y", caller: a, callee: x,
			want: Decision{Tenant: "t1", BindingID: 1, Mode: pool.ModeAXYB, Target: b, ShowAs: y, Trunk: "tr-y"}},
		{name: "AXYB B dials Y, reaches A shown X", caller: b, callee: y,
			want: Decision{Tenant: "t1", BindingID: 1, Mode: pool.ModeAXYB, Target: a, ShowAs: x, Trunk: "tr-x"}},
		{name: "AXYB B dials X: not a route", caller: b, callee: x, noRoute: true},
		{name: "AXYB A dials Y: not a route", caller: a, callee: y, noRoute: true},
		{name: "AXYB stranger dials X", caller: stranger, callee: x, noRoute: true},
		{name: "AXYB without a Y trunk uses X's", caller: a, callee: x2,
			want: Decision{Tenant: "t1", BindingID: 2, Mode: pool.ModeAXYB, Target: b, ShowAs: v3, Trunk: "tr-x2"}},
		{name: "AXYB on a Y shared with other bindings", at: 2 * time.Minute, caller: b, callee: v3,
			want: Decision{Tenant: "t1", BindingID: 2, Mode: pool.ModeAXYB, Target: a, ShowAs: x2, Trunk: "tr-x2"}},
		{name: "AXYB B dials a Y that also carries an AXN", at: 59 * time.Second, caller: b, callee: v3,
			want: Decision{Tenant: "t1", BindingID: 2, Mode: pool.ModeAXYB, Target: a, ShowAs: x2, Trunk: "tr-x2"}},
		{name: "AXN live", at: 59 * time.Second, caller: "+8613100000000", callee: v3,
			want: Decision{Tenant: "t1", BindingID: 3, Mode: pool.ModeAXN, Target: stranger, ShowAs: v3}},
		{name: "AXN expired", at: 60 * time.Second, caller: "+8613100000000", callee: v3, noRoute: true},
		{name: "AXB at expiry: falls to the (live) AXN", at: 30 * time.Second, caller: stranger, callee: v3,
			want: Decision{Tenant: "t1", BindingID: 3, Mode: pool.ModeAXN, Target: stranger, ShowAs: v3}},
		{name: "AXB before expiry", at: 29 * time.Second, caller: stranger, callee: v3,
			want: Decision{Tenant: "t1", BindingID: 4, Mode: pool.ModeAXB, Target: a, ShowAs: v3}},
		{name: "AXB after last call + N", at: 2 * time.Minute, caller: "+8613600000004", callee: v3, noRoute: true},
		{name: "AXB within last call + N", at: 119 * time.Second, caller: "+8613600000004", callee: v3,
			want: Decision{Tenant: "t1", BindingID: 5, Mode: pool.ModeAXB, Target: b, ShowAs: v3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(tt.at)
			r := NewInbound(store, func() time.Time { return now },
				WithNoBinding(NoBinding{Action: NoBindingAnnounce, Status: 480, Announcement: "/x.wav"}))
			got, err := r.Route(context.Background(), InboundCall{Caller: tt.caller, Callee: tt.callee})
			if tt.noRoute {
				var nr *NoRouteError
				if !errors.Is(err, ErrNoRoute) || !errors.As(err, &nr) || nr.Treatment.Action != NoBindingAnnounce ||
					nr.Treatment.Status != 480 || nr.Callee != tt.callee {
					t.Fatalf("Route = %+v, %v; want a NoRouteError with the announce treatment", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Route = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	// The default treatment rejects with 404.
	_, err := NewInbound(store, nil).Route(context.Background(), InboundCall{Caller: stranger, Callee: "+8675500000099"})
	var nr *NoRouteError
	if !errors.As(err, &nr) || nr.Treatment != (NoBinding{Action: NoBindingReject, Status: 404}) {
		t.Errorf("default treatment: %v", err)
	}
}

// The router over the real store: bindings made through the business API's
// allocation route both AXYB directions, and stop routing at their expiry before
// any GC runs.
func TestInboundRouteOverStore(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	s, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "cg.db"), pool.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SyncVirtualNumbers(ctx, []pool.VirtualNumber{
		{Number: "+8675500000001", Pool: "p", Trunk: "tr-1"}, {Number: "+8675500000002", Pool: "q", Trunk: "tr-2"},
	}); err != nil {
		t.Fatal(err)
	}
	const a, b = "+8613800000001", "+8613900000002"
	rec, _, err := s.CreateBinding(ctx, pool.NewBinding{Tenant: "t", Mode: pool.ModeAXYB, A: a, B: b,
		Pools: []string{"p", "q"}, Expiry: pool.ExpirySpec{Type: pool.ExpiryAfterBind, Sec: 60}})
	if err != nil {
		t.Fatal(err)
	}
	x, y := rec.Virtual, rec.Y
	r := NewInbound(s, clock)
	got, err := r.Route(ctx, InboundCall{Caller: a, Callee: x})
	if err != nil || got.Target != b || got.ShowAs != y || got.Trunk != "tr-2" || got.BindingID != rec.ID {
		t.Errorf("A → X: %+v, %v; want B shown %s via tr-2", got, err, y)
	}
	got, err = r.Route(ctx, InboundCall{Caller: b, Callee: y})
	if err != nil || got.Target != a || got.ShowAs != x || got.Trunk != "tr-1" {
		t.Errorf("B → Y: %+v, %v; want A shown %s via tr-1", got, err, x)
	}
	now = t0.Add(time.Minute)
	if _, err := r.Route(ctx, InboundCall{Caller: a, Callee: x}); !errors.Is(err, ErrNoRoute) {
		t.Errorf("expired, before GC: %v, want ErrNoRoute", err)
	}
}
