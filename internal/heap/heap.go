package heap

import (
	"fmt"
	"iter"
	"math"
)

// Lesser is the constraint on heap elements: a.Less(b) reports whether a
// must leave the heap before b. It must be a strict weak order; with ties,
// equal elements leave in no particular order, so callers that need an
// order among equals (first in, first out) add a sequence number as the
// last tie-break. Less may read through pointers held by the element, but
// must not change the heap.
type Lesser[E any] interface {
	Less(E) bool
}

// Handle identifies an element from Push until it leaves the heap.
type Handle int32

// maxLen is the most elements a heap holds: handles and positions are
// int32.
const maxLen = math.MaxInt32

// node is a heap slot: the element and the handle that names it.
type node[E any] struct {
	v E
	h Handle
}

// Heap is a binary min-heap of E ordered by E.Less. The zero value is an
// empty heap ready to use. A Heap must not be copied after first use.
type Heap[E Lesser[E]] struct {
	nodes []node[E]
	pos   []int32  // by handle: its element's index in nodes, -1 when free
	free  []Handle // released handles, reused last in, first out
}

// Len returns the number of elements.
func (h *Heap[E]) Len() int { return len(h.nodes) }

// Grow makes room for n more elements, so that neither the next n Pushes
// nor the Pops and Removes of what they pushed allocate. It panics if n is
// negative.
func (h *Heap[E]) Grow(n int) {
	if n < 0 {
		panic(fmt.Sprintf("heap: negative Grow(%d)", n))
	}
	if need := len(h.nodes) + n; need > cap(h.nodes) {
		nodes := make([]node[E], len(h.nodes), need)
		copy(nodes, h.nodes)
		h.nodes = nodes
	}
	if need := len(h.pos) + n; need > cap(h.pos) {
		pos := make([]int32, len(h.pos), need)
		copy(pos, h.pos)
		h.pos = pos
	}
	if need := len(h.pos) + n; need > cap(h.free) { // at most every handle is free
		free := make([]Handle, len(h.free), need)
		copy(free, h.free)
		h.free = free
	}
}

// Push adds x and returns its handle. It panics if the heap already holds
// math.MaxInt32 elements.
func (h *Heap[E]) Push(x E) Handle {
	if len(h.nodes) == maxLen {
		panic("heap: more than math.MaxInt32 elements")
	}
	var hd Handle
	if n := len(h.free); n > 0 {
		hd = h.free[n-1]
		h.free = h.free[:n-1]
	} else {
		hd = Handle(len(h.pos))
		h.pos = append(h.pos, -1)
	}
	h.nodes = append(h.nodes, node[E]{v: x, h: hd})
	h.up(len(h.nodes) - 1)
	return hd
}

// Min returns the minimum element and its handle without removing it. It
// panics if the heap is empty.
func (h *Heap[E]) Min() (E, Handle) {
	return h.nodes[0].v, h.nodes[0].h
}

// Pop removes and returns the minimum element and the handle it had, which
// is free from now on. It panics if the heap is empty.
func (h *Heap[E]) Pop() (E, Handle) {
	n := len(h.nodes) - 1
	if n < 0 {
		panic("heap: Pop of an empty heap")
	}
	top := h.nodes[0]
	if n > 0 {
		h.nodes[0] = h.nodes[n]
		h.pos[h.nodes[0].h] = 0
	}
	h.truncate(n)
	if n > 0 {
		h.down(0)
	}
	h.release(top.h)
	return top.v, top.h
}

// Get returns the element of hd. It panics if hd is not in the heap.
func (h *Heap[E]) Get(hd Handle) E {
	return h.nodes[h.index(hd)].v
}

// Update replaces the element of hd with x and restores the heap order,
// like container/heap's Fix after changing an item. It panics if hd is not
// in the heap.
func (h *Heap[E]) Update(hd Handle, x E) {
	i := h.index(hd)
	h.nodes[i].v = x
	if !h.down(i) {
		h.up(i)
	}
}

