package wakeup_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/wakeup"
)

var benchSizes = []int{16, 1024, 10_000}

// jitter is a fixed table of pseudo-random offsets, so the measured loop
// does not pay for a random number generator.
var jitter = func() []time.Duration {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]time.Duration, 4096)
	for i := range out {
		out[i] = time.Duration(rng.Int64N(int64(time.Hour)))
	}
	return out
}()

// filled returns a scheduler at capacity n with slots 0..n-1 live at
// random deadlines within an hour of t0.
func filled(b *testing.B, n int) *wakeup.Scheduler {
	b.Helper()
	s := wakeup.NewScheduler(n, nil)
	for i := range n {
		if _, _, err := s.Set(wakeup.Slot(i), t0.Add(jitter[i%len(jitter)])); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func forSizes(b *testing.B, f func(b *testing.B, n int)) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("slots=%d", n), func(b *testing.B) { f(b, n) })
	}
}

// BenchmarkSchedulerSet measures inserting into a slot that is not live,
// in steady state: half the due wakeups are popped with the timer stopped,
// then their slots are set again with deadlines after all others, as a
// node's now+timeout would be. Stopping the timer reads memory statistics,
// so batches are large and there is no tiny size.
func BenchmarkSchedulerSet(b *testing.B) {
	for _, n := range benchSizes[1:] {
		b.Run(fmt.Sprintf("slots=%d", n), func(b *testing.B) {
			s := filled(b, n)
			free := make([]wakeup.Slot, 0, n/2)
			far := t0.Add(24 * time.Hour)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if len(free) == 0 {
					b.StopTimer()
					for range n / 2 {
						d, _ := s.PopDue(far)
						free = append(free, d.Slot)
					}
					b.StartTimer()
				}
				slot := free[len(free)-1]
				free = free[:len(free)-1]
				s.Set(slot, t0.Add(time.Hour+time.Duration(i)))
			}
		})
	}
}

// BenchmarkSchedulerPopDue measures a pop alone: the earliest wakeup of n
// live ones is removed. Whenever half have been popped, they are set again
// at random deadlines with the timer stopped (see BenchmarkSchedulerSet for
// why there is no tiny size).
func BenchmarkSchedulerPopDue(b *testing.B) {
	for _, n := range benchSizes[1:] {
		b.Run(fmt.Sprintf("slots=%d", n), func(b *testing.B) {
			s := filled(b, n)
			popped := make([]wakeup.Slot, 0, n/2)
			far := t0.Add(1 << 62) // 146 years: each refill moves an hour on
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				if len(popped) == n/2 {
					b.StopTimer()
					round++
					for i, slot := range popped {
						s.Set(slot, t0.Add(time.Duration(round)*time.Hour+jitter[(i*7)%len(jitter)]))
					}
					popped = popped[:0]
					b.StartTimer()
				}
				d, _ := s.PopDue(far)
				popped = append(popped, d.Slot)
			}
		})
	}
}

// BenchmarkSchedulerReplace moves live slots to random new deadlines.
func BenchmarkSchedulerReplace(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		s := filled(b, n)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.Set(wakeup.Slot(i%n), t0.Add(jitter[(i*7)%len(jitter)]))
		}
	})
}

// BenchmarkSchedulerCancelSet cancels a live slot and sets it again.
func BenchmarkSchedulerCancelSet(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		s := filled(b, n)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			slot := wakeup.Slot(i % n)
			s.Cancel(slot)
			s.Set(slot, t0.Add(jitter[(i*7)%len(jitter)]))
		}
	})
}

// BenchmarkSchedulerPopDueSet is a node's steady state: the earliest wakeup
// fires and the processor re-arms its slot for now+timeout.
func BenchmarkSchedulerPopDueSet(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		s := filled(b, n)
		far := t0.Add(24 * time.Hour)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d, _ := s.PopDue(far)
			s.Set(d.Slot, t0.Add(time.Hour+time.Duration(i)))
		}
	})
}

// BenchmarkResumesPushPopDue keeps n items pending: each iteration delivers
// the earliest and queues a new one.
func BenchmarkResumesPushPopDue(b *testing.B) {
	forSizes(b, func(b *testing.B, n int) {
		r := wakeup.NewResumes[*int](n, nil)
		v := new(int)
		for i := range n {
			r.Push(t0.Add(jitter[i%len(jitter)]), v)
		}
		far := t0.Add(24 * time.Hour)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.PopDue(far)
			r.Push(t0.Add(time.Hour+time.Duration(i)), v)
		}
	})
}
