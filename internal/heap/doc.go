// Package heap is the binary min-heap behind the engine's timer queues: one
// typed implementation of the container/heap algorithm, with a stable
// handle for every element so that a caller can update or remove an
// element by a key of its own (a wakeup slot, a timer) in O(log n).
//
// # Quick start
//
//	type job struct {
//		at  int64  // deadline key
//		seq uint64 // push order: equal deadlines pop first in, first out
//	}
//
//	func (a job) Less(b job) bool {
//		if a.at != b.at {
//			return a.at < b.at
//		}
//		return a.seq < b.seq
//	}
//
//	var h heap.Heap[job]              // the zero value is an empty heap
//	hd := h.Push(job{at: 30, seq: 1}) // keep hd to update or cancel
//	h.Update(hd, job{at: 10, seq: 2}) // reprioritise: O(log n)
//	j, _ := h.Pop()                   // the minimum; hd is free again
//
// # Algorithm
//
// Push, Pop, Remove and Update (container/heap's Fix) are container/heap's
// up and down sifts with the same comparisons in the same order, so every
// element sits where container/heap would put it, ties included (a test
// checks this against container/heap move for move). Two things differ
// from container/heap: an element being sifted is held aside and written
// once where it stops instead of being swapped at every level, and there is
// no interface: Less is a method of the element type, and moves are plain
// slice writes.
//
// Push, Pop, Update and Remove are O(log n); Min, Get and Len are O(1).
// Once the heap has held its peak number of elements, nothing allocates.
//
// # Handles
//
// Push returns a Handle, valid until its element leaves the heap (Pop,
// Remove or Clear); the heap may then hand it out again. Handles are dense:
// a heap that has never held more than n elements at once only hands out
// handles 0 to n-1, so a caller may keep per-element data in a slice
// indexed by handle. The heap records where each handle's element is, the
// way the container/heap priority queue example keeps an index in every
// item, but in a slice of its own: there is no callback per move and no
// pointer chased to a caller's struct.
//
// # Performance in Go 1.26
//
// Less is a method of a type parameter, so Go compiles each call as an
// indirect call through the instantiation's dictionary: it is never
// inlined, even for a concrete struct type and even when the calling method
// is inlined into non-generic code. A less function in a field is an
// indirect call too, and one taking pointers makes the held-aside element
// escape (an allocation per sift). Neither matters much: at 10,000
// elements, hand-written copies with the comparison inlined measured within
// about 10 % of this heap, while container/heap with an index in every item
// was about 40 % slower, because of Swap through the interface and the
// index written through every moved item's pointer (BenchmarkPopPush,
// BenchmarkPopPushContainerHeap; docs/BENCHMARKS.md, "Wakeup scheduler").
// Keep elements small: they are copied at every level of a sift, so a large
// payload belongs behind a pointer or in a slice indexed by handle.
//
// # Concurrency
//
// A Heap is not safe for concurrent use; its owner serialises access.
package heap
