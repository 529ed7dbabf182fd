package fanout

import (
	"time"

	"github.com/ackflow/ackflow/pdata"
)

// Retry of copies that found their output full. There is no "room again"
// signal in the engine contract, so the node tries again whenever it runs
// (every outcome, every input: acks from a destination usually mean its
// channel drained) and, as a safety net while anything waits, on a wakeup
// that backs off from backlogRetryMin to backlogRetryMax.
const (
	backlogRetryMin = time.Millisecond
	backlogRetryMax = 64 * time.Millisecond
)

// waiting is a subscribed copy that found its output full.
type waiting struct {
	m    *pdata.Message
	slot uint32 // request index (slim or full slab)
	gen  uint32
}

// fifo is one destination's queue of waiting copies, in send order, so
// that a destination receives copies in the order the inputs arrived.
type fifo struct {
	items []waiting
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(w waiting) { q.items = append(q.items, w) }

func (q *fifo) front() waiting { return q.items[q.head] }

// pop removes the front. The backing array is reused once the queue
// empties, and compacted when the consumed prefix dominates it.
func (q *fifo) pop() {
	q.items[q.head] = waiting{}
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head > 64 && q.head > len(q.items)/2:
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
}
