package main

import "math"

// histMaxUS is the histogram's range: 1 µs buckets up to 50 ms.
const histMaxUS = 50_000

// hist is a latency histogram in whole microseconds. Not safe for concurrent use.
type hist struct {
	buckets [histMaxUS + 1]int64
	n, over int64
	sum     float64
	min     float64
}

func newHist() *hist { return &hist{min: math.Inf(1)} }

func (h *hist) add(us float64) {
	h.n++
	h.sum += us
	h.min = min(h.min, us)
	i := int(us)
	if i < 0 {
		i = 0
	}
	if i > histMaxUS {
		i = histMaxUS
		h.over++
	}
	h.buckets[i]++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.buckets {
		h.buckets[i] += c
	}
	h.n += o.n
	h.over += o.over
	h.sum += o.sum
	h.min = min(h.min, o.min)
}

func (h *hist) reset() { *h = hist{min: math.Inf(1)} }

// quantile returns the upper edge of the bucket holding the q-quantile (0-1).
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var acc int64
	for i, c := range h.buckets {
		acc += c
		if acc >= rank {
			return float64(i) + 1
		}
	}
	return histMaxUS
}

func (h *hist) summary() latency {
	if h.n == 0 {
		return latency{} // N = 0: no samples (JSON has no NaN)
	}
	maxUS := 0.0
	for i := len(h.buckets) - 1; i >= 0; i-- {
		if h.buckets[i] > 0 {
			maxUS = float64(i) + 1
			break
		}
	}
	return latency{N: h.n, Min: h.min, P50: h.quantile(0.5), P90: h.quantile(0.9), P99: h.quantile(0.99),
		P999: h.quantile(0.999), Max: maxUS, Mean: h.sum / float64(h.n), Over50ms: h.over}
}
