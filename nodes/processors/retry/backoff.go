package retry

import (
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ackflow/ackflow/internal/backoff"
)

// backoff is the policy's retry schedule.
func (p policy) backoff() backoff.Exponential {
	return backoff.Exponential{Initial: p.initial, Max: p.maxIv, Multiplier: p.multiplier, Jitter: p.rf}
}

// interval is the wait before retry n (1 for the first retry) before
// jitter: initial × multiplier^(n-1), capped at max_interval.
func (p policy) interval(n uint64) time.Duration { return p.backoff().Interval(n) }

// delay is the wait before retry n with jitter u in [0, 1): interval(n)
// scaled by a factor in [1-rf, 1+rf).
func (p policy) delay(n uint64, u float64) time.Duration { return p.backoff().Delay(n, u) }

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
