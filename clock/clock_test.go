package clock_test

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// received returns the value waiting on c, if any, without blocking. The
// fake sends under its lock before Advance returns, so a value that should
// be there is there.
func received(c <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func mustFire(t *testing.T, tm clock.Timer, want time.Time) {
	t.Helper()
	got, ok := received(tm.C())
	if !ok {
		t.Fatalf("timer did not fire, want %v", want)
	}
	if !got.Equal(want) {
		t.Fatalf("timer fired with %v, want %v", got, want)
	}
}

func mustNotFire(t *testing.T, tm clock.Timer) {
	t.Helper()
	if v, ok := received(tm.C()); ok {
		t.Fatalf("timer fired unexpectedly with %v", v)
	}
}

func TestRealTimer(t *testing.T) {
	c := clock.Real()
	before := time.Now()
	if now := c.Now(); now.Before(before) {
		t.Fatalf("Real().Now() = %v, before %v", now, before)
	}
	tm := c.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer = false")
	}
	if tm.Stop() {
		t.Fatal("second Stop = true")
	}
	tm.Reset(0)
	<-tm.C() // due at once: no sleep involved
	if tm.Stop() {
		t.Fatal("Stop after the value was received = true")
	}
	tm.Reset(time.Hour)
	if !tm.Stop() {
		t.Fatal("Stop after Reset = false")
	}
}

func TestFakeNowAdvanceSet(t *testing.T) {
	f := clock.NewFake(t0)
	if got := f.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want %v", got, t0)
	}
	f.Advance(90 * time.Second)
	if got, want := f.Now(), t0.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance Now = %v, want %v", got, want)
	}
	f.Set(t0)
	if got := f.Now(); !got.Equal(t0) {
		t.Fatalf("after Set Now = %v, want %v", got, t0)
	}
}

func TestFakeTimerFiresAtDeadline(t *testing.T) {
	tests := []struct {
		name  string
		d     time.Duration
		steps []time.Duration // Advance calls before the deadline is reached
		last  time.Duration   // the Advance that reaches or passes it
	}{
		{name: "exact", d: time.Second, steps: []time.Duration{999 * time.Millisecond}, last: time.Millisecond},
		{name: "overshoot", d: time.Second, steps: []time.Duration{500 * time.Millisecond}, last: time.Hour},
		{name: "many small steps", d: 10 * time.Nanosecond, steps: []time.Duration{1, 2, 3, 3}, last: 1},
		{name: "single step", d: time.Minute, last: time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			tm := f.NewTimer(tc.d)
			if f.Timers() != 1 {
				t.Fatalf("Timers = %d, want 1", f.Timers())
			}
			for _, s := range tc.steps {
				f.Advance(s)
				mustNotFire(t, tm)
			}
			f.Advance(tc.last)
			mustFire(t, tm, t0.Add(tc.d)) // the deadline, even on overshoot
			if f.Timers() != 0 {
				t.Fatalf("Timers after firing = %d, want 0", f.Timers())
			}
			f.Advance(time.Hour)
			mustNotFire(t, tm) // one-shot
		})
	}
}

func TestFakePastDeadlinesFireImmediately(t *testing.T) {
	tests := []struct {
		name string
		arm  func(f *clock.Fake) clock.Timer
	}{
		{"NewTimer(0)", func(f *clock.Fake) clock.Timer { return f.NewTimer(0) }},
		{"NewTimer(negative)", func(f *clock.Fake) clock.Timer { return f.NewTimer(-time.Hour) }},
		{"Reset(0)", func(f *clock.Fake) clock.Timer {
			tm := f.NewTimer(time.Hour)
			tm.Reset(0)
			return tm
		}},
		{"Reset(negative) after Stop", func(f *clock.Fake) clock.Timer {
			tm := f.NewTimer(time.Hour)
			tm.Stop()
			tm.Reset(-time.Second)
			return tm
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			tm := tc.arm(f)
			if f.Timers() != 0 {
				t.Fatalf("Timers = %d, want 0 (already fired)", f.Timers())
			}
			got, ok := received(tm.C())
			if !ok {
				t.Fatal("timer with a past deadline did not fire at once")
			}
			if got.After(t0) {
				t.Fatalf("fired with %v, want <= now %v", got, t0)
			}
		})
	}
}

func TestFakeFiresInDeadlineOrderWithOwnDeadline(t *testing.T) {
	f := clock.NewFake(t0)
	ds := []time.Duration{3 * time.Second, time.Second, 2 * time.Second, time.Hour}
	tms := make([]clock.Timer, len(ds))
	for i, d := range ds {
		tms[i] = f.NewTimer(d)
	}
	f.Advance(5 * time.Second)
	for i, d := range ds[:3] {
		mustFire(t, tms[i], t0.Add(d))
	}
	mustNotFire(t, tms[3])
	if f.Timers() != 1 {
		t.Fatalf("Timers = %d, want 1", f.Timers())
	}
	if got, want := f.Now(), t0.Add(5*time.Second); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
}

