// Package backoff computes exponential retry delays with random jitter,
// the one formula shared by every node that retries (processor:retry,
// processor:durable_buffer, receiver:kafka).
package backoff

import (
	"math"
	"time"
)

// Exponential is a validated retry policy: the wait before retry n (1 for
// the first) is Initial × Multiplier^(n-1), capped at Max, then scaled by a
// random factor in [1-Jitter, 1+Jitter), so that work failed together does
// not retry together.
type Exponential struct {
	Initial, Max time.Duration
	Multiplier   float64 // at least 1
	Jitter       float64 // randomization factor, in [0, 1]
}

// Interval is the wait before retry n without jitter.
func (e Exponential) Interval(n uint64) time.Duration {
	if n <= 1 {
		return min(e.Initial, e.Max)
	}
	// Float arithmetic: the power overflows to +Inf long before n does, and
	// the comparison below turns that into the cap.
	f := float64(e.Initial) * math.Pow(e.Multiplier, float64(n-1))
	if !(f < float64(e.Max)) {
		return e.Max
	}
	return time.Duration(f)
}

// Delay is the wait before retry n with jitter u, a uniform random number
// in [0, 1): Interval(n) × (1 + Jitter×(2u-1)).
func (e Exponential) Delay(n uint64, u float64) time.Duration {
	f := float64(e.Interval(n)) * (1 + e.Jitter*(2*u-1))
	if f >= math.MaxInt64 { // Max near the Duration limit
		return math.MaxInt64
	}
	return time.Duration(f)
}
