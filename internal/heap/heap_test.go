package heap_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/internal/heap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// job is ordered by key, then by seq: a total order, as the engine's queues
// use.
type job struct {
	key int
	seq uint64
}

func (a job) Less(b job) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.seq < b.seq
}

func compareJobs(a, b job) int {
	return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.seq, b.seq))
}

func check[E heap.Lesser[E]](t *testing.T, h *heap.Heap[E]) {
	t.Helper()
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestMatchesSortedModel runs random Push, Pop, Update and Remove (by
// handle), Clear and Min against a model that keeps the live jobs sorted,
// and checks the invariants after every step.
func TestMatchesSortedModel(t *testing.T) {
	const ops = 20_000
	tests := []struct {
		name string
		keys int // few keys: many ties, broken by seq
		seed uint64
	}{
		{"ties", 4, 1},
		{"spread", 1 << 30, 2},
		{"mid", 64, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 42))
			var h heap.Heap[job]
			var model []job                   // sorted by compareJobs
			byHandle := map[heap.Handle]job{} // what each live handle holds
			var seq uint64
			next := func() job {
				seq++
				return job{key: rng.IntN(tc.keys), seq: seq}
			}
			modelDelete := func(j job) {
				i, ok := slices.BinarySearchFunc(model, j, compareJobs)
				if !ok {
					t.Fatalf("model lost %+v", j)
				}
				model = slices.Delete(model, i, i+1)
			}
			modelInsert := func(j job) {
				i, _ := slices.BinarySearchFunc(model, j, compareJobs)
				model = slices.Insert(model, i, j)
			}
			anyHandle := func() heap.Handle {
				n := rng.IntN(len(byHandle))
				for hd := range byHandle {
					if n == 0 {
						return hd
					}
					n--
				}
				panic("unreachable")
			}
			peak := 0
			for i := range ops {
				// Grow for the first half of the run, shrink in the second,
				// so the heap both deepens and drains.
				pushBias := 55
				if i > ops/2 {
					pushBias = 40
				}
				switch op := rng.IntN(100); {
				case op < pushBias:
					j := next()
					hd := h.Push(j)
					if _, dup := byHandle[hd]; dup {
						t.Fatalf("op %d: Push returned live handle %d", i, hd)
					}
					byHandle[hd] = j
					modelInsert(j)
				case len(model) == 0:
					continue
				case op < pushBias+20:
					got, hd := h.Pop()
					if got != model[0] || byHandle[hd] != got {
						t.Fatalf("op %d: Pop = (%+v, %d), model %+v, handle held %+v", i, got, hd, model[0], byHandle[hd])
					}
					delete(byHandle, hd)
					model = model[1:]
				case op < pushBias+30:
					hd := anyHandle()
					j := next()
					h.Update(hd, j)
					modelDelete(byHandle[hd])
					modelInsert(j)
					byHandle[hd] = j
				case op < pushBias+40:
					hd := anyHandle()
					if got := h.Remove(hd); got != byHandle[hd] {
						t.Fatalf("op %d: Remove(%d) = %+v, want %+v", i, hd, got, byHandle[hd])
					}
					modelDelete(byHandle[hd])
					delete(byHandle, hd)
				case op < pushBias+41:
					h.Clear()
					model, byHandle = model[:0], map[heap.Handle]job{}
				default:
					hd := anyHandle()
					if got := h.Get(hd); got != byHandle[hd] {
						t.Fatalf("op %d: Get(%d) = %+v, want %+v", i, hd, got, byHandle[hd])
					}
				}
				check(t, &h)
				peak = max(peak, h.Len())
				if h.Len() != len(model) {
					t.Fatalf("op %d: Len = %d, model %d", i, h.Len(), len(model))
				}
				if len(model) > 0 {
					if got, hd := h.Min(); got != model[0] || byHandle[hd] != got {
						t.Fatalf("op %d: Min = (%+v, %d), model %+v", i, got, hd, model[0])
					}
				}
				for hd := range byHandle {
					if int(hd) >= peak {
						t.Fatalf("op %d: handle %d with a peak of %d elements", i, hd, peak)
					}
				}
			}
			// Drain: everything left comes out in model order.
			for _, want := range model {
				if got, _ := h.Pop(); got != want {
					t.Fatalf("drain: Pop = %+v, want %+v", got, want)
				}
				check(t, &h)
			}
			if h.Len() != 0 {
				t.Fatalf("Len = %d after drain", h.Len())
			}
		})
	}
}

func TestEqualElementsWithSeqPopInPushOrder(t *testing.T) {
	var h heap.Heap[job]
	for i := range 100 {
		h.Push(job{key: i % 3, seq: uint64(i)})
	}
	var got []job
	for h.Len() > 0 {
		j, _ := h.Pop()
		got = append(got, j)
	}
	if !slices.IsSortedFunc(got, compareJobs) {
		t.Fatalf("popped out of order: %v", got)
	}
}

