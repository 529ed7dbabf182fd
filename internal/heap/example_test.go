package heap_test

import (
	"fmt"

	"github.com/ackflow/ackflow/internal/heap"
)

// timer is a deadline queue element; seq makes equal deadlines leave first
// in, first out.
type timer struct {
	at   int64
	seq  uint64
	name string
}

func (a timer) Less(b timer) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// A caller that cancels and re-arms by a key of its own keeps a map from
// that key to the handle, as engine/wakeup's Scheduler does by slot.
func Example() {
	var h heap.Heap[timer]
	byName := map[string]heap.Handle{}
	var seq uint64
	arm := func(name string, at int64) {
		seq++
		t := timer{at: at, seq: seq, name: name}
		if hd, ok := byName[name]; ok {
			h.Update(hd, t) // re-arm: moves behind equal deadlines
			return
		}
		byName[name] = h.Push(t)
	}
	arm("flush", 30)
	arm("retry", 10)
	arm("timeout", 20)
	arm("ping", 20)
	arm("flush", 20)          // now due with timeout and ping, after them
	h.Remove(byName["retry"]) // cancel
	delete(byName, "retry")

	for h.Len() > 0 {
		t, _ := h.Pop()
		delete(byName, t.name)
		fmt.Println(t.at, t.name)
	}
	// Output:
	// 20 timeout
	// 20 ping
	// 20 flush
}
