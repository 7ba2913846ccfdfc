package pool

import (
	"errors"
	"slices"
	"testing"
)

func TestPolicyResolve(t *testing.T) {
	pools := []PoolInfo{
		{"acme-sz", "acme"}, {"acme-any", "acme"}, {"globex-any", "globex"},
		{"shared-sz", ""}, {"shared-any", ""},
	}
	rules := []PolicyRule{
		{Tenant: "*", City: "Shenzhen", Channel: "*", Pools: []string{"shared-sz", "shared-any"}},
		{Tenant: "acme", City: "*", Channel: "*", Pools: []string{"acme-any", "shared-any"}},
		{Tenant: "acme", City: "Shenzhen", Channel: "*", Pools: []string{"acme-sz", "acme-any"}},
		{Tenant: "acme", City: "*", Channel: "support", Pools: []string{"acme-any"}},
		// Tenant-owned pools of another tenant are left out of a match.
		{Tenant: "*", City: "*", Channel: "leaky", Pools: []string{"globex-any", "shared-any"}},
	}
	p, err := NewPolicy(pools, rules, []string{"shared-any"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant, city, channel string
		want                  []string
	}{
		{"acme", "Shenzhen", "sales", []string{"acme-sz", "acme-any"}}, // tenant+city beats tenant alone
		{"acme", "shenzhen", "", []string{"acme-sz", "acme-any"}},      // city compares without case
		{"acme", "Beijing", "", []string{"acme-any", "shared-any"}},
		{"acme", "Beijing", "support", []string{"acme-any"}},             // tenant+channel beats tenant
		{"acme", "Shenzhen", "support", []string{"acme-sz", "acme-any"}}, // city counts more than channel
		{"globex", "Shenzhen", "", []string{"shared-sz", "shared-any"}},
		{"globex", "Beijing", "", []string{"shared-any"}}, // the default
		{"acme", "Beijing", "leaky", []string{"acme-any", "shared-any"}},
		{"initech", "Beijing", "leaky", []string{"shared-any"}}, // globex-any is not initech's
	}
	for _, tt := range tests {
		if got := p.Resolve(tt.tenant, tt.city, tt.channel); !slices.Equal(got, tt.want) {
			t.Errorf("Resolve(%q, %q, %q) = %v, want %v", tt.tenant, tt.city, tt.channel, got, tt.want)
		}
	}

	// Without rules or defaults: the tenant's own pools, then the shared ones.
	bare, err := NewPolicy(pools, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bare.Resolve("acme", "", ""), []string{"acme-sz", "acme-any", "shared-sz", "shared-any"}; !slices.Equal(got, want) {
		t.Errorf("implied default = %v, want %v", got, want)
	}
	if got := (*Policy)(nil).Resolve("acme", "", ""); got != nil {
		t.Errorf("nil policy resolves to %v", got)
	}
	// The caller may keep and change the result.
	got := p.Resolve("acme", "Beijing", "support")
	got[0] = "changed"
	if p.Resolve("acme", "Beijing", "support")[0] != "acme-any" {
		t.Error("Resolve returned the policy's own slice")
	}

	for name, f := range map[string]func() error{
		"unknown pool in rule": func() error {
			_, err := NewPolicy(pools, []PolicyRule{{Tenant: "*", City: "*", Channel: "*", Pools: []string{"nope"}}}, nil)
			return err
		},
		"unknown default":   func() error { _, err := NewPolicy(pools, nil, []string{"nope"}); return err },
		"pool listed twice": func() error { _, err := NewPolicy(append(pools, PoolInfo{"shared-sz", ""}), nil, nil); return err },
	} {
		if err := f(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
