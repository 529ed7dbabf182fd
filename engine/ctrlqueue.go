package engine

import (
	"sync"
	"sync/atomic"
)

// ctrlQueue is a node's control queue: many producers (ack routing from any
// goroutine, Post), one consumer (the node goroutine).
//
// It is unbounded in type on purpose. Outcomes flow upstream while pdata
// flows downstream; if both directions were bounded and blocking, a full
// data channel and a full control queue could wait on each other. The
// number of outcomes in flight is bounded by the number of messages in
// flight, which bounded channels and max_inflight limits already cap, so
// the queue cannot grow without bound either (docs/ENGINE.md, "The return
// route and the ack path").
type ctrlQueue struct {
	mu     sync.Mutex
	size   atomic.Int32 // len(items), read without the lock on the hot path
	items  []Control
	closed bool
	signal chan struct{} // holds one token while items is non-empty
	onLost func(Control) // called for pushes after close
}

func newCtrlQueue(capacity int, onLost func(Control)) *ctrlQueue {
	return &ctrlQueue{items: make([]Control, 0, capacity), signal: make(chan struct{}, 1), onLost: onLost}
}

// push appends c. It never blocks.
func (q *ctrlQueue) push(c Control) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		if q.onLost != nil {
			q.onLost(c)
		}
		return
	}
	q.items = append(q.items, c)
	q.size.Store(int32(len(q.items)))
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// TakeAll moves every queued message into dst (which it returns, grown),
// leaving the queue empty. It is the Inbox's ControlSource.
func (q *ctrlQueue) TakeAll(dst []Control) []Control {
	if q.size.Load() == 0 {
		return dst
	}
	q.mu.Lock()
	dst = append(dst, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	q.size.Store(0)
	q.mu.Unlock()
	return dst
}

// close makes later pushes go to onLost and returns what was still queued.
func (q *ctrlQueue) close() []Control {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	rest := q.items
	q.items = nil
	q.size.Store(0)
	return rest
}
