package wakeup

import (
	"time"

	"github.com/ackflow/ackflow/internal/heap"
)

// entry is one live wakeup. The slot map points at it, the queue holds its
// sort key, and it sits on the scheduler's free list when not live.
type entry struct {
	slot Slot
	when time.Time   // as given to Set: returned unchanged in Due
	h    heap.Handle // its element in the queue; -1 when not live
	next *entry      // free list link, nil while live
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
// equal deadlines pop in the order they were set even though a binary heap
// is not stable.
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
