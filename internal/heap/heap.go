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

// arity is the number of children of a node. Four halves the depth of a
// binary heap, and the four children of a node sit side by side, so a
// level of a sift costs one or two cache lines instead of one per level of
// a binary heap twice as deep.
const arity = 4

// node is a heap slot: the element and the handle that names it.
type node[E any] struct {
	v E
	h Handle
}

// Heap is a 4-ary min-heap of E ordered by E.Less. The zero value is an
// empty heap ready to use. A Heap must not be copied after first use.
type Heap[E Lesser[E]] struct {
	nodes []node[E] // the children of i are 4i+1 to 4i+4
	pos   []int32   // by handle: its element's index in nodes, -1 when free
	free  []Handle  // released handles, reused last in, first out
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
	n := len(h.nodes)
	if n == maxLen {
		panic("heap: more than math.MaxInt32 elements")
	}
	var hd Handle
	if k := len(h.free); k > 0 {
		hd = h.free[k-1]
		h.free = h.free[:k-1]
	} else {
		hd = Handle(len(h.pos))
		h.pos = append(h.pos, -1)
	}
	h.nodes = append(h.nodes, node[E]{})
	h.up(n, node[E]{v: x, h: hd})
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
	top, last := h.nodes[0], h.nodes[n]
	h.truncate(n)
	if n > 0 {
		h.up(h.hole(0), last)
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
	h.fix(h.index(hd), node[E]{v: x, h: hd})
}

// Remove removes and returns the element of hd, whose handle is free from
// now on. It panics if hd is not in the heap.
func (h *Heap[E]) Remove(hd Handle) E {
	i := h.index(hd)
	v := h.nodes[i].v
	n := len(h.nodes) - 1
	last := h.nodes[n]
	h.truncate(n)
	if i != n {
		h.fix(i, last)
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
		if p := (i - 1) / arity; i > 0 && nd.v.Less(h.nodes[p].v) {
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

// fix puts x at index i, whose element has been taken out, and restores
// the order: up if x is less than i's parent, otherwise down.
func (h *Heap[E]) fix(i int, x node[E]) {
	if i > 0 && x.v.Less(h.nodes[(i-1)/arity].v) {
		h.up(i, x)
		return
	}
	h.up(h.hole(i), x)
}

// up puts x at index j, an empty place, or above it: while x is less than
// the parent of the place, the parent moves down into it. x is written
// once, where it stops.
func (h *Heap[E]) up(j int, x node[E]) {
	nodes, pos := h.nodes, h.pos
	for j > 0 {
		i := (j - 1) / arity // parent
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

// hole moves the empty place at i down to a leaf, the least child moving
// up into it at every level, and returns where it ends. This is the first
// half of Floyd's bottom-up sift: the element that belongs in the place is
// not compared on the way down (it is nearly always a leaf's, the last
// element, and ends near the bottom), but put in at the leaf and sifted up
// (up), so a level costs the three comparisons that find the least of four
// children instead of four. The least child is selected by arithmetic on
// the comparison results, not by branches: which child wins is a coin
// toss the processor cannot predict, and a mispredicted branch per level
// cost more than the comparisons.
func (h *Heap[E]) hole(i int) int {
	nodes, pos := h.nodes, h.pos
	n := len(nodes)
	// Bounds are checked before computing a child index, so that arity*i
	// cannot overflow an int where it has 32 bits.
	full := -1 // the last index with all four children
	if n > arity {
		full = (n - 1 - arity) / arity
	}
	for i <= full {
		c := arity*i + 1
		g := nodes[c : c+arity : c+arity]
		a := b2i(g[1].v.Less(g[0].v))
		b := 2 + b2i(g[3].v.Less(g[2].v))
		a ^= (a ^ b) & -b2i(g[b].v.Less(g[a].v))
		nodes[i] = g[a]
		pos[g[a].h] = int32(i)
		i = c + a
	}
	if i > (n-2)/arity || n < 2 { // a leaf
		return i
	}
	// The last parent, with fewer than four children.
	j := arity*i + 1
	for k := j + 1; k < n; k++ {
		if nodes[k].v.Less(nodes[j].v) {
			j = k
		}
	}
	nodes[i] = nodes[j]
	pos[nodes[i].h] = int32(i)
	return j
}

// b2i is 1 for true and 0 for false; the compiler makes it a flag move,
// not a branch.
func b2i(b bool) int {
	var i int
	if b {
		i = 1
	}
	return i
}
