package retry

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// interval is the wait before retry n (1 for the first retry) before
// jitter: initial × multiplier^(n-1), capped at max_interval.
func (p policy) interval(n uint64) time.Duration {
	if n <= 1 {
		return min(p.initial, p.maxIv)
	}
	// Float arithmetic: the power overflows to +Inf long before n does, and
	// the comparison below turns that into the cap.
	f := float64(p.initial) * math.Pow(p.multiplier, float64(n-1))
	if !(f < float64(p.maxIv)) {
		return p.maxIv
	}
	return time.Duration(f)
}

// delay is the wait before retry n with jitter: interval(n) scaled by
// 1 + rf×(2u-1) for u in [0, 1), that is by a factor in [1-rf, 1+rf).
func (p policy) delay(n uint64, u float64) time.Duration {
	f := float64(p.interval(n)) * (1 + p.rf*(2*u-1))
	if f >= math.MaxInt64 { // max_interval near the Duration limit
		return math.MaxInt64
	}
	return time.Duration(f)
}

// newRand returns the node's jitter source. It is seeded from the node's
// identity and the clock's time at construction: a fake clock makes the
// sequence reproducible in tests, while real processes (a fleet of agents
// with one configuration) get different sequences, so their retries after
// a shared outage do not land in step, which is what the jitter is for.
func newRand(pipeline, node string, copyIndex int, start time.Time) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(pipeline))
	h.Write([]byte{0})
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(copyIndex)))
	return rand.New(rand.NewPCG(h.Sum64(), uint64(start.UnixNano())))
}
