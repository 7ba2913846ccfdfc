package sip

import "time"

// SweepGuard runs the guard's sweep of idle sources as if at now (tests only).
func (e *Edge) SweepGuard(now time.Time) { e.guard.sweep(now) }
