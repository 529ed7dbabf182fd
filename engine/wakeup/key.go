package wakeup

import (
	"math"
	"time"
)

// timeKeys maps deadlines to int64 sort keys (nanoseconds since an epoch,
// the first time it sees), so that heap comparisons are integer
// comparisons on inline data instead of time.Time.Compare calls.
//
// Like Compare, time.Time.Sub uses monotonic readings when both times have
// one (times from clock.Real do) and wall time otherwise; callers take
// deadlines and now from one Clock, so the two never mix. Sub saturates
// about 292 years from the epoch, so equal saturated keys are ordered by
// comparing the times themselves (see saturated).
type timeKeys struct {
	epoch time.Time
	set   bool
}

func (k *timeKeys) key(t time.Time) int64 {
	if !k.set {
		k.epoch, k.set = t, true
	}
	return int64(t.Sub(k.epoch))
}

// saturated reports a key clamped by Sub: it no longer orders its time
// exactly against other clamped keys.
func saturated(at int64) bool { return at == math.MinInt64 || at == math.MaxInt64 }

// keyAfter reports whether the time with key a (time ta) is after the time
// with key b (time tb).
func keyAfter(a int64, ta time.Time, b int64, tb time.Time) bool {
	if a != b || !saturated(a) {
		return a > b
	}
	return ta.After(tb)
}
