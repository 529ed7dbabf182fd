package testsink

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// book is what the sink recorded; guarded by Sink.mu.
type book struct {
	calls       int
	okCalls     int
	failedCalls int
	accepted    int            // items accepted, duplicates included
	bytes       int64          // bytes of the accepted calls
	items       map[string]int // item key → times accepted
	arrived     map[string]int // item key → calls that carried it
	tries       map[string]int // first item key → calls
	inFlight    int
	maxInFlight int
}

func newBook() book {
	return book{items: map[string]int{}, arrived: map[string]int{}, tries: map[string]int{}}
}

// Stats are the sink's counters, all calls of every incarnation together.
type Stats struct {
	Calls       int   // calls received, whatever their answer
	OKCalls     int   // calls accepted
	FailedCalls int   // calls answered with an error, or given up by the caller or Close
	Items       int   // distinct item keys accepted
	Accepted    int   // items accepted, duplicates included
	Duplicates  int   // Accepted - Items: acceptances of a key accepted before
	Bytes       int64 // serialized size of the accepted calls
	InFlight    int   // calls not answered yet
	MaxInFlight int   // most calls at once
}

func (st Stats) String() string {
	return fmt.Sprintf("%d calls (%d ok, %d failed, %d in flight, max %d), %d items accepted (%d distinct, %d duplicates), %d bytes",
		st.Calls, st.OKCalls, st.FailedCalls, st.InFlight, st.MaxInFlight, st.Accepted, st.Items, st.Duplicates, st.Bytes)
}

// changedLocked wakes the waiters.
func (s *Sink) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// arrive records a call and returns what the sink knows of it.
func (s *Sink) arrive(signal string, size int, keys []string) Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.book
	c := Call{N: b.calls, Signal: signal, Keys: keys, Bytes: size}
	if len(keys) > 0 {
		c.Tries = b.tries[keys[0]]
		b.tries[keys[0]]++
	}
	b.calls++
	for _, k := range keys {
		b.arrived[k]++
	}
	b.inFlight++
	b.maxInFlight = max(b.maxInFlight, b.inFlight)
	s.changedLocked()
	return c
}

func (s *Sink) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.book.inFlight--
	s.changedLocked()
}

// fail counts a call answered with err and returns err.
func (s *Sink) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.book.failedCalls++
	return err
}

// accept records the items of an accepted call. It runs before the answer
// is sent: whatever a caller saw accepted is in the book.
func (s *Sink) accept(size int, keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.book
	b.okCalls++
	b.bytes += int64(size)
	b.accepted += len(keys)
	for _, k := range keys {
		b.items[k]++
	}
	s.changedLocked()
}

func (s *Sink) statsLocked() Stats {
	b := &s.book
	return Stats{
		Calls: b.calls, OKCalls: b.okCalls, FailedCalls: b.failedCalls,
		Items: len(b.items), Accepted: b.accepted, Duplicates: b.accepted - len(b.items),
		Bytes: b.bytes, InFlight: b.inFlight, MaxInFlight: b.maxInFlight,
	}
}

// Stats returns the counters now.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

// Count returns how many times the item with key was accepted.
func (s *Sink) Count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.book.items[key]
}

// Counts returns a copy of the accepted items: key → times accepted.
func (s *Sink) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.book.items))
	for k, n := range s.book.items {
		out[k] = n
	}
	return out
}

// Tries returns the number of calls that carried the request whose first
// item key is key, whatever their answer.
func (s *Sink) Tries(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.book.tries[key]
}

// AllArrived reports whether every key was carried by some call, whatever
// its answer.
func (s *Sink) AllArrived(keys []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if s.book.arrived[k] == 0 {
			return false
		}
	}
	return true
}

// Missing returns the keys, in order, that the sink has not accepted.
func (s *Sink) Missing(keys []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.missingLocked(keys)
}

func (s *Sink) missingLocked(keys []string) []string {
	var out []string
	for _, k := range keys {
		if s.book.items[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// WaitUntil waits until cond holds for the counters, or fails after
// timeout with an error naming what and the counters. cond runs with the
// sink's lock held: it must not call the sink.
func (s *Sink) WaitUntil(what string, timeout time.Duration, cond func(Stats) bool) error {
	return s.wait(timeout, func() (bool, string) {
		st := s.statsLocked()
		return cond(st), what
	})
}

// WaitItems waits until n distinct items were accepted.
func (s *Sink) WaitItems(n int, timeout time.Duration) error {
	return s.WaitUntil(fmt.Sprintf("%d distinct items", n), timeout, func(st Stats) bool { return st.Items >= n })
}

// WaitKeys waits until every key was accepted.
func (s *Sink) WaitKeys(keys []string, timeout time.Duration) error {
	return s.wait(timeout, func() (bool, string) {
		miss := s.missingLocked(keys)
		if len(miss) == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("%d keys (%d missing, e.g. %s)", len(keys), len(miss), miss[0])
	})
}

// WaitIdle waits until no call is in progress.
func (s *Sink) WaitIdle(timeout time.Duration) error {
	return s.WaitUntil("no call in flight", timeout, func(st Stats) bool { return st.InFlight == 0 })
}

// wait waits until cond (called with s.mu held) holds; its string says
// what is awaited.
func (s *Sink) wait(timeout time.Duration, cond func() (bool, string)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok, what := cond()
		ch, st := s.changed, s.statsLocked()
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("testsink %s: timed out after %s waiting for %s; %s", s.addr, timeout, what, st)
		}
	}
}

// RequireExactly checks that the sink accepted each key of want exactly as
// many times as it occurs in want, and nothing else; it reports up to ten
// differences with t.Errorf.
func (s *Sink) RequireExactly(t testing.TB, want []string) {
	t.Helper()
	wantN := map[string]int{}
	for _, k := range want {
		wantN[k]++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var diffs []string
	for k, n := range wantN {
		if got := s.book.items[k]; got != n {
			diffs = append(diffs, fmt.Sprintf("%s: got %d, want %d", k, got, n))
		}
	}
	for k, got := range s.book.items {
		if _, ok := wantN[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: got %d, never sent", k, got))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 10 {
			diffs = append(diffs[:10], "…")
		}
		t.Errorf("testsink %s: accepted items differ from what was sent (%d distinct sent, %d distinct accepted):\n  %s",
			s.addr, len(wantN), len(s.book.items), strings.Join(diffs, "\n  "))
	}
}
