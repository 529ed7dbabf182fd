package wakeup

import "time"

// entry is one live wakeup. The slot map points at it, the queue holds its
// sort key, and it sits on the scheduler's free list when not live.
type entry struct {
	slot  Slot
	when  time.Time // as given to Set: returned unchanged in Due
	index int       // position in the queue, kept by Swap/Push/Pop; -1 when not queued
	next  *entry    // free list link, nil while live
}

// item is a queue element. The sort key is stored inline rather than read
// through the entry pointer so that sifting through a large heap compares
// adjacent memory instead of chasing a pointer per comparison.
type item struct {
	at  int64 // deadline key from the scheduler's timeKeys
	rev Revision
	e   *entry
}

// queue is a container/heap min-heap by (at, rev). The revision makes the
// order total, so equal deadlines pop in the order they were set even
// though a binary heap is not stable.
type queue []item

func (q queue) Len() int { return len(q) }

func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	if saturated(q[i].at) { // both beyond the key's range: only the times can tell
		if c := q[i].e.when.Compare(q[j].e.when); c != 0 {
			return c < 0
		}
	}
	return q[i].rev < q[j].rev
}

func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].e.index = i
	q[j].e.index = j
}

// Push takes the item as a value, which heap.Push would box into an
// allocation; the scheduler appends the item itself and sifts it up with
// heap.Fix instead. Push exists for heap.Interface only.
func (q *queue) Push(x any) { *q = append(*q, x.(item)) }

// Pop returns the removed entry pointer rather than the item, so heap.Pop
// and heap.Remove do not allocate.
func (q *queue) Pop() any {
	old := *q
	n := len(old) - 1
	e := old[n].e
	old[n] = item{} // the entry goes to the free list; the array must not pin it
	e.index = -1
	*q = old[:n]
	return e
}
