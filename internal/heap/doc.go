// Package heap is the min-heap behind the engine's timer queues, the one
// every queue shares: a typed 4-ary heap, with a stable handle for every
// element so that a caller can update or remove an element by a key of its
// own (a wakeup slot, a timer) in O(log n).
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
// The heap is 4-ary: the children of the element at index i are at 4i+1
// to 4i+4. That halves the depth of a binary heap (7 levels instead of 14
// at 10,000 elements), and the four children of an element are adjacent,
// so a level costs one or two cache lines where a binary heap spends one
// per level. Pop and Remove use Floyd's bottom-up sift: the place left
// empty moves down to a leaf, the least child moving up into it at every
// level, and the element that belongs in it (the last one, which nearly
// always ends near the bottom) is put in at that leaf and sifted up; a
// level then costs the three comparisons that find the least of four
// children, not four. Update does the same, or sifts up only if the new
// element is less than its parent. The least child is chosen by arithmetic
// on the comparison results rather than by branches, since which child
// wins is a coin toss the processor cannot predict.
//
// The order among equal elements differs from container/heap's, so a test
// checks this heap against container/heap answer for answer under a total
// order, and against its ties under a partial one. As in container/heap,
// an element being sifted is held aside and written once where it stops,
// and there is no interface: Less is a method of the element type, and
// moves are plain slice writes.
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
// elements a pop costs about seven levels of dependent loads, and a copy of
// this heap with the keys compared inline, without calls, measured within
// about 6 % of it. What did matter: the 4-ary layout, the bottom-up sift
// and the branch-free choice of a child together took BenchmarkPopPush at
// 10,000 elements from about 136 ns to about 81 ns (container/heap with an
// index in every item: about 185 ns). Tried and not kept: 8-ary (more
// calls per level; slower), 3-ary (a little faster in BenchmarkPopPush,
// slower for the scheduler's PopDue, replace and Cancel) and aligning each
// group of four children to a cache line (no measurable effect). Keep elements small: they are copied at every level
// of a sift, so a large payload belongs behind a pointer or in a slice
// indexed by handle.
//
// # Concurrency
//
// A Heap is not safe for concurrent use; its owner serialises access.
package heap
