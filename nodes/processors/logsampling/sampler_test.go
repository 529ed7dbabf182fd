package logsampling

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestRatioExample is the reference engine's documented example.
func TestRatioExample(t *testing.T) {
	r := &ratio{emit: 2, outOf: 5}
	for i, c := range []struct{ n, want int }{{12, 6}, {4, 1}, {5, 2}, {4, 1}} {
		if got := r.keep(c.n, time.Time{}); got != c.want {
			t.Fatalf("batch %d of %d: kept %d, want %d", i+1, c.n, got, c.want)
		}
	}
	if r.seen != 0 {
		t.Fatalf("after 25 records the cycle position is %d, want 0", r.seen)
	}
}

// TestRatioMatchesPerRecordCount checks the O(1) count against one record
// at a time: position i of the stream is kept when i mod out_of < emit.
func TestRatioMatchesPerRecordCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		outOf := 1 + rng.IntN(40)
		emit := 1 + rng.IntN(outOf)
		r := &ratio{emit: emit, outOf: outOf}
		pos := 0
		for range 50 {
			n := rng.IntN(3 * outOf)
			want := 0
			for i := range n {
				if (pos+i)%outOf < emit {
					want++
				}
			}
			pos += n
			if got := r.keep(n, time.Time{}); got != want {
				t.Fatalf("emit %d out_of %d, batch of %d at position %d: kept %d, want %d", emit, outOf, n, pos-n, got, want)
			}
		}
	}
}

func TestRatioEdgeCases(t *testing.T) {
	all := &ratio{emit: 3, outOf: 3}
	if got := all.keep(1000, time.Time{}); got != 1000 {
		t.Fatalf("emit = out_of kept %d of 1000", got)
	}
	r := &ratio{emit: 1, outOf: 10}
	if got := r.keep(0, time.Time{}); got != 0 || r.seen != 0 {
		t.Fatalf("empty batch: kept %d, position %d", got, r.seen)
	}
}

func TestZipWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	z := &zip{interval: time.Minute, max: 100}
	steps := []struct {
		at       time.Duration
		n, want  int
		comments string
	}{
		{0, 30, 30, "within budget"},
		{10 * time.Second, 50, 50, "still within"},
		{20 * time.Second, 50, 20, "budget runs out"},
		{59 * time.Second, 10, 0, "nothing left in the window"},
		{time.Minute, 150, 100, "new window at exactly one interval"},
		{3*time.Minute + 30*time.Second, 40, 40, "windows skipped while idle: aligned on the first batch"},
		{3*time.Minute + 59*time.Second, 70, 60, "same window as the previous batch"},
		{4 * time.Minute, 5, 5, "next aligned window"},
	}
	for _, s := range steps {
		if got := z.keep(s.n, t0.Add(s.at)); got != s.want {
			t.Fatalf("%s (at %s, %d records): kept %d, want %d", s.comments, s.at, s.n, got, s.want)
		}
	}
}
