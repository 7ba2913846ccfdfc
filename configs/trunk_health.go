package configs

import (
	"cmp"
	"math"
	"time"
)

// This file holds a trunk's health settings — its manual weight, how long an INVITE
// may go unanswered before failover, and its SIP OPTIONS probe — and sip.scoring, the
// thresholds by which trunks are degraded and recovered from their calls' outcomes.
// The sip package probes and fails over; routing.Scoreboard scores.

// TrunkProbe configures SIP OPTIONS probes to a trunk. Zero means the default; a
// negative interval turns probing off (as does leaving probe out).
type TrunkProbe struct {
	// Interval between probes; default 30s.
	Interval Duration `yaml:"interval"`
	// Timeout is how long a probe waits for any final answer; default 5s, at most
	// the interval.
	Timeout Duration `yaml:"timeout"`
	// DownAfter consecutive failed probes mark the trunk down; default 3.
	DownAfter int `yaml:"down_after"`
	// UpAfter consecutive answered probes mark a down trunk up again; default 2.
	UpAfter int `yaml:"up_after"`
}

// On reports whether probes are sent.
func (p *TrunkProbe) On() bool { return p != nil && p.Interval > 0 }

// Scoring holds the thresholds of trunk scoring (sip.scoring). Zero means the
// default; see routing.ScoreSettings for what each one does.
type Scoring struct {
	// HalfLife is how fast old call outcomes fade; default 10m.
	HalfLife Duration `yaml:"half_life"`
	// MinSeizures is how many (decayed) calls it takes before the answer rate can
	// degrade a trunk; default 10.
	MinSeizures float64 `yaml:"min_seizures"`
	// DegradeBelow: a trunk whose answer-seizure ratio falls below it is degraded;
	// default 0.15; negative: never degrade on the ratio.
	DegradeBelow float64 `yaml:"degrade_below"`
	// RecoverAbove: a degraded trunk recovers when the ratio rises above it;
	// default 0.30; must be above DegradeBelow (the hysteresis).
	RecoverAbove float64 `yaml:"recover_above"`
	// PDDTarget is the post-dial delay above which a trunk's score shrinks; default 5s.
	PDDTarget Duration `yaml:"pdd_target"`
	// Every is how often scores are recomputed as outcomes fade; default 5s.
	Every Duration `yaml:"every"`
}

// Defaults of trunk health and scoring.
const (
	defaultTrunkWeight   = 1.0              // trunks[].weight
	defaultInviteTimeout = 8 * time.Second  // trunks[].invite_timeout
	defaultProbeInterval = 30 * time.Second // trunks[].probe.interval
	defaultProbeTimeout  = 5 * time.Second  // trunks[].probe.timeout
	defaultProbeDown     = 3                // trunks[].probe.down_after
	defaultProbeUp       = 2                // trunks[].probe.up_after
	defaultHalfLife      = 10 * time.Minute // sip.scoring.half_life
	defaultMinSeizures   = 10.0             // sip.scoring.min_seizures
	defaultDegradeBelow  = 0.15             // sip.scoring.degrade_below
	defaultRecoverAbove  = 0.30             // sip.scoring.recover_above
	defaultPDDTarget     = 5 * time.Second  // sip.scoring.pdd_target
	defaultScoreEvery    = 5 * time.Second  // sip.scoring.every
)

// trunkHealthDefaults fills trunk t's weight, INVITE timeout and probe defaults.
func trunkHealthDefaults(t *Trunk) {
	t.Weight = cmp.Or(t.Weight, defaultTrunkWeight)
	t.InviteTimeout = cmp.Or(t.InviteTimeout, Duration(defaultInviteTimeout))
	if p := t.Probe; p != nil {
		p.Interval = cmp.Or(p.Interval, Duration(defaultProbeInterval))
		p.Timeout = cmp.Or(p.Timeout, Duration(defaultProbeTimeout))
		p.DownAfter = cmp.Or(p.DownAfter, defaultProbeDown)
		p.UpAfter = cmp.Or(p.UpAfter, defaultProbeUp)
	}
}

