package testsink

import (
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
)

// Mode is how the sink answers calls that no Decide function judges.
type Mode uint8

// Modes.
const (
	OK        Mode = iota // accept
	Transient             // UNAVAILABLE: retryable
	Permanent             // INVALID_ARGUMENT: not retryable
	Hang                  // no answer until Release (then accept), Close or the caller's deadline
)

func (m Mode) String() string {
	switch m {
	case OK:
		return "ok"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Hang:
		return "hang"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// verdict is the answer a mode gives.
func (m Mode) verdict() Verdict {
	switch m {
	case Transient:
		return Verdict{Code: codes.Unavailable}
	case Permanent:
		return Verdict{Code: codes.InvalidArgument}
	case Hang:
		return Verdict{Code: codes.OK, Hang: true}
	}
	return Verdict{Code: codes.OK}
}

// Call is what the sink knows of a call when it decides the answer.
type Call struct {
	N      int      // 0-based, in arrival order, all signals together
	Signal string   // SignalLogs, SignalMetrics or SignalTraces
	Keys   []string // item keys of the request, in order; do not modify
	Bytes  int      // size of the request, serialized
	Tries  int      // earlier calls whose first item key was this call's
}

// Verdict is the sink's answer to one call.
type Verdict struct {
	Code codes.Code // codes.OK accepts the data
	// Hang holds the answer until Release (then Code is answered), Close,
	// Stop or the caller's deadline.
	Hang bool
}

// Answer returns a Decide function that answers every call with code.
func Answer(code codes.Code) func(Call) Verdict {
	return func(Call) Verdict { return Verdict{Code: code} }
}

// SetMode sets the answer to later calls. Setting Hang holds calls again
// after a Release.
func (s *Sink) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
	if m == Hang {
		s.holdLocked()
	}
}

// SetDecide makes f decide the answer to each later call, overriding the
// mode; nil returns to the mode. f runs on the call's goroutine, without
// the sink's lock: it may call the sink's methods, except Close, Restart
// and Stop, which wait for the call to end.
func (s *Sink) SetDecide(f func(Call) Verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decide = f
}

// SetDelay delays the answer to every later call by d (0: none), whatever
// the answer. A call whose caller gives up first fails.
func (s *Sink) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetRate makes later calls share a link of bytesPerSecond (0: unlimited):
// a call is answered once its bytes would have crossed the link after those
// of the calls before it. It adds to SetDelay.
func (s *Sink) SetRate(bytesPerSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = bytesPerSecond
	s.linkFree = time.Time{}
}

// Hold makes calls that hang wait again, after a Release; SetMode(Hang)
// does it too.
func (s *Sink) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdLocked()
}

func (s *Sink) holdLocked() {
	select {
	case <-s.gate:
		s.gate = make(chan struct{})
	default: // already holding
	}
}

// Release answers every call that hangs now, and every later one until
// Hold or SetMode(Hang), with its verdict's code (OK in mode Hang).
// Idempotent.
func (s *Sink) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.gate:
	default:
		close(s.gate)
	}
}

// plan returns the verdict for c, the gate a hanging call waits on and how
// long to wait before answering. It reserves the call's time on the link.
func (s *Sink) plan(c Call) (decide func(Call) Verdict, v Verdict, gate <-chan struct{}, wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait = s.delay
	if s.rate > 0 {
		now := time.Now()
		start := s.linkFree
		if start.Before(now) {
			start = now
		}
		s.linkFree = start.Add(time.Duration(float64(c.Bytes) / float64(s.rate) * float64(time.Second)))
		wait += s.linkFree.Sub(now)
	}
	return s.decide, s.mode.verdict(), s.gate, wait
}
