package pool

import (
	"math"
	"testing"

	"callgate/configs"
)

func TestTariffCost(t *testing.T) {
	tests := []struct {
		name    string
		tariff  Tariff
		billed  int64
		charged int64
		cost    int64
	}{
		{"unanswered costs nothing", Tariff{RatePerMinute: 60}, 0, 0, 0},
		{"negative billed is unanswered", Tariff{RatePerMinute: 60}, -5, 0, 0},
		{"60/60 default: one second is a minute", Tariff{RatePerMinute: 60}, 1, 60, 60},
		{"60/60: exactly a minute", Tariff{RatePerMinute: 60, FirstSec: 60, NextSec: 60}, 60, 60, 60},
		{"60/60: a second more is two minutes", Tariff{RatePerMinute: 60, FirstSec: 60, NextSec: 60}, 61, 120, 120},
		{"60/6: first minute then 6 s steps", Tariff{RatePerMinute: 100, FirstSec: 60, NextSec: 6}, 61, 66, 110},
		{"60/6: on a step", Tariff{RatePerMinute: 100, FirstSec: 60, NextSec: 6}, 72, 72, 120},
		{"60/6: short call pays the first minute", Tariff{RatePerMinute: 100, FirstSec: 60, NextSec: 6}, 7, 60, 100},
		{"1/1: per second, thousandths rounded up", Tariff{RatePerMinute: 100, FirstSec: 1, NextSec: 1}, 61, 61, 102},
		{"1/1: exact", Tariff{RatePerMinute: 60, FirstSec: 1, NextSec: 1}, 61, 61, 61},
		{"30/6", Tariff{RatePerMinute: 45, FirstSec: 30, NextSec: 6}, 31, 36, 27},
		{"not priced", Tariff{FirstSec: 1, NextSec: 1}, 600, 600, 0},
		{"negative rate is not priced", Tariff{RatePerMinute: -1}, 600, 600, 0},
		{"a day at the highest rate stays exact", Tariff{RatePerMinute: 1_000_000_000, FirstSec: 1, NextSec: 1}, 86_400, 86_400, 1_440_000_000_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tariff.ChargedSeconds(tc.billed); got != tc.charged {
				t.Errorf("ChargedSeconds(%d) = %d, want %d", tc.billed, got, tc.charged)
			}
			if got := tc.tariff.Cost(tc.billed); got != tc.cost {
				t.Errorf("Cost(%d) = %d, want %d", tc.billed, got, tc.cost)
			}
		})
	}
}

// Cost is ChargedSeconds × RatePerMinute / 60 rounded up, for every increment a
// config accepts.
func TestTariffCostIsRateTimesMinutes(t *testing.T) {
	for _, inc := range [][2]int64{{60, 60}, {60, 6}, {30, 6}, {1, 1}, {6, 6}, {3600, 1}} {
		for _, rate := range []int64{1, 7, 45, 60, 999} {
			tr := Tariff{RatePerMinute: rate, FirstSec: inc[0], NextSec: inc[1]}
			for billed := int64(1); billed < 400; billed++ {
				sec := tr.ChargedSeconds(billed)
				want := int64(math.Ceil(float64(sec*rate) / 60))
				if got := tr.Cost(billed); got != want || sec < billed || sec < inc[0] || (sec-inc[0])%inc[1] != 0 {
					t.Fatalf("%d/%d at %d: %d s charged %d, want %d", inc[0], inc[1], rate, billed, got, want)
				}
			}
		}
	}
}

func TestTariffOf(t *testing.T) {
	tr := TariffOf(configs.Trunk{RatePerMinute: 45, BillingIncrement: configs.BillingIncrement{First: 30, Next: 6}})
	if tr != (Tariff{RatePerMinute: 45, FirstSec: 30, NextSec: 6}) {
		t.Fatalf("TariffOf = %+v", tr)
	}
	// A trunk built in code without an increment bills per started minute.
	if c := TariffOf(configs.Trunk{RatePerMinute: 60}).Cost(61); c != 120 {
		t.Fatalf("zero increment: cost %d, want 120", c)
	}
}
