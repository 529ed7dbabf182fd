package wakeup

import (
	"time"

	"github.com/ackflow/ackflow/internal/heap"
)

// entry is a slot's wakeup. The slot table finds it by slot and the queue
// holds its sort key while it is live. Once popped or cancelled it is no
// longer live but stays in the slot table, to be live again when its slot
// is set again, until the table purges it onto the scheduler's free list.
type entry struct {
	slot Slot
	when time.Time   // as given to Set: returned unchanged in Due
	h    heap.Handle // its element in the queue; -1 when not live
	next *entry      // free list link, nil unless on the free list
}

// item is a queue element. The sort key is stored inline rather than read
// through the entry pointer so that sifting through a large heap compares
// adjacent memory instead of chasing a pointer per comparison.
type item struct {
	at  int64 // deadline key from the scheduler's timeKeys
	rev Revision
	e   *entry
}

// Less orders items by (at, rev). The revision makes the order total, so
// equal deadlines pop in the order they were set even though a heap is not
// stable.
func (a item) Less(b item) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if saturated(a.at) { // both beyond the key's range: only the times can tell
		if c := a.e.when.Compare(b.e.when); c != 0 {
			return c < 0
		}
	}
	return a.rev < b.rev
}
