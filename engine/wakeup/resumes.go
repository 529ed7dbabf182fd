package wakeup

import (
	"container/heap"
	"errors"
	"fmt"
	"time"
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
	q          resumeQueue[T]
	seq        uint64 // push order: the FIFO tie-break
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
	return &Resumes[T]{capacity: capacity, q: make(resumeQueue[T], 0, min(capacity, 1024)), m: m}
}

// Push schedules v to be due at when; a past when is due at once. On error
// the queue did not take v and the caller still owns it: ErrShuttingDown
// after BeginShutdown, ErrResumeCapacity when Len() == capacity.
func (r *Resumes[T]) Push(when time.Time, v T) error {
	switch {
	case r.shutdown:
		r.m.Rejected.Inc()
		return ErrShuttingDown
	case len(r.q) >= r.capacity:
		r.m.Rejected.Inc()
		return ErrResumeCapacity
	}
	r.seq++
	// Append and sift up with heap.Fix: heap.Push takes an any, and boxing
	// a struct item would allocate on every call.
	r.q = append(r.q, resumeItem[T]{at: r.keys.key(when), seq: r.seq, when: when, v: v})
	heap.Fix(&r.q, len(r.q)-1)
	r.m.Scheduled.Inc()
	r.m.Pending.Set(int64(len(r.q)))
	return nil
}

// Next returns the earliest deadline of a pending item, or false if there
// is none. After BeginShutdown that is the shutdown time at the latest.
func (r *Resumes[T]) Next() (time.Time, bool) {
	if len(r.q) == 0 {
		return time.Time{}, false
	}
	return r.effective(r.q[0].when), true
}

// PopDue removes and returns the earliest item due at now, with its
// deadline, or ok false if none is due. After BeginShutdown every item is
// due whatever now is, in the order it would have been, and its deadline is
// reported as the shutdown time if that is earlier.
func (r *Resumes[T]) PopDue(now time.Time) (v T, when time.Time, ok bool) {
	if len(r.q) == 0 {
		return v, when, false
	}
	if !r.shutdown && keyAfter(r.q[0].at, r.q[0].when, r.keys.key(now), now) {
		return v, time.Time{}, false
	}
	when = r.effective(r.q[0].when)
	n := len(r.q) - 1
	r.q.Swap(0, n)
	v = r.q[n].v
	r.q[n] = resumeItem[T]{} // do not pin the payload after delivery
	r.q = r.q[:n]
	if n > 0 {
		heap.Fix(&r.q, 0)
	}
	r.m.Delivered.Inc()
	r.m.Pending.Set(int64(n))
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
func (r *Resumes[T]) Len() int { return len(r.q) }

// effective is an item's deadline once shutdown is taken into account.
func (r *Resumes[T]) effective(when time.Time) time.Time {
	if r.shutdown && r.shutdownAt.Before(when) {
		return r.shutdownAt
	}
	return when
}

type resumeItem[T any] struct {
	at   int64 // sort key of when, see timeKeys
	seq  uint64
	when time.Time
	v    T
}

// resumeQueue is a container/heap min-heap by (when, seq). Push and Pop are
// there to satisfy heap.Interface; Resumes appends and truncates itself and
// uses heap.Fix, which never calls them.
type resumeQueue[T any] []resumeItem[T]

func (q resumeQueue[T]) Len() int { return len(q) }

func (q resumeQueue[T]) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	if saturated(q[i].at) {
		if c := q[i].when.Compare(q[j].when); c != 0 {
			return c < 0
		}
	}
	return q[i].seq < q[j].seq
}

func (q resumeQueue[T]) Swap(i, j int) { q[i], q[j] = q[j], q[i] }

func (q *resumeQueue[T]) Push(x any) { *q = append(*q, x.(resumeItem[T])) }

func (q *resumeQueue[T]) Pop() any {
	old := *q
	n := len(old) - 1
	it := old[n]
	old[n] = resumeItem[T]{}
	*q = old[:n]
	return it
}
