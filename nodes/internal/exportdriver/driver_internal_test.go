package exportdriver

import (
	"testing"
	"time"
)

func TestWarnLimiterLetsOneThroughPerPeriod(t *testing.T) {
	var w warnLimiter
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at             time.Duration
		wantOK         bool
		wantSuppressed int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{9 * time.Second, false, 0},
		{10 * time.Second, true, 2},
		{15 * time.Second, false, 0},
		{time.Minute, true, 1},
	}
	for _, s := range steps {
		n, ok := w.allow(t0.Add(s.at))
		if ok != s.wantOK || (ok && n != s.wantSuppressed) {
			t.Fatalf("at %s: allow = %d, %t; want %d, %t", s.at, n, ok, s.wantSuppressed, s.wantOK)
		}
	}
}
