package routing

import (
	"context"
	"errors"
	"testing"
	"time"

	"callgate/pool"
)

// bindingList is an in-memory BindingLookup: routing is pure logic over its inputs.
type bindingList []pool.Binding

func (l bindingList) ActiveBindings(_ context.Context, v string, _ time.Time) ([]pool.Binding, error) {
	var out []pool.Binding
	for _, b := range l {
		if b.Virtual == v {
			out = append(out, b)
		}
	}
	return out, nil
}

type failingLookup struct{}

func (failingLookup) ActiveBindings(context.Context, string, time.Time) ([]pool.Binding, error) {
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
