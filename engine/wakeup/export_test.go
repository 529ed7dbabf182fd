package wakeup

import "fmt"

// CheckInvariants reports the first broken internal invariant of s: the
// queue and the slot map must describe the same entries, every entry must
// know its queue handle, the heap order must hold, and nothing may exceed
// capacity or carry a revision not yet assigned.
func CheckInvariants(s *Scheduler) error {
	if s.q.Len() != len(s.bySlot) {
		return fmt.Errorf("queue has %d entries, slot map %d", s.q.Len(), len(s.bySlot))
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
		case s.bySlot[e.slot] != e:
			return fmt.Errorf("slot map does not point at entry %d (slot %d)", h, e.slot)
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
		if e.h != -1 {
			return fmt.Errorf("free entry (slot %d) still has handle %d", e.slot, e.h)
		}
	}
	return nil
}

// CheckResumeInvariants reports a broken heap order in r.
func CheckResumeInvariants[T any](r *Resumes[T]) error { return r.q.Check() }
