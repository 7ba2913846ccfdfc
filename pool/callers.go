package pool

import (
	"fmt"
	"math"
	"time"
)

// This file holds the types of caller-number selection as the store keeps it: the
// numbers agents' outbound calls show, their leases (the per-call locks), frequency
// caps and their counters, number health and escalation state. The store methods are
// in sqlite_callers.go; routing makes the decisions.

// NumberKind is the kind of a caller number.
type NumberKind string

// The kinds of caller numbers.
const (
	// KindFixed is a fixed line, usable for any callee.
	KindFixed NumberKind = "fixed"
	// KindCertified is a number certified for calls to a list of cities only.
	KindCertified NumberKind = "certified"
	// KindMobile is a mobile "small number" with its own home city.
	KindMobile NumberKind = "mobile"
)

// Valid reports whether k is one of the kinds.
func (k NumberKind) Valid() bool {
	return k == KindFixed || k == KindCertified || k == KindMobile
}

// CallerNumber is a number agents' outbound calls may show as caller ID, with the
// config that governs it and, when read from the store, its runtime state.
type CallerNumber struct {
	Number   string // E.164
	Tenant   string
	Kind     NumberKind
	Pool     string
	Supplier string
	// Trunks carry calls from this number, in order.
	Trunks []string
	// Cities and Provinces are where the number counts as local: the cities a
	// certified number is certified for, a mobile or fixed number's home city.
	Cities    []string
	Provinces []string
	// PerDay and PerHour cap the calls from this number per calendar day and per
	// sliding hour: 0 means the tenant's cap, a negative value no cap.
	PerDay  int
	PerHour int

	// Runtime state, filled by CallerNumbers and ignored by SyncCallerNumbers.
	LastUsedAt   time.Time // zero if never used
	RestingUntil time.Time // zero if it never rested
	RestReason   string
}

// Caps are a tenant's frequency caps, counted at each reservation. A value of 0 or
// less means no cap.
type Caps struct {
	PairPerDay    int // calls from one caller number to one callee per day
	CalleePerDay  int // calls to one callee per day, from all the tenant's numbers
	CallerPerDay  int // calls from one caller number per day
	CallerPerHour int // calls from one caller number in any sliding hour
}

// Limit returns the cap for one number: override if non-zero (negative: none), else
// tenant.
func Limit(override, tenant int) int {
	switch {
	case override < 0:
		return 0
	case override > 0:
		return override
	}
	return max(tenant, 0)
}

// Outcome is how a call from a reserved caller number ended.
type Outcome string

// The outcomes of a call, as far as caller-number selection cares.
const (
	// OutcomeAnswered means the callee answered.
	OutcomeAnswered Outcome = "answered"
	// OutcomeUnanswered means the call reached the callee's network (it rang, or
	// the callee was busy or declined) but was not answered. It counts against the
	// number's health and escalates the callee's next call to the next kind.
	OutcomeUnanswered Outcome = "unanswered"
	// OutcomeNotPlaced means the callee was never reached (setup failed before or
	// at the carrier). The call's cap counts are given back; health and escalation
	// are unchanged.
	OutcomeNotPlaced Outcome = "not_placed"
)

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	return o == OutcomeAnswered || o == OutcomeUnanswered || o == OutcomeNotPlaced
}

// SkipReason says why a candidate caller number was not chosen.
type SkipReason string

// The reasons to skip a caller number.
const (
	SkipLocked        SkipReason = "locked"          // in another call (lease not expired)
	SkipResting       SkipReason = "resting"         // its answer rate collapsed; resting
	SkipCallerHourCap SkipReason = "caller_hour_cap" // calls from it in the last hour
	SkipCallerDayCap  SkipReason = "caller_day_cap"  // calls from it today
	SkipPairCap       SkipReason = "pair_cap"        // calls from it to this callee today
	SkipUnknown       SkipReason = "unknown"         // not a caller number of the tenant
	SkipNoRule        SkipReason = "no_rule"         // no strategy step allows it for this callee
)

