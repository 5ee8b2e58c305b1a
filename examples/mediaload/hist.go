package main

import "time"

// hist counts latencies: 1 us buckets below 10 ms, then 1 ms buckets up
// to 10 s (everything above in the last one). The exact maximum is kept
// on the side.
type hist struct {
	counts [histBuckets]uint64
	max    time.Duration
}

const (
	histFine    = 10000 // 1 us buckets: [0, 10 ms)
	histBuckets = histFine + 10000
)

func histBucket(d time.Duration) int {
	us := int64(d / time.Microsecond)
	switch {
	case us < 0:
		return 0
	case us < histFine:
		return int(us)
	}
	i := histFine + int(us/1000) - histFine/1000
	return min(i, histBuckets-1)
}

// histValue is a bucket's value: its lower bound for 1 us buckets, its
// middle for 1 ms ones.
func histValue(i int) time.Duration {
	if i < histFine {
		return time.Duration(i) * time.Microsecond
	}
	return time.Duration(i-histFine+histFine/1000)*time.Millisecond + 500*time.Microsecond
}

func (h *hist) add(d time.Duration) {
	h.counts[histBucket(d)]++
	if d > h.max {
		h.max = d
	}
}

// sparse returns the non-empty buckets, for the generator's report.
func (h *hist) sparse() map[int]uint64 {
	m := make(map[int]uint64)
	for i, c := range h.counts {
		if c != 0 {
			m[i] = c
		}
	}
	return m
}

// latency summarises sparse histograms merged together.
type latency struct {
	n                       uint64
	p50, p99, p999, maxSeen time.Duration
}

func summarize(max time.Duration, hs ...map[int]uint64) latency {
	var h hist
	for _, s := range hs {
		for i, c := range s {
			if i >= 0 && i < histBuckets {
				h.counts[i] += c
			}
		}
	}
	l := latency{maxSeen: max}
	for _, c := range h.counts {
		l.n += c
	}
	if l.n == 0 {
		return l
	}
	l.p50, l.p99, l.p999 = h.quantile(l.n, 0.50), h.quantile(l.n, 0.99), h.quantile(l.n, 0.999)
	return l
}

func (h *hist) quantile(n uint64, q float64) time.Duration {
	rank := uint64(q*float64(n) + 0.999999)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank && c != 0 {
			return histValue(i)
		}
	}
	return histValue(histBuckets - 1)
}