func TestHandlesAreDenseAndReused(t *testing.T) {
	var h heap.Heap[job]
	a := h.Push(job{key: 3})
	b := h.Push(job{key: 1})
	c := h.Push(job{key: 2})
	if a != 0 || b != 1 || c != 2 {
		t.Fatalf("handles %d %d %d, want 0 1 2", a, b, c)
	}
	if _, hd := h.Pop(); hd != b {
		t.Fatalf("Pop freed handle %d, want %d", hd, b)
	}
	if got := h.Remove(a); got.key != 3 {
		t.Fatalf("Remove(%d) = %+v", a, got)
	}
	// Freed last in, first out, and never beyond the peak of three.
	if d := h.Push(job{key: 5}); d != a {
		t.Fatalf("Push after Remove got handle %d, want %d", d, a)
	}
	if e := h.Push(job{key: 6}); e != b {
		t.Fatalf("Push after Pop got handle %d, want %d", e, b)
	}
	if f := h.Push(job{key: 7}); f != 3 {
		t.Fatalf("fourth live element got handle %d, want 3", f)
	}
	check(t, &h)
	h.Clear()
	if g := h.Push(job{key: 1}); g != 0 {
		t.Fatalf("Push after Clear got handle %d, want 0", g)
	}
	check(t, &h)
}

func TestUpdateMovesBothWays(t *testing.T) {
	var h heap.Heap[job]
	hds := make([]heap.Handle, 10)
	for i := range hds {
		hds[i] = h.Push(job{key: 10 * i})
	}
	h.Update(hds[9], job{key: -1}) // up to the root
	if got, hd := h.Min(); got.key != -1 || hd != hds[9] {
		t.Fatalf("Min = (%+v, %d) after moving up", got, hd)
	}
	h.Update(hds[9], job{key: 1000}) // down to a leaf
	h.Update(hds[0], job{key: 15})   // the old root, down one level
	check(t, &h)
	var keys []int
	for h.Len() > 0 {
		j, _ := h.Pop()
		keys = append(keys, j.key)
	}
	if want := []int{10, 15, 20, 30, 40, 50, 60, 70, 80, 1000}; !slices.Equal(keys, want) {
		t.Fatalf("popped %v, want %v", keys, want)
	}
}

func TestAllYieldsEveryElement(t *testing.T) {
	var h heap.Heap[job]
	want := map[heap.Handle]job{}
	for i := range 20 {
		j := job{key: 20 - i}
		want[h.Push(j)] = j
	}
	got := map[heap.Handle]job{}
	for hd, j := range h.All() {
		got[hd] = j
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	n := 0
	for range h.All() {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("All kept yielding after break")
	}
}

func TestPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func(h *heap.Heap[job])
		want string
	}{
		{"Pop empty", func(h *heap.Heap[job]) { h.Pop() }, "Pop of an empty heap"},
		{"Get free", func(h *heap.Heap[job]) { hd := h.Push(job{}); h.Pop(); h.Get(hd) }, "handle 0 is not in the heap"},
		{"Update never issued", func(h *heap.Heap[job]) { h.Update(7, job{}) }, "handle 7 is not in the heap"},
		{"Remove negative", func(h *heap.Heap[job]) { h.Remove(-1) }, "handle -1 is not in the heap"},
		{"Remove twice", func(h *heap.Heap[job]) { hd := h.Push(job{}); h.Remove(hd); h.Remove(hd) }, "not in the heap"},
		{"Grow negative", func(h *heap.Heap[job]) { h.Grow(-1) }, "negative Grow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.want) {
					t.Fatalf("panic %v, want one containing %q", r, tc.want)
				}
			}()
			var h heap.Heap[job]
			tc.f(&h)
		})
	}
}

// boxed holds a pointer, so the test can see whether the heap pins what a
// departed element pointed to.
type boxed struct{ p *int }

func (a boxed) Less(b boxed) bool { return *a.p < *b.p }

func TestGrowReservesEverything(t *testing.T) {
	var h heap.Heap[job]
	h.Push(job{key: 1})
	hds := make([]heap.Handle, 0, 100)
	h.Grow(100)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 100 {
		hds = append(hds, h.Push(job{key: i}))
	}
	for _, hd := range hds[:50] {
		h.Remove(hd)
	}
	for h.Len() > 0 {
		h.Pop()
	}
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n != 0 {
		t.Fatalf("%d allocations after Grow(100) for 100 pushes and their removal", n)
	}
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	var h heap.Heap[boxed]
	vals := make([]int, 1024)
	for i := range vals {
		vals[i] = (i * 7919) % len(vals)
		h.Push(boxed{&vals[i]})
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		x, _ := h.Pop()
		hd := h.Push(x)
		h.Update(hd, boxed{&vals[i%len(vals)]})
		h.Remove(hd)
		h.Push(x)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per cycle, want 0", allocs)
	}
}
