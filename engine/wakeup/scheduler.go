package wakeup

import (
	"errors"
	"fmt"
	"time"

	"github.com/ackflow/ackflow/internal/heap"
)

// Slot identifies a wakeup. The processor chooses it and only the processor
// interprets it; the scheduler keeps at most one live wakeup per slot.
type Slot uint64

// Revision numbers the accepted Sets of one scheduler, starting at 1. The
// zero Revision is never assigned, so a processor can use it for "not armed".
type Revision uint64

// Errors returned by Set and Push.
var (
	ErrUnsupported  = errors.New("wakeup: processor declared no wakeup slots")
	ErrCapacity     = errors.New("wakeup: live slot capacity reached")
	ErrShuttingDown = errors.New("wakeup: node is shutting down")
)

// Due is a wakeup whose deadline has been reached, as delivered to the
// processor.
type Due struct {
	Slot     Slot
	When     time.Time // the deadline it was scheduled for, not when it was popped
	Revision Revision  // the revision Set returned for this deadline
}

// Scheduler holds the live wakeups of one processor. It is not safe for
// concurrent use: the node goroutine that runs the processor owns it.
type Scheduler struct {
	capacity     int
	q            heap.Heap[item]
	slots        slotTable // entries by slot: the live ones and some that were
	free         *entry    // recycled entries, linked through entry.next
	rev          Revision
	keys         timeKeys
	shuttingDown bool
	m            *Metrics
}

// NewScheduler returns a scheduler allowing capacity live wakeups; a
// capacity of 0 is a processor that declared none, for which Set returns
// ErrUnsupported. A nil m uses unregistered metrics. NewScheduler panics if
// capacity is negative.
func NewScheduler(capacity int, m *Metrics) *Scheduler {
	if capacity < 0 {
		panic(fmt.Sprintf("wakeup: negative capacity %d", capacity))
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	m.Capacity.Set(int64(capacity))
	m.Live.Set(0)
	// Small capacities are sized up front so the slot table and queue
	// never grow; large ones grow on first use rather than reserving memory
	// a processor may never need.
	hint := min(capacity, 1024)
	s := &Scheduler{capacity: capacity, m: m}
	if hint > 0 {
		s.slots.reserve(hint)
		s.q.Grow(hint)
	}
	return s
}

// Set schedules a wakeup for slot at when and returns its revision. If slot
// is live, its deadline is replaced (replaced is true); this never fails for
// capacity. A deadline in the past is due at once. Errors: ErrUnsupported
// when the capacity is 0, ErrShuttingDown after BeginShutdown, ErrCapacity
// when slot is not live and Len() == Capacity().
func (s *Scheduler) Set(slot Slot, when time.Time) (rev Revision, replaced bool, err error) {
	switch {
	case s.capacity == 0:
		return 0, false, ErrUnsupported
	case s.shuttingDown:
		s.m.ShutdownErrors.Inc()
		return 0, false, ErrShuttingDown
	}
	e := s.slots.get(slot)
	if e != nil && e.h >= 0 {
		// A fresh revision also moves the slot behind others with the same
		// deadline: it was scheduled last.
		s.rev++
		e.when = when
		s.q.Update(e.h, item{at: s.keys.key(when), rev: s.rev, e: e})
		s.m.Replaced.Inc()
		return s.rev, true, nil
	}
	if s.q.Len() >= s.capacity {
		s.m.CapacityErrors.Inc()
		return 0, false, ErrCapacity
	}
	s.rev++
	if e == nil {
		e = s.newEntry()
		e.slot = slot
		s.slots.insert(e, s.recycle)
	} // else the slot's entry stayed in the table when it was last live
	e.when = when
	e.h = s.q.Push(item{at: s.keys.key(when), rev: s.rev, e: e})
	s.m.Inserted.Inc()
	s.m.Live.Set(int64(s.q.Len()))
	return s.rev, false, nil
}

// Cancel removes slot's live wakeup and reports whether there was one.
// After BeginShutdown it does nothing and returns false.
func (s *Scheduler) Cancel(slot Slot) bool {
	if s.shuttingDown {
		s.m.CancelIgnored.Inc()
		return false
	}
	e := s.slots.get(slot)
	if e == nil || e.h < 0 {
		s.m.CancelMissed.Inc()
		return false
	}
	s.q.Remove(e.h)
	e.h = -1 // stays in the slot table, see slotTable
	s.m.CancelRemoved.Inc()
	s.m.Live.Set(int64(s.q.Len()))
	return true
}

// Next returns the earliest deadline among live wakeups, or false if there
// are none. The node aims its timer at it.
func (s *Scheduler) Next() (time.Time, bool) {
	if s.q.Len() == 0 {
		return time.Time{}, false
	}
	first, _ := s.q.Min()
	return first.e.when, true
}

// PopDue removes and returns one wakeup whose deadline is not after now,
// earliest (deadline, revision) first, or false if none is due. The slot
// is no longer live once popped, so the processor may set it again.
func (s *Scheduler) PopDue(now time.Time) (Due, bool) {
	if s.q.Len() == 0 {
		return Due{}, false
	}
	first, _ := s.q.Min()
	if keyAfter(first.at, &first.e.when, s.keys.nowKey(now), now) {
		return Due{}, false
	}
	s.q.Pop()
	e := first.e
	d := Due{Slot: e.slot, When: e.when, Revision: first.rev}
	e.h = -1 // stays in the slot table, see slotTable
	s.m.PoppedDue.Inc()
	s.m.Live.Set(int64(s.q.Len()))
	return d, true
}

// BeginShutdown latches shutdown: it drops every pending wakeup and returns
// how many it dropped. Afterwards Set fails with ErrShuttingDown and Cancel
// returns false. Calling it again does nothing and returns 0.
func (s *Scheduler) BeginShutdown() int {
	if s.shuttingDown {
		return 0
	}
	s.shuttingDown = true
	n := s.q.Len()
	for e := range s.slots.all {
		s.recycle(e)
	}
	s.q.Clear()
	s.slots.clear()
	s.m.ClearedAtShutdown.Add(uint64(n))
	s.m.Live.Set(0)
	return n
}

// ShuttingDown reports whether BeginShutdown was called.
func (s *Scheduler) ShuttingDown() bool { return s.shuttingDown }

// Len returns the number of live wakeups.
func (s *Scheduler) Len() int { return s.q.Len() }

// Capacity returns the number of live wakeups allowed.
func (s *Scheduler) Capacity() int { return s.capacity }

// newEntry takes an entry from the free list, allocating only while the
// scheduler has never held this many live wakeups before.
func (s *Scheduler) newEntry() *entry {
	e := s.free
	if e == nil {
		return &entry{h: -1}
	}
	s.free, e.next = e.next, nil
	return e
}

// recycle puts e on the free list; it is in neither the queue nor the
// slot table.
func (s *Scheduler) recycle(e *entry) {
	*e = entry{h: -1, next: s.free}
	s.free = e
}