// Skip is one candidate that was not chosen, and why.
type Skip struct {
	Number string
	Reason SkipReason
	// Until is when the reason ends, if known (lease expiry, end of rest, a cap's
	// window moving on).
	Until  time.Time
	Detail string
}

// HealthRule says when a caller number's answer rate has collapsed (the number is
// likely labelled as spam) and how long it then rests.
type HealthRule struct {
	// MinAttempts is how many placed calls in Window it takes to judge; 0 or less
	// turns health checks off.
	MinAttempts int
	// AnswerRateFloor is the lowest acceptable answers/attempts, 0 to 1.
	AnswerRateFloor float64
	// Window is how far back placed calls count, rounded up to whole hours.
	Window time.Duration
	// Rest is how long a collapsed number is not used; 0 or less turns rests off.
	Rest time.Duration
}

// On reports whether the rule ever rests a number.
func (h HealthRule) On() bool { return h.MinAttempts > 0 && h.Rest > 0 && h.Window > 0 }

// Collapsed reports whether attempts and answers over the window call for a rest.
func (h HealthRule) Collapsed(attempts, answers int) bool {
	return h.On() && attempts >= h.MinAttempts && float64(answers) < h.AnswerRateFloor*float64(attempts)
}

// WindowHours is the window as a count of unix hours, the current one included.
func (h HealthRule) WindowHours() int64 {
	return int64(math.Ceil(h.Window.Hours()))
}

// UnixHour is the unix hour of t: the health buckets' key.
func UnixHour(t time.Time) int64 { return t.UnixMilli() / int64(time.Hour/time.Millisecond) }

// ReserveRequest asks the store to pick and lock one caller number for a call, in
// one transaction: the first of Candidates that is not locked, not resting and under
// every cap is leased for LeaseFor and counted against the caps.
type ReserveRequest struct {
	Tenant   string
	Callee   string // E.164
	CallID   string
	Instance string // the callgate process taking the lease
	// LeaseID identifies the lease; 0 lets the store choose one.
	LeaseID int64
	Now     time.Time
	// Day is the tenant's calendar day at Now (yyyymmdd) and DayEnd its end: the
	// store knows no time zones.
	Day    int
	DayEnd time.Time
	// LeaseFor is how long the lock holds unless renewed.
	LeaseFor time.Duration
	Caps     Caps
	// Candidates are caller numbers of the tenant, best first.
	Candidates []string
	// DryRun evaluates every candidate and reserves none: Reservation.Number is the
	// one that would be chosen, Skipped says why each other was not.
	DryRun bool
}

// Reservation is a caller number locked for a call.
type Reservation struct {
	Number     string
	LeaseID    int64
	LeaseUntil time.Time
	// Skipped lists the candidates passed over, in order, with the reason.
	Skipped []Skip
}

// ReleaseRequest ends a lease: the call it locked a number for is over.
type ReleaseRequest struct {
	LeaseID int64
	Outcome Outcome
	At      time.Time
	// Health judges the number after an answered or unanswered call.
	Health HealthRule
}

// Released describes a released lease.
type Released struct {
	Number string
	Tenant string
	Callee string
	Kind   NumberKind // "" if the number has left the config
	// RestingUntil is set when this call's outcome made the number rest.
	RestingUntil time.Time
}

// RenewRequest extends leases that have not expired to Until.
type RenewRequest struct {
	LeaseIDs []int64
	Now      time.Time
	Until    time.Time
}

// LeaseRecord is a lease as stored: a reservation decided by the router, recorded
// through ApplyCallerOps, or read back by LoadCallerState.
type LeaseRecord struct {
	LeaseID    int64
	Number     string
	Tenant     string
	Callee     string
	CallID     string
	Instance   string
	Day        int
	AcquiredAt time.Time
	Until      time.Time
}

