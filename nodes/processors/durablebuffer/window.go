package durablebuffer

import (
	"container/heap"
	"time"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/storage/wal"
)

// bundleState is where a bundle of the delivery window is.
type bundleState uint8

const (
	bundleSent    bundleState = iota // sent downstream, awaiting its answer
	bundleBackoff                    // transiently nacked, waiting for its retry time
)

// bundle is one stored record in the delivery window. It holds no payload:
// a retry reads the record again from the log, so the memory of the window
// is bounded by max_in_flight whatever the backlog.
type bundle struct {
	seq     wal.Seq
	signal  pdata.Signal
	items   int
	state   bundleState
	attempt int       // transient nacks so far
	retryAt time.Time // backoff: when to send it again
	index   int       // position in the retry heap, -1 when not in it
	order   uint64    // tie-break of equal retry times: nack order
}

// window is the bounded set of bundles taken from the log and not yet
// resolved: sent and awaiting an answer, or waiting out a backoff. Its size
// is the node's in-flight count, capped at max_in_flight, so newer bundles
// keep flowing while older ones back off (no head-of-line blocking), and a
// long outage keeps at most max_in_flight entries in memory.
type window struct {
	bySeq  map[wal.Seq]*bundle
	retry  retryHeap
	nacked uint64 // counts transient nacks, orders equal retry times
}

func newWindow(capacity int) *window {
	return &window{bySeq: make(map[wal.Seq]*bundle, capacity)}
}

func (w *window) len() int { return len(w.bySeq) }

// sent records b as sent downstream.
func (w *window) sent(b *bundle) {
	b.state, b.index = bundleSent, -1
	w.bySeq[b.seq] = b
}

// resolve removes the bundle of seq (acked or permanently nacked).
func (w *window) resolve(seq wal.Seq) (*bundle, bool) {
	b, ok := w.bySeq[seq]
	if !ok {
		return nil, false
	}
	if b.index >= 0 {
		heap.Remove(&w.retry, b.index)
	}
	delete(w.bySeq, seq)
	return b, true
}

// forget drops a bundle that is no longer in the log (dropped, expired or
// unreadable) without resolving it.
func (w *window) forget(seq wal.Seq) { delete(w.bySeq, seq) }

// backoff makes b wait until at (in the window, off the output).
func (w *window) backoff(b *bundle, at time.Time) {
	w.bySeq[b.seq] = b
	w.nacked++
	b.state, b.retryAt, b.order = bundleBackoff, at, w.nacked
	heap.Push(&w.retry, b)
}

// nextRetry is the earliest retry time, if any bundle waits.
func (w *window) nextRetry() (time.Time, bool) {
	if len(w.retry) == 0 {
		return time.Time{}, false
	}
	return w.retry[0].retryAt, true
}

// popDue takes the earliest bundle whose retry time has come.
func (w *window) popDue(now time.Time) (*bundle, bool) {
	if len(w.retry) == 0 || w.retry[0].retryAt.After(now) {
		return nil, false
	}
	return heap.Pop(&w.retry).(*bundle), true
}

// retryHeap orders bundles waiting out a backoff by retry time, then by
// nack order (the container/heap example, with the index kept).
type retryHeap []*bundle

func (h retryHeap) Len() int { return len(h) }

func (h retryHeap) Less(i, j int) bool {
	if !h[i].retryAt.Equal(h[j].retryAt) {
		return h[i].retryAt.Before(h[j].retryAt)
	}
	return h[i].order < h[j].order
}

func (h retryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *retryHeap) Push(x any) {
	b := x.(*bundle)
	b.index = len(*h)
	*h = append(*h, b)
}

func (h *retryHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil // avoid memory leak
	b.index = -1          // for safety
	*h = old[:len(old)-1]
	return b
}
