package wal

import "sort"

// doneSet is the set of sequence numbers that need no delivery: every seq
// below low, plus the half-open intervals in iv. The intervals are sorted,
// disjoint, non-adjacent and start above low, so memory grows with the
// number of gaps in the done set, not with the backlog.
type doneSet struct {
	low Seq
	iv  []interval
}

// interval is the half-open range [start, end).
type interval struct{ start, end Seq }

// search returns the index of the first interval that ends at or after s.
func (d *doneSet) search(s Seq) int {
	return sort.Search(len(d.iv), func(i int) bool { return d.iv[i].end >= s })
}

// nextUndone returns the smallest sequence number >= s that is not done.
func (d *doneSet) nextUndone(s Seq) Seq {
	if s < d.low {
		s = d.low
	}
	if i := d.search(s); i < len(d.iv) && d.iv[i].start <= s && s < d.iv[i].end {
		return d.iv[i].end // non-adjacent: the end is undone
	}
	return s
}

func (d *doneSet) contains(s Seq) bool { return d.nextUndone(s) != s }

// count returns how many of the sequence numbers in [start, end) are done.
func (d *doneSet) count(start, end Seq) uint64 {
	if start >= end {
		return 0
	}
	var n uint64
	if start < d.low {
		n += uint64(min(end, d.low) - start)
		start = d.low
	}
	for i := d.search(start + 1); i < len(d.iv) && d.iv[i].start < end; i++ {
		lo, hi := max(start, d.iv[i].start), min(end, d.iv[i].end)
		if lo < hi {
			n += uint64(hi - lo)
		}
	}
	return n
}

// add marks [start, end) done and returns how many were not done before.
func (d *doneSet) add(start, end Seq) uint64 {
	if start < d.low {
		start = d.low
	}
	if start >= end {
		return 0
	}
	added := uint64(end-start) - d.count(start, end)
	// Merge with every interval that overlaps or touches [start, end).
	i := d.search(start)
	j := i
	for j < len(d.iv) && d.iv[j].start <= end {
		start, end = min(start, d.iv[j].start), max(end, d.iv[j].end)
		j++
	}
	if i == j {
		d.iv = append(d.iv, interval{})
		copy(d.iv[i+1:], d.iv[i:])
		d.iv[i] = interval{start, end}
	} else {
		d.iv[i] = interval{start, end}
		d.iv = append(d.iv[:i+1], d.iv[j:]...)
	}
	if d.iv[0].start == d.low { // fold the first interval into the watermark
		d.low = d.iv[0].end
		d.iv = append(d.iv[:0], d.iv[1:]...)
	}
	return added
}