func TestFakeSetBackwardsFiresNothing(t *testing.T) {
	f := clock.NewFake(t0)
	tm := f.NewTimer(time.Second)
	f.Set(t0.Add(-time.Hour))
	mustNotFire(t, tm)
	f.Advance(time.Hour) // back at t0: deadline still ahead
	mustNotFire(t, tm)
	f.Set(t0.Add(time.Second))
	mustFire(t, tm, t0.Add(time.Second))
}

func TestFakeReset(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(f *clock.Fake, tm clock.Timer) // state before Reset
	}{
		{"armed", func(*clock.Fake, clock.Timer) {}},
		{"fired, value not received", func(f *clock.Fake, _ clock.Timer) { f.Advance(time.Second) }},
		{"fired and received", func(f *clock.Fake, tm clock.Timer) {
			f.Advance(time.Second)
			<-tm.C()
		}},
		{"stopped", func(_ *clock.Fake, tm clock.Timer) { tm.Stop() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			tm := f.NewTimer(time.Second)
			tc.prepare(f, tm)
			tm.Reset(10 * time.Second)
			mustNotFire(t, tm) // no stale value after Reset
			if f.Timers() != 1 {
				t.Fatalf("Timers = %d, want 1", f.Timers())
			}
			deadline := f.Now().Add(10 * time.Second)
			f.Advance(10*time.Second - 1)
			mustNotFire(t, tm)
			f.Advance(1)
			mustFire(t, tm, deadline)
		})
	}
}

func TestFakeResetMovesDeadlineEarlierAndLater(t *testing.T) {
	f := clock.NewFake(t0)
	a := f.NewTimer(5 * time.Second)
	b := f.NewTimer(3 * time.Second)
	a.Reset(time.Second) // earlier
	b.Reset(time.Hour)   // later
	f.Advance(time.Second)
	mustFire(t, a, t0.Add(time.Second))
	f.Advance(10 * time.Second)
	mustNotFire(t, b)
	f.Advance(time.Hour)
	mustFire(t, b, t0.Add(time.Hour)) // reset at t0
}

func TestFakeStop(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(f *clock.Fake, tm clock.Timer)
		want    bool
	}{
		{"armed", func(*clock.Fake, clock.Timer) {}, true},
		{"fired, value not received", func(f *clock.Fake, _ clock.Timer) { f.Advance(time.Second) }, true},
		{"fired and received", func(f *clock.Fake, tm clock.Timer) {
			f.Advance(time.Second)
			<-tm.C()
		}, false},
		{"already stopped", func(_ *clock.Fake, tm clock.Timer) { tm.Stop() }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			tm := f.NewTimer(time.Second)
			tc.prepare(f, tm)
			if got := tm.Stop(); got != tc.want {
				t.Fatalf("Stop = %v, want %v", got, tc.want)
			}
			if f.Timers() != 0 {
				t.Fatalf("Timers = %d, want 0", f.Timers())
			}
			mustNotFire(t, tm)
			f.Advance(time.Hour)
			mustNotFire(t, tm)
		})
	}
}

func TestFakeWaitTimersWithGoroutine(t *testing.T) {
	f := clock.NewFake(t0)
	got := make(chan time.Time)
	var wg sync.WaitGroup
	wg.Go(func() {
		tm := f.NewTimer(time.Minute)
		got <- <-tm.C()
	})
	f.WaitTimers(1) // the goroutine has armed its timer: safe to advance
	f.Advance(time.Minute)
	if v := <-got; !v.Equal(t0.Add(time.Minute)) {
		t.Fatalf("goroutine received %v, want %v", v, t0.Add(time.Minute))
	}
	wg.Wait()
}

// TestFakeConcurrentUse is meant for -race: goroutines arm, reset, stop and
// read the clock at the same time, then all fire in one Advance.
func TestFakeConcurrentUse(t *testing.T) {
	const workers = 16
	f := clock.NewFake(t0)
	var armed, done sync.WaitGroup
	fired := make([]time.Time, workers)
	armed.Add(workers)
	for i := range workers {
		done.Go(func() {
			tm := f.NewTimer(time.Hour)
			other := f.NewTimer(time.Hour)
			_, _ = f.Now(), f.Timers()
			f.Advance(0)
			other.Stop()
			tm.Reset(time.Duration(i+1) * time.Second)
			armed.Done()
			fired[i] = <-tm.C()
		})
	}
	armed.Wait()
	if got := f.Timers(); got != workers {
		t.Fatalf("Timers = %d, want %d", got, workers)
	}
	f.Advance(workers * time.Second)
	done.Wait()
	for i, v := range fired {
		if want := t0.Add(time.Duration(i+1) * time.Second); !v.Equal(want) {
			t.Errorf("worker %d fired with %v, want %v", i, v, want)
		}
	}
	if f.Timers() != 0 {
		t.Fatalf("Timers = %d, want 0", f.Timers())
	}
}

func TestFakeWaitTimersMany(t *testing.T) {
	const n = 8
	f := clock.NewFake(t0)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { <-f.NewTimer(time.Second).C() })
	}
	f.WaitTimers(n)
	f.Advance(time.Second)
	wg.Wait()
}
