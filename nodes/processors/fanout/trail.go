package fanout

import "github.com/ackflow/ackflow/engine"

// The trail: full-path requests answered upstream whose copies are still
// tracked.
//
// Once its sender has the answer an input no longer counts toward
// max_inflight, so a slow best-effort destination cannot throttle intake.
// Its remaining copies are still tracked, so that their outcomes are
// counted, their fallbacks are sent and, in sequential mode, the
// destinations after the answer are still sent in order. That tracking has
// its own bound, max_trailing: the trail lists these requests in the order
// they joined it (oldest first), and beyond the bound the oldest is
// dropped: its copies in flight are no longer awaited (abandoned_total),
// the ones not sent yet are skipped (skipped_total), and an outcome that
// comes later is a late answer. The trail never pauses intake. Between
// two calls the node holds at most max_inflight + max_trailing requests.
//
// After Shutdown the bound is 0: an answered input never holds a drain
// (engine.Drainer), whatever its best-effort copies do.
//
// The list is threaded through the requests (trailPrev, trailNext), like
// the deadline lists: joining, leaving and dropping the oldest are O(1) and
// allocate nothing.
type trail struct {
	head, tail int32 // request indexes, oldest first; -1: empty
	count      int
}

func (t *trail) init() { t.head, t.tail = -1, -1 }

// join puts slot at the tail of the trail: the only way onto it. The
// request has been answered and still has copies to resolve.
func (p *processor) join(slot uint32) {
	r := p.full.at(slot)
	r.onTrail, r.trailPrev, r.trailNext = true, p.trail.tail, -1
	if p.trail.tail < 0 {
		p.trail.head = int32(slot)
	} else {
		p.full.at(uint32(p.trail.tail)).trailNext = int32(slot)
	}
	p.trail.tail = int32(slot)
	p.trail.count++
}

// leave takes slot off the trail, if it is on it.
func (p *processor) leave(slot uint32) {
	r := p.full.at(slot)
	if !r.onTrail {
		return
	}
	if r.trailPrev < 0 {
		p.trail.head = r.trailNext
	} else {
		p.full.at(uint32(r.trailPrev)).trailNext = r.trailNext
	}
	if r.trailNext < 0 {
		p.trail.tail = r.trailPrev
	} else {
		p.full.at(uint32(r.trailNext)).trailPrev = r.trailPrev
	}
	r.onTrail, r.trailPrev, r.trailNext = false, -1, -1
	p.trail.count--
}

// trim drops the oldest requests of the trail beyond its bound: 0 after
// Shutdown.
func (p *processor) trim(fx engine.Effects) {
	limit, why := p.pl.maxTrailing, dropTrailingLimit
	if p.life != lifeRunning {
		limit, why = 0, dropShutdown
	}
	for p.trail.count > limit {
		p.drop(fx, uint32(p.trail.head), why)
	}
}

// dropsAnswered reports whether an answered request is dropped as soon
// as it is answered (max_trailing 0, or after Shutdown), and why: then
// nothing more is sent for it.
func (p *processor) dropsAnswered() (dropReason, bool) {
	switch {
	case p.life != lifeRunning:
		return dropShutdown, true
	case p.pl.maxTrailing == 0:
		return dropTrailingLimit, true
	}
	return 0, false
}
