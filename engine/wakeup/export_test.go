package wakeup

import (
	"fmt"
	"math/bits"
)

// CheckInvariants reports the first broken internal invariant of s: every
// entry in the queue must be in the slot table, every live entry in the
// slot table in the queue, every entry must know its queue handle (-1 when
// not live), every slot must be found from its home cell, the heap order
// must hold, and nothing may exceed capacity or carry a revision not yet
// assigned.
func CheckInvariants(s *Scheduler) error {
	if err := checkSlotTable(&s.slots); err != nil {
		return err
	}
	live := 0
	for e := range s.slots.all {
		switch {
		case e.h >= 0:
			live++ // in the queue: see below
		case e.h != -1:
			return fmt.Errorf("entry of slot %d has handle %d", e.slot, e.h)
		case e.next != nil:
			return fmt.Errorf("entry of slot %d is in the slot table and on the free list", e.slot)
		}
	}
	// Every queued entry is a live one in the table (checked below, with
	// distinct handles), so equal counts leave no live entry out.
	if s.q.Len() != live {
		return fmt.Errorf("queue has %d entries, slot table %d live ones", s.q.Len(), live)
	}
	if s.q.Len() > s.capacity {
		return fmt.Errorf("%d live entries exceed capacity %d", s.q.Len(), s.capacity)
	}
	if s.shuttingDown && s.q.Len() != 0 {
		return fmt.Errorf("%d live entries after shutdown", s.q.Len())
	}
	if err := s.q.Check(); err != nil {
		return err
	}
	revs := make(map[Revision]bool, s.q.Len())
	for h, it := range s.q.All() {
		e := it.e
		switch {
		case e == nil:
			return fmt.Errorf("item %d has no entry", h)
		case e.h != h:
			return fmt.Errorf("entry of item %d (slot %d) records handle %d", h, e.slot, e.h)
		case s.slots.get(e.slot) != e:
			return fmt.Errorf("slot table does not find entry %d (slot %d)", h, e.slot)
		case it.at != int64(e.when.Sub(s.keys.epoch)):
			return fmt.Errorf("item %d (slot %d) has key %d for deadline %v", h, e.slot, it.at, e.when)
		case it.rev == 0 || it.rev > s.rev:
			return fmt.Errorf("item %d (slot %d) has revision %d, last assigned %d", h, e.slot, it.rev, s.rev)
		case revs[it.rev]:
			return fmt.Errorf("revision %d used twice", it.rev)
		case e.next != nil:
			return fmt.Errorf("live entry %d (slot %d) is linked into the free list", h, e.slot)
		}
		revs[it.rev] = true
	}
	for e := s.free; e != nil; e = e.next {
		switch {
		case e.h != -1:
			return fmt.Errorf("free entry (slot %d) still has handle %d", e.slot, e.h)
		case s.slots.get(e.slot) == e:
			return fmt.Errorf("free entry (slot %d) is in the slot table", e.slot)
		}
	}
	return nil
}

// checkSlotTable reports a broken invariant of t: its size is a power of
// two with room to spare, it counts its cells right, and every slot is
// found from its home, once.
func checkSlotTable(t *slotTable) error {
	if size := len(t.cells); size != 0 && (size < minCells || size&(size-1) != 0 || 64-t.shift != uint(bits.TrailingZeros(uint(size)))) {
		return fmt.Errorf("slot table of %d cells with shift %d", size, t.shift)
	}
	n := 0
	for i, c := range t.cells {
		if c.e == nil {
			if c.slot != 0 {
				return fmt.Errorf("empty cell %d holds slot %d", i, c.slot)
			}
			continue
		}
		n++
		switch {
		case c.e.slot != c.slot:
			return fmt.Errorf("cell %d holds slot %d for the entry of slot %d", i, c.slot, c.e.slot)
		case find(t, c.slot) != i:
			// get stops at the first cell with the slot: a second one is
			// never found either.
			return fmt.Errorf("slot %d in cell %d is not found from its home %d", c.slot, i, t.home(c.slot))
		}
	}
	if n != t.n || n > limit(len(t.cells)) {
		return fmt.Errorf("slot table counts %d slots, holds %d in %d cells", t.n, n, len(t.cells))
	}
	return nil
}

// find is get, returning the cell index instead of the entry (-1 if the
// probe ends at an empty cell).
func find(t *slotTable, s Slot) int {
	mask := len(t.cells) - 1
	for i := t.home(s); ; i = (i + 1) & mask {
		switch c := t.cells[i]; {
		case c.e == nil:
			return -1
		case c.slot == s:
			return i
		}
	}
}

// CheckResumeInvariants reports a broken heap order in r.
func CheckResumeInvariants[T any](r *Resumes[T]) error { return r.q.Check() }

// SlotTableCells returns the size of s's slot table.
func SlotTableCells(s *Scheduler) int { return len(s.slots.cells) }
