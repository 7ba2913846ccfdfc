package benchkit

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0-100) of xs by the nearest-rank method,
// or NaN for no values. xs is sorted in place.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	rank := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[min(max(rank, 1), len(xs))-1]
}

// Median returns the median of xs (the mean of the middle two for an even count),
// ignoring NaNs, or NaN if none is left. xs is not modified.
func Median(xs []float64) float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Micros converts a duration to fractional microseconds.
func Micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
