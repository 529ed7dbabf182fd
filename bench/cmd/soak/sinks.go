package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ackflow/ackflow/internal/testsink"
)

// tb lets a command use testsink and hostiletest, which take a testing.TB
// for their failures and cleanups: Fatal panics with a fatalError (the
// caller recovers it), Cleanup queues a function for cleanup. The embedded
// nil TB is never called: the methods these packages use are overridden.
type tb struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

// fatalError is what tb's Fatal panics with.
type fatalError struct{ msg string }

func (e fatalError) Error() string { return e.msg }

func (*tb) Helper()                           {}
func (*tb) Fatalf(format string, args ...any) { panic(fatalError{fmt.Sprintf(format, args...)}) }
func (*tb) Fatal(args ...any)                 { panic(fatalError{fmt.Sprint(args...)}) }
func (*tb) Errorf(format string, args ...any) { panic(fatalError{fmt.Sprintf(format, args...)}) }
func (*tb) Logf(string, ...any)               {}

func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// cleanup runs the queued functions, last first.
func (t *tb) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// Sink fault kinds.
const (
	faultClose     = "close"
	faultTransient = "transient"
	faultPermanent = "permanent"
	faultHang      = "hang"
	faultSlow      = "slow"
)

// sink is a testsink with the faults the soak injects into it.
type sink struct {
	name   string
	s      *testsink.Sink
	faults []string // kinds this sink may get

	mu     sync.Mutex
	state  string         // "ok" or the fault in force
	counts map[string]int // faults applied, by kind
}

func newSink(t *tb, name string, permanent bool) *sink {
	k := &sink{name: name, s: testsink.New(t), state: "ok", counts: map[string]int{},
		faults: []string{faultClose, faultTransient, faultHang, faultSlow}}
	if permanent {
		k.faults = append(k.faults, faultPermanent)
	}
	return k
}

// apply puts the fault kind in force and describes it.
func (k *sink) apply(kind string, rng *rand.Rand) string {
	desc := kind
	switch kind {
	case faultClose:
		k.s.Close()
		desc = "closed (connections refused)"
	case faultTransient:
		k.s.SetMode(testsink.Transient)
		desc = "transient (UNAVAILABLE)"
	case faultPermanent:
		k.s.SetMode(testsink.Permanent)
		desc = "permanent (INVALID_ARGUMENT)"
	case faultHang:
		k.s.SetMode(testsink.Hang)
		desc = "hang"
	case faultSlow:
		delay := time.Duration(10+rng.IntN(90)) * time.Millisecond
		bps := (8 + rng.IntN(57)) << 10
		k.s.SetDelay(delay)
		k.s.SetRate(bps)
		desc = fmt.Sprintf("slow (%s late, %d KiB/s link)", delay, bps>>10)
	}
	k.mu.Lock()
	k.state = kind
	k.counts[kind]++
	k.mu.Unlock()
	return desc
}

// heal makes the sink healthy: serving, answering OK at once, hanging
// calls released (they are accepted).
func (k *sink) heal() error {
	k.s.SetMode(testsink.OK)
	k.s.Release()
	k.s.SetDelay(0)
	k.s.SetRate(0)
	if !k.s.Running() {
		if err := k.s.Restart(); err != nil {
			return fmt.Errorf("sink %s: %w", k.name, err)
		}
	}
	k.mu.Lock()
	k.state = "ok"
	k.mu.Unlock()
	return nil
}

func (k *sink) status() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state
}

func (k *sink) faultCounts() (map[string]int, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out, total := map[string]int{}, 0
	for kind, n := range k.counts {
		out[kind] = n
		total += n
	}
	return out, total
}

// faultLoop injects faults into k until ctx ends: healthy for 4-12 s, then
// a fault for 2-8 s, then healed. It leaves the sink healthy.
func (s *soak) faultLoop(ctx context.Context, k *sink, rng *rand.Rand) {
	for {
		if !sleepCtx(ctx, between(rng, 4*time.Second, 12*time.Second)) {
			return
		}
		kind := k.faults[rng.IntN(len(k.faults))]
		d := between(rng, 2*time.Second, 8*time.Second)
		s.event("sink %s: %s for %s", k.name, k.apply(kind, rng), d.Round(100*time.Millisecond))
		sleepCtx(ctx, d)
		if err := k.heal(); err != nil {
			s.event("sink %s: heal failed: %v", k.name, err)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// between returns a duration drawn uniformly from [lo, hi).
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// sleepCtx sleeps for d; it reports false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
