package routing

import (
	"context"
	"errors"
	"testing"
)

func TestRoundRobinRotatesThroughTenantNumbers(t *testing.T) {
	o := NewOutbound([]CallerPool{
		{Name: "fixed", Tenant: "acme", Numbers: []string{"+862100000001", "+862100000002"}, Trunks: []string{"a", "b"}},
		{Name: "mobile", Tenant: "acme", Numbers: []string{"+8613800000009"}, Trunks: []string{"m"}},
		{Name: "other", Tenant: "zeta", Numbers: []string{"+862100000099"}, Trunks: []string{"z"}},
		{Name: "empty", Tenant: "nada", Trunks: []string{"z"}},
	})
	want := []OutboundDecision{
		{From: "+862100000001", Trunk: "a", Pool: "fixed"},
		{From: "+862100000002", Trunk: "a", Pool: "fixed"},
		{From: "+8613800000009", Trunk: "m", Pool: "mobile"},
		{From: "+862100000001", Trunk: "a", Pool: "fixed"},
	}
	for i, w := range want {
		got, err := o.Route(context.Background(), OutboundCall{Tenant: "acme", To: "+8613900000001"})
		if err != nil || got.From != w.From || got.Trunk != w.Trunk || got.Pool != w.Pool || got.Lease != nil {
			t.Fatalf("call %d: %+v, %v; want %+v", i, got, err, w)
		}
	}
	for _, tenant := range []string{"nada", "unknown"} {
		if _, err := o.Route(context.Background(), OutboundCall{Tenant: tenant}); !errors.Is(err, ErrNoRoute) {
			t.Fatalf("tenant %s: %v, want ErrNoRoute", tenant, err)
		}
	}
}
