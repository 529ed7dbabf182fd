package clock

import "time"

// Clock tells the time and creates timers. Real and *Fake implement it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns an armed timer that fires once after d. A d <= 0 fires
	// at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer with Go 1.23 channel semantics.
type Timer interface {
	// C returns the channel on which the timer delivers its firing time. The
	// channel is the same for the timer's whole life.
	C() <-chan time.Time
	// Reset re-arms the timer to fire after d (d <= 0: at once), whether or
	// not it had fired or been stopped. After Reset returns, no value from an
	// earlier arming is received.
	Reset(d time.Duration)
	// Stop disarms the timer. It reports whether the call prevented a
	// delivery: true if the timer was armed or had fired with its value not
	// yet received (that value is discarded). After Stop returns, no value is
	// received until the next Reset.
	Stop() bool
}

// Real returns the wall clock, backed by the time package.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// realTimer relies on the module's go >= 1.23 directive: time.Timer then has
// unbuffered-channel semantics, which is exactly the Timer contract.
type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }

func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }

func (r realTimer) Stop() bool { return r.t.Stop() }
