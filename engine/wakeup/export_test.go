package wakeup

import "fmt"

// CheckInvariants reports the first broken internal invariant of s: the
// queue and the slot map must describe the same entries, every entry must
// know its queue position, the heap order must hold, and nothing may exceed
// capacity or carry a revision not yet assigned.
func CheckInvariants(s *Scheduler) error {
	if len(s.q) != len(s.bySlot) {
		return fmt.Errorf("queue has %d entries, slot map %d", len(s.q), len(s.bySlot))
	}
	if len(s.q) > s.capacity {
		return fmt.Errorf("%d live entries exceed capacity %d", len(s.q), s.capacity)
	}
	if s.shuttingDown && len(s.q) != 0 {
		return fmt.Errorf("%d live entries after shutdown", len(s.q))
	}
	revs := make(map[Revision]bool, len(s.q))
	for i, it := range s.q {
		e := it.e
		switch {
		case e == nil:
			return fmt.Errorf("item %d has no entry", i)
		case e.index != i:
			return fmt.Errorf("entry at %d (slot %d) records index %d", i, e.slot, e.index)
		case s.bySlot[e.slot] != e:
			return fmt.Errorf("slot map does not point at entry %d (slot %d)", i, e.slot)
		case it.at != int64(e.when.Sub(s.keys.epoch)):
			return fmt.Errorf("item %d (slot %d) has key %d for deadline %v", i, e.slot, it.at, e.when)
		case it.rev == 0 || it.rev > s.rev:
			return fmt.Errorf("item %d (slot %d) has revision %d, last assigned %d", i, e.slot, it.rev, s.rev)
		case revs[it.rev]:
			return fmt.Errorf("revision %d used twice", it.rev)
		case e.next != nil:
			return fmt.Errorf("live entry %d (slot %d) is linked into the free list", i, e.slot)
		}
		revs[it.rev] = true
		if p := (i - 1) / 2; i > 0 && s.q.Less(i, p) {
			return fmt.Errorf("heap order: item %d (%v, rev %d) before its parent %d (%v, rev %d)",
				i, e.when, it.rev, p, s.q[p].e.when, s.q[p].rev)
		}
	}
	for e := s.free; e != nil; e = e.next {
		if e.index != -1 {
			return fmt.Errorf("free entry (slot %d) still has index %d", e.slot, e.index)
		}
	}
	return nil
}

// CheckResumeInvariants reports a broken heap order in r.
func CheckResumeInvariants[T any](r *Resumes[T]) error {
	for i := 1; i < len(r.q); i++ {
		if p := (i - 1) / 2; r.q.Less(i, p) {
			return fmt.Errorf("heap order: item %d before its parent %d", i, p)
		}
	}
	return nil
}
