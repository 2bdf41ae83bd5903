package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// The latency histogram is log-linear over nanoseconds, like HdrHistogram: values below
// 2*subCount have a bucket each, and every power of two above is cut into subCount equal
// buckets. A bucket is then at most 1/subCount (0.8%) of its lower bound wide, and reporting
// its midpoint errs by at most 0.4%, in fixed memory whatever the number of samples.
const (
	subBits  = 7
	subCount = 1 << subBits
	maxExp   = 37 // buckets reach 2^(maxExp+subBits+1) ns, about 9.8 h; larger values clamp
	nBuckets = 2*subCount + maxExp*subCount
)

func bucketOf(ns uint64) int {
	if ns < 2*subCount {
		return int(ns)
	}
	e := bits.Len64(ns) - subBits - 1 // ≥ 1; ns>>e is in [subCount, 2*subCount)
	i := 2*subCount + (e-1)*subCount + int(ns>>e) - subCount
	return min(i, nBuckets-1)
}

// bucketMid is the value reported for bucket i: its midpoint.
func bucketMid(i int) float64 {
	if i < 2*subCount {
		return float64(i)
	}
	e := (i-2*subCount)/subCount + 1
	lo := uint64((i-2*subCount)%subCount+subCount) << e
	return float64(lo) + float64(uint64(1)<<e-1)/2
}

// histogram is written by one socket goroutine and read concurrently by the progress reporter,
// hence atomic counters: uncontended adds on the owner's cache lines, no lock.
type histogram struct{ b [nBuckets]atomic.Uint64 }

func (h *histogram) record(ns int64) { h.b[bucketOf(uint64(max(ns, 0)))].Add(1) }

// counts is a plain copy of histograms, to merge, subtract and query.
type counts [nBuckets]uint64

func (c *counts) add(h *histogram) {
	for i := range c {
		c[i] += h.b[i].Load()
	}
}

func (c *counts) total() (n uint64) {
	for _, v := range c {
		n += v
	}
	return n
}

// quantile returns the value (ns) at quantile q in [0,1]: the bucket holding the
// ceil(q*n)-th smallest sample (nearest-rank). It returns 0 for an empty histogram.
func (c *counts) quantile(q float64) float64 {
	n := c.total()
	if n == 0 {
		return 0
	}
	// The epsilon keeps float noise (0.07*100 = 7.000000000000001) from skipping a rank.
	rank := max(1, min(uint64(math.Ceil(q*float64(n)-1e-9)), n))
	var seen uint64
	for i, v := range c {
		if seen += v; seen >= rank {
			return bucketMid(i)
		}
	}
	return bucketMid(nBuckets - 1)
}
