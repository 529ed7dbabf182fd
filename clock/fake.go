package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Fake is a manually driven Clock for tests. Time moves only through
// Advance and Set; timers fire synchronously inside those calls. A Fake is
// safe for concurrent use; create it with NewFake (the zero value is not
// usable).
type Fake struct {
	mu     sync.Mutex
	armed  sync.Cond // signalled whenever a timer is armed; used by WaitTimers
	now    time.Time
	timers fakeQueue
	seq    uint64 // arming order: breaks ties between equal deadlines
}

var _ Clock = (*Fake)(nil)

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake {
	f := &Fake{now: start}
	f.armed.L = &f.mu
	return f
}

// Now returns the fake's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the fake's time reaches
// Now()+d. A d <= 0 fires before NewTimer returns.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1), index: -1}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armLocked(t, d)
	return t
}

// Advance moves the time forward by d and fires every timer whose deadline
// is reached, in deadline order (ties in arming order). Each timer receives
// its own deadline as the firing time. A negative d moves time back and
// fires nothing.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(f.now.Add(d))
}

// Set moves the time to t and fires every timer whose deadline is reached,
// as Advance does. Setting a time before Now moves time back and fires
// nothing.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(t)
}

// Timers returns the number of armed timers: created or reset with a
// positive duration, and neither fired nor stopped since.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitTimers blocks until at least n timers are armed. Tests call it to
// know that a goroutine has armed its timer before they Advance past it.
func (f *Fake) WaitTimers(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.timers) < n {
		f.armed.Wait()
	}
}

// setLocked walks time through each due deadline so that the value a timer
// receives is its deadline, not the end of the step: a node computing
// "how late am I" sees zero, as it would with a prompt real timer.
func (f *Fake) setLocked(t time.Time) {
	for len(f.timers) > 0 && !f.timers[0].when.After(t) {
		ft := heap.Pop(&f.timers).(*fakeTimer)
		f.now = ft.when
		ft.fireLocked()
	}
	f.now = t
}

// armLocked (re)arms t; the caller has already discarded any earlier arming.
func (f *Fake) armLocked(t *fakeTimer, d time.Duration) {
	t.when = f.now.Add(d)
	if d <= 0 {
		t.fireLocked()
		return
	}
	f.seq++
	t.seq = f.seq
	heap.Push(&f.timers, t)
	f.armed.Broadcast()
}

type fakeTimer struct {
	f     *Fake
	c     chan time.Time // 1-buffered: firing never blocks the clock
	when  time.Time
	seq   uint64
	index int // position in f.timers; -1 while not armed
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.disarmLocked()
	t.f.armLocked(t, d)
}

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.disarmLocked()
}

// disarmLocked removes t from the queue and drains an unreceived value, which
// is what gives Reset and Stop their "no stale value" guarantee: values are
// only sent under f.mu, so none can slip in after the drain.
func (t *fakeTimer) disarmLocked() bool {
	pending := false
	if t.index >= 0 {
		heap.Remove(&t.f.timers, t.index)
		pending = true
	}
	select {
	case <-t.c:
		pending = true
	default:
	}
	return pending
}

func (t *fakeTimer) fireLocked() {
	select {
	case t.c <- t.when:
	default: // unreachable: every arming drains first; never block the clock
	}
}

// fakeQueue is a min-heap of armed timers by (when, seq).
type fakeQueue []*fakeTimer

func (q fakeQueue) Len() int { return len(q) }

func (q fakeQueue) Less(i, j int) bool {
	if c := q[i].when.Compare(q[j].when); c != 0 {
		return c < 0
	}
	return q[i].seq < q[j].seq
}

func (q fakeQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *fakeQueue) Push(x any) {
	t := x.(*fakeTimer)
	t.index = len(*q)
	*q = append(*q, t)
}

func (q *fakeQueue) Pop() any {
	old := *q
	n := len(old)
	t := old[n-1]
	old[n-1] = nil // let a dropped timer be collected
	t.index = -1
	*q = old[:n-1]
	return t
}