// scoringDefaults fills sip.scoring.
func scoringDefaults(s *Scoring) {
	s.HalfLife = cmp.Or(s.HalfLife, Duration(defaultHalfLife))
	s.MinSeizures = cmp.Or(s.MinSeizures, defaultMinSeizures)
	s.DegradeBelow = cmp.Or(s.DegradeBelow, defaultDegradeBelow)
	s.RecoverAbove = cmp.Or(s.RecoverAbove, defaultRecoverAbove)
	s.PDDTarget = cmp.Or(s.PDDTarget, Duration(defaultPDDTarget))
	s.Every = cmp.Or(s.Every, Duration(defaultScoreEvery))
}

// trunkHealth checks trunk t's weight, INVITE timeout and probe (after defaults).
func (v *validation) trunkHealth(pl place, t *Trunk) {
	if math.IsNaN(t.Weight) || math.IsInf(t.Weight, 0) || t.Weight > 1000 {
		v.bad(pl, at("weight"), "must be a number up to 1000 (negative: the trunk takes no new calls), got %g", t.Weight)
	}
	if d := t.InviteTimeout.Std(); d > 0 && d < 500*time.Millisecond {
		v.bad(pl, at("invite_timeout"), "must be at least 500ms (or negative: wait for the SIP transaction timeout), got %s", t.InviteTimeout)
	}
	p := t.Probe
	if !p.On() {
		return
	}
	if p.Interval.Std() < time.Second {
		v.bad(pl, at("probe", "interval"), "must be at least 1s (or negative: no probes), got %s", p.Interval)
	}
	if p.Timeout <= 0 || p.Timeout > p.Interval {
		v.bad(pl, at("probe", "timeout"), "must be positive and at most the interval (%s), got %s", p.Interval, p.Timeout)
	}
	if p.DownAfter < 1 || p.DownAfter > 100 {
		v.bad(pl, at("probe", "down_after"), "must be from 1 to 100 failed probes, got %d", p.DownAfter)
	}
	if p.UpAfter < 1 || p.UpAfter > 100 {
		v.bad(pl, at("probe", "up_after"), "must be from 1 to 100 answered probes, got %d", p.UpAfter)
	}
}

// scoring checks sip.scoring (after defaults).
func (v *validation) scoring(top place) {
	s := v.cfg.SIP.Scoring
	key := func(k string) []any { return at("sip", "scoring", k) }
	if s.HalfLife.Std() < time.Second {
		v.bad(top, key("half_life"), "must be at least 1s, got %s", s.HalfLife)
	}
	if math.IsNaN(s.MinSeizures) || s.MinSeizures < 1 || s.MinSeizures > 1e6 {
		v.bad(top, key("min_seizures"), "must be from 1 to 1000000, got %g", s.MinSeizures)
	}
	if math.IsNaN(s.DegradeBelow) || s.DegradeBelow >= 1 {
		v.bad(top, key("degrade_below"), "must be an answer ratio below 1 (negative: never degrade on it), got %g", s.DegradeBelow)
	}
	if math.IsNaN(s.RecoverAbove) || s.RecoverAbove > 1 || s.RecoverAbove <= 0 {
		v.bad(top, key("recover_above"), "must be an answer ratio above 0 and at most 1, got %g", s.RecoverAbove)
	} else if s.DegradeBelow > 0 && s.RecoverAbove <= s.DegradeBelow {
		v.bad(top, key("recover_above"), "%g must be above degrade_below (%g): the gap keeps a trunk from flapping", s.RecoverAbove, s.DegradeBelow)
	}
	if s.PDDTarget.Std() < 100*time.Millisecond {
		v.bad(top, key("pdd_target"), "must be at least 100ms, got %s", s.PDDTarget)
	}
	if s.Every.Std() < 100*time.Millisecond {
		v.bad(top, key("every"), "must be at least 100ms, got %s", s.Every)
	}
}
