package heap

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// pair is ordered by key alone, or by key and then id when total is set
// (all the pairs of one test set it alike).
type pair struct {
	key, id int
	total   bool
}

func (a pair) Less(b pair) bool {
	return a.key < b.key || a.total && a.key == b.key && a.id < b.id
}

// ref is the container/heap priority queue example: items keep their
// index, kept by Swap.
type ref struct {
	items []*refItem
}

type refItem struct {
	pair
	index int
}

func (r *ref) Len() int           { return len(r.items) }
func (r *ref) Less(i, j int) bool { return r.items[i].pair.Less(r.items[j].pair) }
func (r *ref) Swap(i, j int) {
	r.items[i], r.items[j] = r.items[j], r.items[i]
	r.items[i].index, r.items[j].index = i, j
}
func (r *ref) Push(x any) {
	it := x.(*refItem)
	it.index = len(r.items)
	r.items = append(r.items, it)
}
func (r *ref) Pop() any {
	n := len(r.items) - 1
	it := r.items[n]
	r.items[n], it.index = nil, -1
	r.items = r.items[:n]
	return it
}

// TestMatchesContainerHeap applies one random sequence of Push, Pop, Fix
// (Update) and Remove to this heap and to container/heap, with few
// distinct keys, and compares every answer. The 4-ary heap does not make
// container/heap's moves, so among equal elements the two may pick
// different ones: under a total order every Pop and Min must give the very
// element container/heap gives; with ties (keys alone) an element of the
// same key, which is then removed from container/heap too, so that both
// go on holding the same elements. After every step the invariants hold
// and the two hold the same elements under the same handles.
func TestMatchesContainerHeap(t *testing.T) {
	for _, total := range []bool{true, false} {
		t.Run(fmt.Sprintf("total=%v", total), func(t *testing.T) {
			matchContainerHeap(t, total)
		})
	}
}

func matchContainerHeap(t *testing.T, total bool) {
	rng := rand.New(rand.NewPCG(9, 42))
	var h Heap[pair]
	r := &ref{}
	handles := map[int]Handle{} // id -> handle in h
	items := map[int]*refItem{} // id -> item in r
	ids := []int{}              // live ids
	nextID := 0
	pick := func() int { return ids[rng.IntN(len(ids))] }
	drop := func(id int) {
		i := slices.Index(ids, id)
		ids = slices.Delete(ids, i, i+1)
		delete(handles, id)
		delete(items, id)
	}
	same := func(a, b pair) bool { return !a.Less(b) && !b.Less(a) } // equal under the order
	for step := range 20_000 {
		// Grow for the first half of the run and shrink in the second, so
		// that sifts cross several levels of full sibling groups and the
		// last, partial group takes every size.
		pushes := 45
		if step >= 10_000 {
			pushes = 35
		}
		switch op := rng.IntN(100); {
		case op < pushes || len(ids) == 0:
			p := pair{key: rng.IntN(8), id: nextID, total: total}
			nextID++
			handles[p.id] = h.Push(p)
			it := &refItem{pair: p}
			heap.Push(r, it)
			items[p.id] = it
			ids = append(ids, p.id)
		case op < 65:
			got, hd := h.Pop()
			want := r.items[0].pair
			if !same(got, want) || handles[got.id] != hd || (total && got != want) {
				t.Fatalf("step %d: Pop = (%+v, %d), container/heap's least %+v (handle %d)", step, got, hd, want, handles[got.id])
			}
			heap.Remove(r, items[got.id].index)
			drop(got.id)
		case op < 85:
			id := pick()
			key := rng.IntN(8)
			h.Update(handles[id], pair{key: key, id: id, total: total})
			items[id].key = key
			heap.Fix(r, items[id].index)
		default:
			id := pick()
			got := h.Remove(handles[id])
			want := heap.Remove(r, items[id].index).(*refItem)
			if got != want.pair {
				t.Fatalf("step %d: Remove = %+v, container/heap %+v", step, got, want.pair)
			}
			drop(id)
		}
		if err := h.Check(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if h.Len() != len(r.items) {
			t.Fatalf("step %d: %d elements, container/heap %d", step, h.Len(), len(r.items))
		}
		if step%16 == 0 { // Check saw to the structure: the contents now and then
			for hd, p := range h.All() {
				if it, ok := items[p.id]; !ok || it.pair != p || handles[p.id] != hd {
					t.Fatalf("step %d: holds %+v under handle %d, container/heap %+v under %d", step, p, hd, it, handles[p.id])
				}
			}
		}
		if h.Len() > 0 {
			if got, _ := h.Min(); !same(got, r.items[0].pair) || (total && got != r.items[0].pair) {
				t.Fatalf("step %d: Min = %+v, container/heap %+v", step, got, r.items[0].pair)
			}
		}
	}
}

// TestVacatedSlotsAreZeroed checks that the array past the length holds
// zero nodes, so it does not pin what departed elements point to.
func TestVacatedSlotsAreZeroed(t *testing.T) {
	var h Heap[pair]
	h.Push(pair{key: 1, id: 1})
	h.Push(pair{key: 2, id: 2})
	h.Pop()
	if h.nodes[:cap(h.nodes)][1] != (node[pair]{}) {
		t.Fatalf("Pop left %+v behind the length", h.nodes[:cap(h.nodes)][1])
	}
	h.Clear()
	if h.nodes[:cap(h.nodes)][0] != (node[pair]{}) {
		t.Fatalf("Clear left %+v in the array", h.nodes[:cap(h.nodes)][0])
	}
}
