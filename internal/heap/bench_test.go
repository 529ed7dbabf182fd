package heap_test

import (
	stdheap "container/heap"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ackflow/ackflow/internal/heap"
)

var benchSizes = []int{16, 1024, 10_000}

// keys is a fixed table of pseudo-random keys, so the measured loop does
// not pay for a random number generator.
var keys = func() []int {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]int, 4096)
	for i := range out {
		out[i] = rng.IntN(1 << 30)
	}
	return out
}()

// BenchmarkPopPush is a timer queue's steady state: the minimum leaves and
// a new element with a later key than all others arrives, so the cost is
// the pop's sift down through the whole depth.
func BenchmarkPopPush(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			var h heap.Heap[job]
			for i := range n {
				h.Push(job{key: keys[i%len(keys)], seq: uint64(i)})
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				h.Pop()
				h.Push(job{key: 1<<30 + i, seq: uint64(n + i)})
			}
		})
	}
}

// BenchmarkPopPushContainerHeap is BenchmarkPopPush on container/heap with
// the index kept in every item (its priority queue example), for
// comparison.
func BenchmarkPopPushContainerHeap(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			q := make(jobQueue, 0, n)
			for i := range n {
				q = append(q, &indexedJob{job: job{key: keys[i%len(keys)], seq: uint64(i)}, index: i})
			}
			stdheap.Init(&q)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				it := stdheap.Pop(&q).(*indexedJob)
				it.job = job{key: 1<<30 + i, seq: uint64(n + i)}
				stdheap.Push(&q, it)
			}
		})
	}
}

// BenchmarkUpdate moves random elements to random new keys.
func BenchmarkUpdate(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			var h heap.Heap[job]
			hds := make([]heap.Handle, n)
			for i := range n {
				hds[i] = h.Push(job{key: keys[i%len(keys)], seq: uint64(i)})
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				h.Update(hds[i%n], job{key: keys[(i*7)%len(keys)], seq: uint64(n + i)})
			}
		})
	}
}

type indexedJob struct {
	job
	index int
}

type jobQueue []*indexedJob

func (q jobQueue) Len() int           { return len(q) }
func (q jobQueue) Less(i, j int) bool { return q[i].job.Less(q[j].job) }
func (q jobQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *jobQueue) Push(x any) {
	it := x.(*indexedJob)
	it.index = len(*q)
	*q = append(*q, it)
}
func (q *jobQueue) Pop() any {
	old := *q
	n := len(old) - 1
	it := old[n]
	old[n], it.index = nil, -1
	*q = old[:n]
	return it
}
