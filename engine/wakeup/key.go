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
	now   time.Time // the last time given to nowKey, whose key is nowAt
	nowAt int64
	nowOK bool // now and nowAt are set
}

func (k *timeKeys) key(t time.Time) int64 {
	if !k.set {
		k.epoch, k.set = t, true
	}
	return int64(t.Sub(k.epoch))
}

// nowKey returns key(now) for PopDue. The node pops until nothing is due
// with one now, so the key of the last now is kept: time.Time.Sub (without
// monotonic readings it adds and compares to check for overflow) costs
// about a tenth of a pop.
func (k *timeKeys) nowKey(now time.Time) int64 {
	if !k.nowOK || now != k.now {
		k.now, k.nowAt, k.nowOK = now, k.key(now), true
	}
	return k.nowAt
}

// saturated reports a key clamped by Sub: it no longer orders its time
// exactly against other clamped keys.
func saturated(at int64) bool { return at == math.MinInt64 || at == math.MaxInt64 }

// keyAfter reports whether the time with key a (time *ta) is after the
// time with key b (time tb). ta is a pointer so that it is read only when
// the keys cannot tell: the common case does not wait for its cache line.
func keyAfter(a int64, ta *time.Time, b int64, tb time.Time) bool {
	if a != b || !saturated(a) {
		return a > b
	}
	return ta.After(tb)
}
