package retry

import (
	"cmp"
	"container/heap"
	"slices"
	"time"

	"github.com/ackflow/ackflow/pdata"
)

// parked is a message waiting for its retry. The node's frame is not on it:
// it is pushed when the retry is sent, so a message answered while parked
// (at shutdown) goes straight upstream.
type parked struct {
	m    *pdata.Message
	at   time.Time  // when the retry is due
	seq  uint64     // parking order: equal times retry in the order parked
	next attempt    // the attempt the retry will be
	last pdata.Nack // downstream's nack that parked it, kept for a give-up
}

// parkedQueue holds the parked messages of one node, earliest retry first:
// a min-heap on container/heap ordered by (at, seq). Park and unpark are
// O(log n), the earliest time is O(1), and in steady state nothing is
// allocated: entries are appended and sifted with heap.Fix rather than
// boxed by heap.Push. It is not safe for concurrent use; the node goroutine
// owns it.
type parkedQueue struct {
	h   parkedHeap
	seq uint64
}

// Len is the number of parked messages.
func (q *parkedQueue) Len() int { return len(q.h) }

// park adds m, due at at.
func (q *parkedQueue) park(m *pdata.Message, at time.Time, next attempt, last pdata.Nack) {
	q.seq++
	q.h = append(q.h, parked{m: m, at: at, seq: q.seq, next: next, last: last})
	heap.Fix(&q.h, len(q.h)-1) // sift the new entry up
}

// next returns the earliest retry time.
func (q *parkedQueue) next() (time.Time, bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].at, true
}

// popDue removes and returns the earliest message if it is due at now.
func (q *parkedQueue) popDue(now time.Time) (parked, bool) {
	if len(q.h) == 0 || q.h[0].at.After(now) {
		return parked{}, false
	}
	top, last := q.h[0], len(q.h)-1
	q.h.Swap(0, last)
	q.h[last] = parked{} // avoid keeping the message alive
	q.h = q.h[:last]
	if last > 0 {
		heap.Fix(&q.h, 0) // sift the moved entry down
	}
	return top, true
}

// removeFrom removes and returns, in retry order, every message due at or
// after t.
func (q *parkedQueue) removeFrom(t time.Time) []parked {
	var out []parked
	keep := q.h[:0]
	for _, p := range q.h {
		if p.at.Before(t) {
			keep = append(keep, p)
		} else {
			out = append(out, p)
		}
	}
	clear(q.h[len(keep):]) // drop the references to the removed messages
	q.h = keep
	heap.Init(&q.h)
	slices.SortFunc(out, compareParked)
	return out
}

// removeAll removes and returns every message, in retry order.
func (q *parkedQueue) removeAll() []parked { return q.removeFrom(time.Time{}) }

// compareParked orders parked messages by retry time, then parking order.
func compareParked(a, b parked) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// parkedHeap implements heap.Interface. The queue grows and shrinks the
// slice itself (see park and popDue); Push and Pop complete the interface.
type parkedHeap []parked

func (h parkedHeap) Len() int { return len(h) }

func (h parkedHeap) Less(i, j int) bool { return compareParked(h[i], h[j]) < 0 }

func (h parkedHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *parkedHeap) Push(x any) { *h = append(*h, x.(parked)) }

func (h *parkedHeap) Pop() any {
	old := *h
	n := len(old)
	p := old[n-1]
	old[n-1] = parked{} // avoid keeping the message alive
	*h = old[:n-1]
	return p
}
