package heap

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"testing"
)

type pair struct{ key, id int }

// Less compares keys only: ties are left to the algorithm, so the layouts
// of the two heaps match only if they make the same moves.
func (a pair) Less(b pair) bool { return a.key < b.key }

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
func (r *ref) Less(i, j int) bool { return r.items[i].key < r.items[j].key }
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

// TestSameLayoutAsContainerHeap applies one random sequence of Push, Pop,
// Fix (Update) and Remove to this heap and to container/heap, with many
// equal keys, and requires the same element at every position after every
// step: the algorithm is container/heap's, move for move.
func TestSameLayoutAsContainerHeap(t *testing.T) {
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
	for step := range 20_000 {
		switch op := rng.IntN(10); {
		case op < 4 || len(ids) == 0:
			p := pair{key: rng.IntN(8), id: nextID}
			nextID++
			handles[p.id] = h.Push(p)
			it := &refItem{pair: p}
			heap.Push(r, it)
			items[p.id] = it
			ids = append(ids, p.id)
		case op < 6:
			got, hd := h.Pop()
			want := heap.Pop(r).(*refItem)
			if got != want.pair || handles[got.id] != hd {
				t.Fatalf("step %d: Pop = %+v, container/heap %+v", step, got, want.pair)
			}
			drop(got.id)
		case op < 8:
			id := pick()
			key := rng.IntN(8)
			h.Update(handles[id], pair{key: key, id: id})
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
		if len(h.nodes) != len(r.items) {
			t.Fatalf("step %d: %d elements, container/heap %d", step, len(h.nodes), len(r.items))
		}
		for i := range h.nodes {
			if h.nodes[i].v != r.items[i].pair {
				t.Fatalf("step %d: position %d holds %+v, container/heap %+v", step, i, h.nodes[i].v, r.items[i].pair)
			}
		}
		if err := h.Check(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
}

// TestVacatedSlotsAreZeroed checks that the array past the length holds
// zero nodes, so it does not pin what departed elements point to.
func TestVacatedSlotsAreZeroed(t *testing.T) {
	var h Heap[pair]
	h.Push(pair{1, 1})
	h.Push(pair{2, 2})
	h.Pop()
	if h.nodes[:cap(h.nodes)][1] != (node[pair]{}) {
		t.Fatalf("Pop left %+v behind the length", h.nodes[:cap(h.nodes)][1])
	}
	h.Clear()
	if h.nodes[:cap(h.nodes)][0] != (node[pair]{}) {
		t.Fatalf("Clear left %+v in the array", h.nodes[:cap(h.nodes)][0])
	}
}
