package fanout

import (
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
)

// deadlines tracks the timeouts of the copies in flight on the full path.
//
// Every copy sent to destination d times out after the same duration, so
// in send order its deadlines are already sorted: each destination keeps a
// doubly linked list of (request, d), threaded through destRun, with the
// earliest deadline at its head. Linking at the tail, unlinking anywhere
// and finding the earliest of a destination are O(1); the earliest overall
// is the least of at most MaxDestinations heads. Nothing is allocated and
// no stale entry is kept: a copy leaves its list the moment it resolves.
// (If the clock ever steps back, link walks from the tail to keep the list
// sorted.)
//
// One wakeup slot is aimed at the earliest deadline; its revision is kept
// so that a delivery of an earlier arming is ignored.
type deadlines struct {
	lists []deadlineList
	count int  // linked copies
	dirty bool // a list head changed: the wakeup may need re-aiming
	wake  wakeup.Arming
}

type deadlineList struct{ head, tail int32 }

func (dl *deadlines) init(dests int) {
	dl.wake = wakeup.Arming{Slot: slotTimeout}
	dl.lists = make([]deadlineList, dests)
	for i := range dl.lists {
		dl.lists[i] = deadlineList{head: -1, tail: -1}
	}
}

// link puts (slot, d) in d's deadline list at when.
func (p *processor) link(slot uint32, d int, when time.Time) {
	ds := &p.full.at(slot).dests[d]
	l := &p.dl.lists[d]
	prev := l.tail
	for prev >= 0 && p.full.at(uint32(prev)).dests[d].deadline.After(when) {
		prev = p.full.at(uint32(prev)).dests[d].prev
	}
	var next int32
	if prev < 0 {
		next, l.head = l.head, int32(slot)
		p.dl.dirty = true
	} else {
		pr := &p.full.at(uint32(prev)).dests[d]
		next, pr.next = pr.next, int32(slot)
	}
	if next < 0 {
		l.tail = int32(slot)
	} else {
		p.full.at(uint32(next)).dests[d].prev = int32(slot)
	}
	ds.prev, ds.next, ds.deadline, ds.linked = prev, next, when, true
	p.dl.count++
}

// unlink takes (slot, d) out of its deadline list, if it is in it.
func (p *processor) unlink(slot uint32, d int) {
	ds := &p.full.at(slot).dests[d]
	if !ds.linked {
		return
	}
	l := &p.dl.lists[d]
	if ds.prev < 0 {
		l.head = ds.next
		p.dl.dirty = true
	} else {
		p.full.at(uint32(ds.prev)).dests[d].next = ds.next
	}
	if ds.next < 0 {
		l.tail = ds.prev
	} else {
		p.full.at(uint32(ds.next)).dests[d].prev = ds.prev
	}
	ds.prev, ds.next, ds.linked = -1, -1, false
	p.dl.count--
}

// earliest returns the earliest pending deadline and its destination.
func (p *processor) earliest() (when time.Time, dest int, ok bool) {
	dest = -1
	for d, l := range p.dl.lists {
		if l.head < 0 {
			continue
		}
		at := p.full.at(uint32(l.head)).dests[d].deadline
		if dest < 0 || at.Before(when) {
			when, dest = at, d
		}
	}
	return when, dest, dest >= 0
}

// expire fails, in deadline order, every copy whose deadline is not after
// now. A fallback sent in its place gets a deadline after now, so the loop
// ends.
func (p *processor) expire(fx engine.Effects, now time.Time) {
	for p.dl.count > 0 {
		when, d, ok := p.earliest()
		if !ok || when.After(now) {
			return
		}
		slot := uint32(p.dl.lists[d].head)
		p.m.dests[d].failed(p.m.dests[d].timedOut)
		p.fail(fx, slot, d, destTimedOut, p.pl.dests[d].timedOut)
		p.maybeFinish(fx, slot)
	}
}

// aimTimeout points the timeout wakeup at the earliest deadline, when a
// list head changed since the last aim.
func (p *processor) aimTimeout(fx engine.Effects) error {
	if !p.dl.dirty {
		return nil
	}
	p.dl.dirty = false
	when, _, ok := p.earliest()
	if !ok {
		p.dl.wake.Cancel(fx)
		return nil
	}
	return p.arm(fx, &p.dl.wake, when)
}