// CallerOp is one change the router journals for the store: exactly one of its
// fields is set.
type CallerOp struct {
	// Record stores a reservation the router decided: the lease, the cap counts,
	// the sliding-hour attempt and the number's last use, without re-checking.
	Record *LeaseRecord
	// Release ends a lease as ReleaseCaller does.
	Release *ReleaseRequest
	// Renew extends leases as RenewLeases does.
	Renew *RenewRequest
}

// CallerOpResult is the result of one CallerOp.
type CallerOpResult struct {
	Released Released // for Release
	Renewed  int      // for Renew
	// Err is a failure of this op alone (ErrNotFound for an unknown lease,
	// ErrInvalid); a storage failure fails the whole batch instead.
	Err error
}

// CallerStateQuery bounds what LoadCallerState reads.
type CallerStateQuery struct {
	Now time.Time
	// SinceDay is the earliest day (yyyymmdd) whose counters are read.
	SinceDay int
	// HealthSince and EscalationSince bound the health buckets and escalation rows.
	HealthSince     time.Time
	EscalationSince time.Time
}

// CallerState is the runtime state of caller-number selection as stored, for
// rebuilding the router's in-memory index at start.
type CallerState struct {
	Numbers     []CallerNumber // with runtime state
	Leases      []LeaseRecord  // unexpired at Now
	CallerDays  []DayCount     // Key: caller number
	CalleeDays  []CalleeCount
	Pairs       []PairCount
	Attempts    []CallerAttempt // in the hour before Now
	Health      []HealthBucket
	Escalations []Escalation
}

// DayCount is the calls counted for one key on one day.
type DayCount struct {
	Key   string
	Day   int
	Calls int
}

// CalleeCount is the calls to one callee of a tenant on one day.
type CalleeCount struct {
	Tenant string
	Callee string
	Day    int
	Calls  int
}

// PairCount is the calls from one caller number to one callee on one day.
type PairCount struct {
	Caller string
	Callee string
	Day    int
	Calls  int
}

// CallerAttempt is one reservation of a caller number, for the sliding-hour cap.
type CallerAttempt struct {
	Number  string
	At      time.Time
	LeaseID int64
}

// HealthBucket is a caller number's placed calls and answers in one unix hour.
type HealthBucket struct {
	Number   string
	Hour     int64
	Attempts int
	Answers  int
}

// Escalation is how the last placed call to a callee ended.
type Escalation struct {
	Tenant  string
	Callee  string
	Kind    NumberKind
	Outcome Outcome // answered or unanswered
	At      time.Time
}

// SweepRequest says which rows of caller-number state are old enough to delete.
type SweepRequest struct {
	// LeasesBefore: leases that expired before it.
	LeasesBefore time.Time
	// DaysBefore: day counters of days before it (yyyymmdd).
	DaysBefore int
	// AttemptsBefore, HealthBefore, EscalationsBefore: rows older than these.
	AttemptsBefore    time.Time
	HealthBefore      time.Time
	EscalationsBefore time.Time
}

// SweepResult counts the rows a sweep deleted.
type SweepResult struct {
	Leases, Counters, Attempts, Health, Escalations int64
}

// checkReserve checks a ReserveRequest.
func checkReserve(r ReserveRequest) error {
	switch {
	case r.Tenant == "":
		return fmt.Errorf("%w: no tenant", ErrInvalid)
	case r.Callee == "":
		return fmt.Errorf("%w: no callee", ErrInvalid)
	case r.Now.IsZero():
		return fmt.Errorf("%w: no time", ErrInvalid)
	case r.Day <= 0:
		return fmt.Errorf("%w: no day", ErrInvalid)
	case r.LeaseFor <= 0 && !r.DryRun:
		return fmt.Errorf("%w: lease duration %v", ErrInvalid, r.LeaseFor)
	case len(r.Candidates) == 0:
		return fmt.Errorf("%w: no candidates", ErrNoCallerNumber)
	}
	return nil
}
