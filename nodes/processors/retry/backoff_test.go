package retry

import (
	"math"
	"testing"
	"time"

	"github.com/ackflow/ackflow/pdata"
)

func TestInterval(t *testing.T) {
	def := DefaultConfig()
	defaults := def.policy()
	constant := policy{initial: 2 * time.Second, maxIv: 10 * time.Second, multiplier: 1}
	huge := policy{initial: time.Second, maxIv: math.MaxInt64, multiplier: 10}
	tests := []struct {
		name string
		p    policy
		n    uint64
		want time.Duration
	}{
		{"first retry", defaults, 1, time.Second},
		{"second retry", defaults, 2, 1500 * time.Millisecond},
		{"third retry", defaults, 3, 2250 * time.Millisecond},
		{"ninth retry", defaults, 9, time.Duration(float64(time.Second) * math.Pow(1.5, 8))}, // 25.6s
		{"tenth retry reaches the cap", defaults, 10, 30 * time.Second},
		{"power overflows to the cap", defaults, 1 << 40, 30 * time.Second},
		{"multiplier 1", constant, 7, 2 * time.Second},
		{"zero is read as the first retry", defaults, 0, time.Second},
		{"cap at the Duration limit", huge, 100, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.interval(tt.n); got != tt.want {
				t.Fatalf("interval(%d) = %s, want %s", tt.n, got, tt.want)
			}
		})
	}
}

func TestDelayJitterBounds(t *testing.T) {
	p := policy{initial: time.Second, maxIv: 30 * time.Second, multiplier: 2, rf: 0.25}
	tests := []struct {
		name string
		n    uint64
		u    float64
		want time.Duration
	}{
		{"lowest draw", 1, 0, 750 * time.Millisecond},
		{"middle draw", 1, 0.5, time.Second},
		{"high draw", 3, 0.75, 4500 * time.Millisecond},
		{"capped then jittered above the cap", 10, 0.75, 33750 * time.Millisecond},
		{"no jitter", 2, 0, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			if tt.name == "no jitter" {
				q.rf, q.multiplier = 0, 1.5
			}
			if got := q.delay(tt.n, tt.u); got != tt.want {
				t.Fatalf("delay(%d, %v) = %s, want %s", tt.n, tt.u, got, tt.want)
			}
		})
	}
	// No overflow when the cap is near the Duration limit.
	huge := policy{initial: time.Second, maxIv: math.MaxInt64, multiplier: 2, rf: 0.9}
	if got := huge.delay(200, 0.999); got != math.MaxInt64 {
		t.Fatalf("huge delay = %d, want MaxInt64", got)
	}
}

func TestJitterSourceDrawsInBounds(t *testing.T) {
	p := DefaultConfig().policy()
	rng := newRand("g/p", "retry", 0, time.Unix(0, 0))
	const draws = 10_000
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for range draws {
		d := p.delay(4, rng.Float64()) // interval 3.375s, ±50 %
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 1687*time.Millisecond || hi > 5063*time.Millisecond {
		t.Fatalf("delays in [%s, %s], want within [1.6875s, 5.0625s]", lo, hi)
	}
	if lo > 1800*time.Millisecond || hi < 4900*time.Millisecond {
		t.Fatalf("delays in [%s, %s] do not cover the jitter range", lo, hi)
	}
}

func TestJitterSourceSeeds(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first := func(pipeline, node string, cp int, at time.Time) uint64 {
		return newRand(pipeline, node, cp, at).Uint64()
	}
	base := first("g/p", "retry", 0, start)
	if first("g/p", "retry", 0, start) != base {
		t.Fatal("the same node and start time gave a different sequence")
	}
	for name, v := range map[string]uint64{
		"another node":     first("g/p", "retry2", 0, start),
		"another pipeline": first("g/q", "retry", 0, start),
		"another copy":     first("g/p", "retry", 1, start),
		"another start":    first("g/p", "retry", 0, start.Add(time.Nanosecond)),
	} {
		if v == base {
			t.Errorf("%s draws the same sequence", name)
		}
	}
}

func TestCallDataRoundTrip(t *testing.T) {
	first := time.Date(2026, 3, 4, 5, 6, 7, 89, time.UTC)
	a := attempt{n: 7, first: first}
	cd := a.callData()
	if cd != (pdata.CallData{7, uint64(first.UnixNano()), 0}) {
		t.Fatalf("call data = %v", cd)
	}
	got := attemptFrom(cd)
	if got.n != 7 || !got.first.Equal(first) {
		t.Fatalf("decoded %+v, want n 7 first %s", got, first)
	}
	if attemptFrom(pdata.CallData{}).n != 1 {
		t.Fatal("a zero count must read as the first attempt")
	}
}

func TestTried(t *testing.T) {
	tests := []struct {
		sends   uint64
		elapsed time.Duration
		want    string
	}{
		{1, 0, "after 1 attempt over 0s"},
		{5, 12345 * time.Millisecond, "after 5 attempts over 12.345s"},
		{2, 1500*time.Microsecond + 400*time.Nanosecond, "after 2 attempts over 2ms"},
		{3, -time.Second, "after 3 attempts over 0s"}, // a clock step backwards
	}
	for _, tt := range tests {
		if got := tried(tt.sends, tt.elapsed); got != tt.want {
			t.Errorf("tried(%d, %s) = %q, want %q", tt.sends, tt.elapsed, got, tt.want)
		}
	}
}

func TestRetryLabel(t *testing.T) {
	for n, want := range map[uint64]string{1: "1", 9: "9", 10: "10+", 11: "10+", 1 << 60: "10+"} {
		if got := retryLabel(n); got != want {
			t.Errorf("retryLabel(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestStateAndReasonNames(t *testing.T) {
	for s, want := range map[state]string{stateRunning: "running", stateDraining: "draining", stateStopped: "stopped", 9: "state(9)"} {
		if s.String() != want {
			t.Errorf("state %d = %q, want %q", s, s.String(), want)
		}
	}
	seen := map[string]bool{}
	for g := range giveUpCount {
		if seen[g.String()] || g.String() == "" {
			t.Fatalf("reason %d name %q empty or repeated", g, g.String())
		}
		seen[g.String()] = true
	}
}
