package wakeup

import (
	"errors"
	"fmt"
	"time"

	"github.com/ackflow/ackflow/internal/heap"
)

// ErrResumeCapacity is returned by Push when the delayed resume queue is
// full.
var ErrResumeCapacity = errors.New("wakeup: delayed resume capacity reached")

// Resumes is a bounded queue of data to hand back to a processor at a
// deadline (RequeueLater). Items are due in deadline order, first in first
// out among equal deadlines. Unlike wakeups, items are never dropped: at
// shutdown they all become due at once. Resumes is not safe for concurrent
// use: the node goroutine that runs the processor owns it.
type Resumes[T any] struct {
	capacity   int
	q          heap.Heap[resumeItem[T]]
	free       *resumeRec[T] // recycled records, linked through next
	seq        uint64        // push order: the FIFO tie-break
	keys       timeKeys
	shutdownAt time.Time
	shutdown   bool
	m          *ResumeMetrics
}

// NewResumes returns a queue holding at most capacity items; with capacity
// 0 every Push is rejected. A nil m uses unregistered metrics. NewResumes
// panics if capacity is negative.
func NewResumes[T any](capacity int, m *ResumeMetrics) *Resumes[T] {
	if capacity < 0 {
		panic(fmt.Sprintf("wakeup: negative resume capacity %d", capacity))
	}
	if m == nil {
		m = NewResumeMetrics(nil)
	}
	m.Pending.Set(0)
	r := &Resumes[T]{capacity: capacity, m: m}
	r.q.Grow(min(capacity, 1024))
	return r
}

// Push schedules v to be due at when; a past when is due at once. On error
// the queue did not take v and the caller still owns it: ErrShuttingDown
// after BeginShutdown, ErrResumeCapacity when Len() == capacity.
func (r *Resumes[T]) Push(when time.Time, v T) error {
	switch {
	case r.shutdown:
		r.m.Rejected.Inc()
		return ErrShuttingDown
	case r.q.Len() >= r.capacity:
		r.m.Rejected.Inc()
		return ErrResumeCapacity
	}
	r.seq++
	rec := r.free
	if rec == nil {
		rec = new(resumeRec[T]) // only while the queue is deeper than ever
	} else {
		r.free, rec.next = rec.next, nil
	}
	rec.when, rec.v = when, v
	r.q.Push(resumeItem[T]{at: r.keys.key(when), seq: r.seq, rec: rec})
	r.m.Scheduled.Inc()
	r.m.Pending.Set(int64(r.q.Len()))
	return nil
}

// Next returns the earliest deadline of a pending item, or false if there
// is none. After BeginShutdown that is the shutdown time at the latest.
func (r *Resumes[T]) Next() (time.Time, bool) {
	if r.q.Len() == 0 {
		return time.Time{}, false
	}
	first, _ := r.q.Min()
	return r.effective(first.rec.when), true
}

// PopDue removes and returns the earliest item due at now, with its
// deadline, or ok false if none is due. After BeginShutdown every item is
// due whatever now is, in the order it would have been, and its deadline is
// reported as the shutdown time if that is earlier.
func (r *Resumes[T]) PopDue(now time.Time) (v T, when time.Time, ok bool) {
	if r.q.Len() == 0 {
		return v, when, false
	}
	if first, _ := r.q.Min(); !r.shutdown && keyAfter(first.at, &first.rec.when, r.keys.nowKey(now), now) {
		return v, time.Time{}, false
	}
	first, _ := r.q.Pop()
	rec := first.rec
	v, when = rec.v, r.effective(rec.when)
	*rec = resumeRec[T]{next: r.free} // do not pin the payload after delivery
	r.free = rec
	r.m.Delivered.Inc()
	r.m.Pending.Set(int64(r.q.Len()))
	return v, when, true
}

// BeginShutdown latches shutdown at now: every pending item becomes due at
// now (or stays due at its earlier deadline) and is still delivered by
// PopDue, while new Pushes fail with ErrShuttingDown. Later calls do
// nothing.
func (r *Resumes[T]) BeginShutdown(now time.Time) {
	if r.shutdown {
		return
	}
	// Latching the time instead of rewriting deadlines keeps the heap as it
	// is: items still come out in their original order, in O(1) here.
	r.shutdown, r.shutdownAt = true, now
}

// Len returns the number of pending items.
func (r *Resumes[T]) Len() int { return r.q.Len() }

// effective is an item's deadline once shutdown is taken into account.
func (r *Resumes[T]) effective(when time.Time) time.Time {
	if r.shutdown && r.shutdownAt.Before(when) {
		return r.shutdownAt
	}
	return when
}

// resumeItem is a queue element: the sort key inline, the payload behind a
// pointer, so that sifting moves 24 bytes (plus the heap's handle) whatever
// T is.
type resumeItem[T any] struct {
	at  int64 // sort key of rec.when, see timeKeys
	seq uint64
	rec *resumeRec[T]
}

// resumeRec holds a pending item's payload; it is recycled through the
// queue's free list once delivered.
type resumeRec[T any] struct {
	when time.Time
	v    T
	next *resumeRec[T] // free list link, nil while pending
}

// Less orders items by (when, seq): first in, first out among equal
// deadlines.
func (a resumeItem[T]) Less(b resumeItem[T]) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if saturated(a.at) {
		if c := a.rec.when.Compare(b.rec.when); c != 0 {
			return c < 0
		}
	}
	return a.seq < b.seq
}
