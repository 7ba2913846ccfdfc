package benchkit

import "math"

// HistMaxUS is the range of a LatencyHist: 1 µs buckets up to 50 ms.
const HistMaxUS = 50_000

// LatencyHist is a latency histogram in whole microseconds. Not safe for concurrent
// use; the zero value is not ready: use NewLatencyHist.
type LatencyHist struct {
	buckets [HistMaxUS + 1]int64
	n, over int64
	sum     float64
	min     float64
}

// NewLatencyHist returns an empty histogram.
func NewLatencyHist() *LatencyHist { return &LatencyHist{min: math.Inf(1)} }

// Add records one sample in µs; samples beyond HistMaxUS count at HistMaxUS.
func (h *LatencyHist) Add(us float64) {
	h.n++
	h.sum += us
	h.min = min(h.min, us)
	i := int(us)
	if i < 0 {
		i = 0
	}
	if i > HistMaxUS {
		i = HistMaxUS
		h.over++
	}
	h.buckets[i]++
}

// Merge adds o's samples to h.
func (h *LatencyHist) Merge(o *LatencyHist) {
	for i, c := range o.buckets {
		h.buckets[i] += c
	}
	h.n += o.n
	h.over += o.over
	h.sum += o.sum
	h.min = min(h.min, o.min)
}

// Reset empties h.
func (h *LatencyHist) Reset() { *h = LatencyHist{min: math.Inf(1)} }

// Quantile returns the upper edge of the bucket holding the q-quantile (0-1), NaN if
// h is empty.
func (h *LatencyHist) Quantile(q float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	rank := max(int64(math.Ceil(q*float64(h.n))), 1)
	var acc int64
	for i, c := range h.buckets {
		acc += c
		if acc >= rank {
			return float64(i) + 1
		}
	}
	return HistMaxUS
}

// Latency summarises a distribution in µs. N = 0 means no samples (JSON has no NaN).
type Latency struct {
	N                                   int64
	Min, P50, P90, P99, P999, Max, Mean float64
	Over50ms                            int64 `json:",omitempty"`
}

// Summary returns h's distribution.
func (h *LatencyHist) Summary() Latency {
	if h.n == 0 {
		return Latency{}
	}
	maxUS := 0.0
	for i := len(h.buckets) - 1; i >= 0; i-- {
		if h.buckets[i] > 0 {
			maxUS = float64(i) + 1
			break
		}
	}
	return Latency{N: h.n, Min: h.min, P50: h.Quantile(0.5), P90: h.Quantile(0.9), P99: h.Quantile(0.99),
		P999: h.Quantile(0.999), Max: maxUS, Mean: h.sum / float64(h.n), Over50ms: h.over}
}

// Dist is a small distribution of durations in milliseconds (handshakes, setup
// delays), from the samples themselves.
type Dist struct {
	N                  int
	P50, P90, P99, Max float64
}

// NewDist summarises xs (ms); xs is sorted in place.
func NewDist(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	d := Dist{N: len(xs), P50: Percentile(xs, 50), P90: Percentile(xs, 90), P99: Percentile(xs, 99)}
	d.Max = xs[len(xs)-1]
	return d
}
