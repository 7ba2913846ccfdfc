package media

import "time"

// Clock is the source of time for [Ports], [Leg] and [Bridge]. Tests inject a
// fake one; production code uses [SystemClock].
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks at an interval, like *time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// SystemClock returns the Clock backed by package time.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

var (
	_ Clock  = systemClock{}
	_ Ticker = systemTicker{}
)

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (t systemTicker) C() <-chan time.Time { return t.t.C }
func (t systemTicker) Stop()               { t.t.Stop() }
