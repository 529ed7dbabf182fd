package backoff

import (
	"math"
	"testing"
	"time"
)

func TestInterval(t *testing.T) {
	e := Exponential{Initial: time.Second, Max: 30 * time.Second, Multiplier: 2}
	for n, want := range map[uint64]time.Duration{
		0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second,
		6: 30 * time.Second, 1000: 30 * time.Second, math.MaxUint64: 30 * time.Second,
	} {
		if got := e.Interval(n); got != want {
			t.Errorf("Interval(%d) = %s, want %s", n, got, want)
		}
	}
	if got := (Exponential{Initial: time.Minute, Max: time.Second, Multiplier: 2}).Interval(1); got != time.Second {
		t.Errorf("Initial above Max: Interval(1) = %s, want the cap", got)
	}
}

func TestDelayJitter(t *testing.T) {
	e := Exponential{Initial: time.Second, Max: time.Minute, Multiplier: 1.5, Jitter: 0.5}
	for _, c := range []struct {
		u    float64
		want time.Duration
	}{{0, 500 * time.Millisecond}, {0.5, time.Second}, {0.75, 1250 * time.Millisecond}} {
		if got := e.Delay(1, c.u); got != c.want {
			t.Errorf("Delay(1, %v) = %s, want %s", c.u, got, c.want)
		}
	}
	huge := Exponential{Initial: time.Duration(math.MaxInt64), Max: time.Duration(math.MaxInt64), Multiplier: 2, Jitter: 1}
	if got := huge.Delay(3, 0.999); got != math.MaxInt64 {
		t.Errorf("Delay near the Duration limit = %d, want MaxInt64 (no overflow)", got)
	}
}