// Remove removes and returns the element of hd, whose handle is free from
// now on. It panics if hd is not in the heap.
func (h *Heap[E]) Remove(hd Handle) E {
	i := h.index(hd)
	v := h.nodes[i].v
	n := len(h.nodes) - 1
	if i != n {
		h.nodes[i] = h.nodes[n]
		h.pos[h.nodes[i].h] = int32(i)
	}
	h.truncate(n)
	if i != n && !h.down(i) {
		h.up(i)
	}
	h.release(hd)
	return v
}

// Clear removes every element; every handle is free afterwards. It keeps
// the memory for reuse.
func (h *Heap[E]) Clear() {
	clear(h.nodes) // the array must not pin what the elements point to
	h.nodes = h.nodes[:0]
	h.pos = h.pos[:0]
	h.free = h.free[:0]
}

// All yields every element with its handle, in no particular order. The
// heap must not be changed during the iteration.
func (h *Heap[E]) All() iter.Seq2[Handle, E] {
	return func(yield func(Handle, E) bool) {
		for _, nd := range h.nodes {
			if !yield(nd.h, nd.v) {
				return
			}
		}
	}
}

// Check reports the first broken invariant, for tests: every element is
// no less than its parent, and the handle table and the free list agree
// with where the elements are.
func (h *Heap[E]) Check() error {
	live := 0
	for i, nd := range h.nodes {
		switch {
		case nd.h < 0 || int(nd.h) >= len(h.pos):
			return fmt.Errorf("heap: element %d has handle %d out of range [0, %d)", i, nd.h, len(h.pos))
		case h.pos[nd.h] != int32(i):
			return fmt.Errorf("heap: handle %d records index %d, its element is at %d", nd.h, h.pos[nd.h], i)
		}
		if p := (i - 1) / 2; i > 0 && nd.v.Less(h.nodes[p].v) {
			return fmt.Errorf("heap: element %d is less than its parent %d", i, p)
		}
	}
	for _, p := range h.pos {
		if p >= 0 {
			live++
		}
	}
	if live != len(h.nodes) || live+len(h.free) != len(h.pos) {
		return fmt.Errorf("heap: %d elements, %d handles in use, %d free, %d issued", len(h.nodes), live, len(h.free), len(h.pos))
	}
	for _, hd := range h.free {
		if h.pos[hd] != -1 {
			return fmt.Errorf("heap: free handle %d records index %d", hd, h.pos[hd])
		}
	}
	return nil
}

// index returns hd's position, panicking for a handle not in the heap.
func (h *Heap[E]) index(hd Handle) int {
	if hd < 0 || int(hd) >= len(h.pos) || h.pos[hd] < 0 {
		panic(fmt.Sprintf("heap: handle %d is not in the heap", hd))
	}
	return int(h.pos[hd])
}

// truncate drops the nodes from n on, zeroing them so that the array does
// not pin what their elements point to.
func (h *Heap[E]) truncate(n int) {
	h.nodes[n] = node[E]{}
	h.nodes = h.nodes[:n]
}

func (h *Heap[E]) release(hd Handle) {
	h.pos[hd] = -1
	h.free = append(h.free, hd)
}

// up is container/heap's up: while the element at j is less than its
// parent, the parent moves down into j's place.
func (h *Heap[E]) up(j int) {
	nodes, pos := h.nodes, h.pos
	x := nodes[j]
	for j > 0 {
		i := (j - 1) / 2 // parent
		if !x.v.Less(nodes[i].v) {
			break
		}
		nodes[j] = nodes[i]
		pos[nodes[j].h] = int32(j)
		j = i
	}
	nodes[j] = x
	pos[x.h] = int32(j)
}

// down is container/heap's down from i0: while the lesser child of the
// element is less than it, that child moves up into its place. It reports
// whether the element moved.
func (h *Heap[E]) down(i0 int) bool {
	nodes, pos := h.nodes, h.pos
	n := len(nodes)
	x := nodes[i0]
	i := i0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 { // j1 < 0 after int overflow
			break
		}
		j := j1 // left child
		if j2 := j1 + 1; j2 < n && nodes[j2].v.Less(nodes[j1].v) {
			j = j2 // right child
		}
		if !nodes[j].v.Less(x.v) {
			break
		}
		nodes[i] = nodes[j]
		pos[nodes[i].h] = int32(i)
		i = j
	}
	if i == i0 {
		return false
	}
	nodes[i] = x
	pos[x.h] = int32(i)
	return true
}
