package benchkit

import (
	"fmt"
	"math"
)

// Repeated is one step of a ramp (one edge, one load) over its repetitions: the
// runs that happened and how many were planned (a run is skipped when a lower step
// overloaded the edge).
type Repeated[T any] struct {
	Runs []T
	Reps int // planned, skipped ones included
}

// Add counts one repetition; skipped ones count toward Reps only.
func (r *Repeated[T]) Add(run T, skipped bool) {
	r.Reps++
	if !skipped {
		r.Runs = append(r.Runs, run)
	}
}

// Median is the median of f over the runs (NaN: none, or only NaNs).
func (r Repeated[T]) Median(f func(T) float64) float64 {
	xs := make([]float64, 0, len(r.Runs))
	for _, s := range r.Runs {
		xs = append(xs, f(s))
	}
	return Median(xs)
}

// Passed counts the runs that passed.
func (r Repeated[T]) Passed(pass func(T) bool) int {
	n := 0
	for _, s := range r.Runs {
		if pass(s) {
			n++
		}
	}
	return n
}

// Pass: a majority of the planned repetitions passed.
func (r Repeated[T]) Pass(pass func(T) bool) bool { return r.Reps > 0 && 2*r.Passed(pass) > r.Reps }

// Verdict is "passed/planned ✅" (a majority passed) or "… ❌".
func (r Repeated[T]) Verdict(pass func(T) bool) string {
	v := fmt.Sprintf("%d/%d", r.Passed(pass), r.Reps)
	if r.Pass(pass) {
		return v + " ✅"
	}
	return v + " ❌"
}

// F0, F1 and F3 format a figure with 0, 1 or 3 decimals, and NaN (not measured) as
// "–".
func F0(x float64) string { return fixed(x, 0) }

// F1 formats x with one decimal (see F0).
func F1(x float64) string { return fixed(x, 1) }

// F3 formats x with three decimals (see F0).
func F3(x float64) string { return fixed(x, 3) }

func fixed(x float64, decimals int) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.*f", decimals, x)
}
