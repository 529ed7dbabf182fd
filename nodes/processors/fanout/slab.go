package fanout

// slab stores the tracked requests of one path. A request is named by its
// index and a generation that changes each time the index is reused, so an
// outcome that comes back after its request is gone (a late answer) is told
// apart from one for the request now living at the same index. Indexes are
// recycled through a free list: in steady state tracking a request
// allocates nothing.
//
// Pointers returned by at and lookup are valid until the next alloc.
type slab[T any] struct {
	items []slabItem[T]
	free  []uint32
	live  int
}

type slabItem[T any] struct {
	gen  uint32
	used bool
	v    T
}

// alloc returns a free index and its generation.
func (s *slab[T]) alloc() (idx, gen uint32) {
	if n := len(s.free); n > 0 {
		idx = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		s.items = append(s.items, slabItem[T]{})
		idx = uint32(len(s.items) - 1)
	}
	it := &s.items[idx]
	it.used = true
	s.live++
	return idx, it.gen
}

// at returns the value at a live index.
func (s *slab[T]) at(idx uint32) *T { return &s.items[idx].v }

// gen returns the generation of idx.
func (s *slab[T]) gen(idx uint32) uint32 { return s.items[idx].gen }

// lookup returns the value at idx if it is live with generation gen.
func (s *slab[T]) lookup(idx, gen uint32) (*T, bool) {
	if int(idx) >= len(s.items) {
		return nil, false
	}
	it := &s.items[idx]
	if !it.used || it.gen != gen {
		return nil, false
	}
	return &it.v, true
}

// release frees idx. The value is kept (the owner resets what it reuses)
// and the generation moves on, so outcomes for the old request no longer
// match.
func (s *slab[T]) release(idx uint32) {
	it := &s.items[idx]
	it.used = false
	it.gen++
	s.free = append(s.free, idx)
	s.live--
}

// each calls f for every live index, in index order.
func (s *slab[T]) each(f func(idx uint32)) {
	for i := range s.items {
		if s.items[i].used {
			f(uint32(i))
		}
	}
}
