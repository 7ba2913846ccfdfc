package pool

import "callgate/configs"

// This file prices calls: a supplier's tariff turns a call's billed seconds into
// what the supplier charges for it, the CostMilli of the call record.

// Default billing increments, in seconds: the carriers' "60/60" (every started
// minute is charged in full).
const (
	defaultFirstIncrement = 60
	defaultNextIncrement  = 60
)

// Tariff is what a supplier charges for the calls placed on one trunk: RatePerMinute
// for every charged minute, where a call's answered time is charged in increments
// "first/next" as carrier contracts write them. "60/60" charges every started minute
// in full; "60/6" a full first minute, then 6-second steps; "1/1" every second.
type Tariff struct {
	// RatePerMinute is in thousandths of the currency unit (60 = 0.060 a minute); zero
	// or less means the trunk's calls are not priced.
	RatePerMinute int64
	// FirstSec is the shortest charge of an answered call: any call up to FirstSec
	// seconds is charged FirstSec. Zero means 60.
	FirstSec int64
	// NextSec is the step beyond FirstSec: the rest is rounded up to a multiple of it.
	// Zero means 60.
	NextSec int64
}

// TariffOf returns the tariff of trunk t's config.
func TariffOf(t configs.Trunk) Tariff {
	return Tariff{RatePerMinute: t.RatePerMinute, FirstSec: int64(t.BillingIncrement.First),
		NextSec: int64(t.BillingIncrement.Next)}
}

// ChargedSeconds is what the supplier charges for a call of billedSec answered
// seconds (Call.BilledSec, already rounded up to whole seconds): 0 for an unanswered
// call, at least FirstSec for an answered one, and beyond it whole NextSec steps.
func (t Tariff) ChargedSeconds(billedSec int64) int64 {
	if billedSec <= 0 {
		return 0
	}
	first, next := t.FirstSec, t.NextSec
	if first <= 0 {
		first = defaultFirstIncrement
	}
	if next <= 0 {
		next = defaultNextIncrement
	}
	if billedSec <= first {
		return first
	}
	return first + (billedSec-first+next-1)/next*next
}

// Cost is the price of a call of billedSec answered seconds, in thousandths of the
// currency unit: ChargedSeconds at RatePerMinute, a part of a thousandth rounded up.
// An unpriced tariff costs nothing.
func (t Tariff) Cost(billedSec int64) int64 {
	if t.RatePerMinute <= 0 {
		return 0
	}
	sec := t.ChargedSeconds(billedSec)
	// sec*rate/60 rounded up, split so the product stays far from overflow.
	return sec/60*t.RatePerMinute + (sec%60*t.RatePerMinute+59)/60
}
