package configs

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// This file is a trunk's tariff: rate_per_minute and billing_increment, what the
// supplier charges for the calls callgate places on the trunk. Call records carry the
// resulting cost (pool.Tariff computes it).

// Limits of a trunk's tariff.
const (
	// maxRatePerMinute bounds rate_per_minute: a million currency units a minute is
	// a typo, not a tariff, and keeps costs far from overflowing.
	maxRatePerMinute = 1_000_000_000
	// maxIncrement bounds each part of billing_increment, in seconds.
	maxIncrement = 3600
	// defaultIncrement is both parts of the default billing_increment, 60/60.
	defaultIncrement = 60
)

// BillingIncrement is how a supplier rounds a call's answered time up before
// charging it, written "first/next" in seconds as carrier contracts do: a call is
// charged at least First seconds, and beyond them in whole steps of Next seconds.
// "60/60" charges every started minute (the usual mobile and fixed-line tariff),
// "60/6" a first minute then 6-second steps, "30/6", "1/1" every second. A single
// number N means N/N. The zero value means the default, 60/60.
type BillingIncrement struct {
	First int
	Next  int
}

var (
	_ yaml.Unmarshaler = (*BillingIncrement)(nil)
	_ yaml.Marshaler   = BillingIncrement{}
	_ fmt.Stringer     = BillingIncrement{}
)

// UnmarshalYAML reads "first/next" seconds ("60/6") or one number of seconds ("1").
func (b *BillingIncrement) UnmarshalYAML(n *yaml.Node) error {
	want := fmt.Sprintf(`want "first/next" seconds such as 60/60, 60/6 or 1/1 (each 1 to %d)`, maxIncrement)
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s, got %s", want, describeNode(n))
	}
	first, next, pair := strings.Cut(n.Value, "/")
	if !pair {
		next = first
	}
	f, ferr := strconv.Atoi(strings.TrimSpace(first))
	x, xerr := strconv.Atoi(strings.TrimSpace(next))
	if ferr != nil || xerr != nil || f < 1 || f > maxIncrement || x < 1 || x > maxIncrement {
		return fmt.Errorf("%s, got %q", want, n.Value)
	}
	*b = BillingIncrement{First: f, Next: x}
	return nil
}

// MarshalYAML writes the increment as "first/next".
func (b BillingIncrement) MarshalYAML() (any, error) { return b.String(), nil }

// String returns "first/next", e.g. "60/6".
func (b BillingIncrement) String() string { return fmt.Sprintf("%d/%d", b.First, b.Next) }

// billingDefaults applies the default increment of trunk t.
func billingDefaults(t *Trunk) {
	if t.BillingIncrement == (BillingIncrement{}) {
		t.BillingIncrement = BillingIncrement{First: defaultIncrement, Next: defaultIncrement}
	}
}

// billing checks trunk t's tariff; UnmarshalYAML already checked the increment's
// shape.
func (v *validation) billing(pl place, t *Trunk) {
	switch {
	case t.RatePerMinute < 0:
		v.bad(pl, at("rate_per_minute"), "must not be negative, got %d: thousandths of the currency unit per minute (0: calls are not priced)", t.RatePerMinute)
	case t.RatePerMinute > maxRatePerMinute:
		v.bad(pl, at("rate_per_minute"), "%d is over %d: write thousandths of the currency unit per minute (60 = 0.060)", t.RatePerMinute, maxRatePerMinute)
	}
	if b := t.BillingIncrement; b.First < 1 || b.First > maxIncrement || b.Next < 1 || b.Next > maxIncrement {
		v.bad(pl, at("billing_increment"), "%s: each part must be 1 to %d seconds", b, maxIncrement)
	}
}
