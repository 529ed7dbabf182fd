package wakeup

import (
	"math/bits"
	"math/rand/v2"
)

// slotTable finds the entry of a slot: a hash table with open addressing
// and linear probing, specialised to Slot keys. It replaces a
// map[Slot]*entry, whose delete and insert were a quarter of a PopDue at
// 10,000 slots: a general map hashes with a seeded AES round and probes
// groups of control bytes, where this table hashes with one multiplication
// and finds a slot in the cell it hashes to or in the next few, which share
// its cache line.
//
// A slot stays in the table after its wakeup is popped or cancelled, with
// its entry marked not live (entry.h < 0): a processor re-arms the same few
// slots over and over (the earliest wakeup fires and its slot is set
// again), so Set finds the entry where it left it, and neither PopDue nor
// Cancel touch the table. Entries that are not live are purged when an
// insert finds the table full, before it is allowed to grow, so the table
// holds at most about twice the peak number of live slots.
type slotTable struct {
	cells []cell // a power of two; nil until the first insert
	shift uint   // 64 - log2(len(cells)): hash >> shift is a cell index
	n     int    // cells in use, by live entries and others
	seed  uint64 // random per table: slots a processor derives from data cannot be chosen to collide
}

// cell holds a slot and its entry; e is nil in an empty cell.
type cell struct {
	slot Slot
	e    *entry
}

// minCells is the smallest table: 8 cells of 16 bytes, two cache lines.
const minCells = 8

// reserve sizes the table for n slots.
func (t *slotTable) reserve(n int) {
	size := max(minCells, len(t.cells))
	for limit(size) < n {
		size *= 2
	}
	if size > len(t.cells) {
		t.rehash(size)
	}
}

// limit is the number of cells of a table of size cells that may be in use:
// three quarters, where linear probing still finds a slot in about two
// probes on average.
func limit(size int) int { return size / 4 * 3 }

// home returns the cell where s belongs. Fibonacci hashing: the
// multiplication spreads every bit of the slot into the high bits that
// index the table, so that dense slots (0, 1, 2, ...) fall into distinct
// cells.
func (t *slotTable) home(s Slot) int {
	return int(((uint64(s) ^ t.seed) * 0x9e3779b97f4a7c15) >> t.shift)
}

// get returns the entry of s, live or not, or nil if s is not in the table.
func (t *slotTable) get(s Slot) *entry {
	if t.n == 0 {
		return nil
	}
	mask := len(t.cells) - 1
	for i := t.home(s); ; i = (i + 1) & mask {
		c := &t.cells[i]
		if c.e == nil || c.slot == s {
			return c.e
		}
	}
}

// insert adds e under e.slot, which must not be in the table. When the
// table is full it first purges the entries that are not live, handing
// each to drop, and grows only if live entries would still fill more than
// half of it: a purge then always leaves room for as many inserts as there
// are live entries, so its cost is spread over them.
func (t *slotTable) insert(e *entry, drop func(*entry)) {
	if t.n >= limit(len(t.cells)) {
		t.purge(drop)
		if size := len(t.cells); t.n+1 > limit(size)/2 || size == 0 {
			t.rehash(max(minCells, 2*size))
		}
	}
	t.put(e)
	t.n++
}

// put stores e in the first empty cell from its slot's home.
func (t *slotTable) put(e *entry) {
	mask := len(t.cells) - 1
	i := t.home(e.slot)
	for t.cells[i].e != nil {
		i = (i + 1) & mask
	}
	t.cells[i] = cell{slot: e.slot, e: e}
}

// purge removes every entry that is not live and hands it to drop.
func (t *slotTable) purge(drop func(*entry)) {
	for i := 0; i < len(t.cells); {
		e := t.cells[i].e
		if e == nil || e.h >= 0 {
			i++
			continue
		}
		// removeAt may shift another cell into i: look at i again.
		t.removeAt(i)
		drop(e)
	}
}

// removeAt empties cell i. The cells after it in its cluster are shifted
// back over the gap when their home is at or before it, so that every slot
// stays reachable from its home without crossing an empty cell. A shift
// only moves cells to lower indexes (modulo the size), so a scan from cell
// 0 that looks at a cell again after removing it sees every cell.
func (t *slotTable) removeAt(i int) {
	mask := len(t.cells) - 1
	for j := (i + 1) & mask; t.cells[j].e != nil; j = (j + 1) & mask {
		// The cell at j may fill the gap at i if the gap lies between its
		// home and j, that is, no nearer to j than its home.
		if home := t.home(t.cells[j].slot); (j-home)&mask >= (j-i)&mask {
			t.cells[i] = t.cells[j]
			i = j
		}
	}
	t.cells[i] = cell{}
	t.n--
}

// all yields the entry of every cell in use, live or not.
func (t *slotTable) all(yield func(*entry) bool) {
	for _, c := range t.cells {
		if c.e != nil && !yield(c.e) {
			return
		}
	}
}

// clear removes every slot and keeps the memory.
func (t *slotTable) clear() {
	clear(t.cells)
	t.n = 0
}

// rehash moves every cell into a new table of size cells.
func (t *slotTable) rehash(size int) {
	old := t.cells
	t.cells = make([]cell, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	if old == nil {
		t.seed = rand.Uint64()
	}
	for _, c := range old {
		if c.e != nil {
			t.put(c.e)
		}
	}
}
