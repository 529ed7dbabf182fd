package engine

import (
	"sync/atomic"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/pdata"
)

// numSignals sizes the per-signal accounting arrays, indexed by pdata.Signal.
const numSignals = 3

// Admission stamps. When a receiver admits a message the engine writes a
// stamp into the third call-data word of the ingress frame (the receiver's
// own frame, see ReceiverEffects.Subscribe): the admission time, in
// nanoseconds since the engine was built, and the signal. The final
// outcome brings the frame back, so the engine knows what it settles
// without a table or an allocation per message, even after the payload was
// dropped on the way back.
//
//	bit 63     1: stamped
//	bits 2-62  admission time, ns since the engine's base time
//	bits 0-1   pdata.Signal
const (
	stampFlag    = uint64(1) << 63
	stampMaxTime = int64(1)<<61 - 1
)

func makeStamp(sig pdata.Signal, t int64) uint64 {
	t = min(max(t, 0), stampMaxTime)
	return stampFlag | uint64(t)<<2 | uint64(sig&3)
}

// parseStamp reads a stamp; ok is false for a word the engine did not
// write.
func parseStamp(w uint64) (sig pdata.Signal, t int64, ok bool) {
	if w&stampFlag == 0 {
		return 0, 0, false
	}
	return pdata.Signal(w & 3), int64(w&^stampFlag) >> 2, true
}

// signalIndex maps a signal to its accounting slot; an unknown one (there
// is none today) is counted as logs rather than indexing out of range.
func signalIndex(s pdata.Signal) pdata.Signal {
	if s >= numSignals {
		return pdata.Logs
	}
	return s
}

// Age rings count items by admission time at two resolutions, so that the
// oldest item still in flight can be found without tracking messages one
// by one. A fine slot is 2^28 ns (268 ms) and the fine ring spans 256 of
// them (68.7 s); a coarse slot is 2^36 ns (68.7 s) and the coarse ring
// spans 512 of them (9.8 h). Items older than the coarse span alias into
// younger slots: their age is then under-reported (by a multiple of 9.8 h).
const (
	fineShift   = 28
	fineSlots   = 256
	coarseShift = 36
	coarseSlots = 512
)

// ageRing holds cumulative item counts by admission time. Two rings, one
// for admissions and one for settlements, give the items in flight per
// slot (in - out) while every counter only grows: the side that admits and
// the side that settles never write the same cache line, and a reader that
// loads the settlement ring before the admission ring can never see more
// settled than admitted in a slot unless an item really was settled twice
// or never admitted.
type ageRing struct {
	fine   [fineSlots]atomic.Uint64
	coarse [coarseSlots]atomic.Uint64
}

func (r *ageRing) add(t int64, n uint64) {
	r.fine[(t>>fineShift)%fineSlots].Add(n)
	r.coarse[(t>>coarseShift)%coarseSlots].Add(n)
}

// admissionSignal is what one receiver node of one pipeline copy tracks
// of the items of one signal it admitted: the admission ring is added to
// before the send (so an item is never settled before it is admitted
// there), the settlement ring when the final outcome arrives or the send
// fails.
type admissionSignal struct {
	in, out ageRing
}

// admissions is a receiver node's admission accounting, per signal.
type admissions [numSignals]admissionSignal

// ringDiff is a snapshot of items in flight by admission slot: admission
// ring minus settlement ring, summed over receivers and copies.
type ringDiff struct {
	fine   [fineSlots]int64
	coarse [coarseSlots]int64
}

// accumulate adds a's in-flight items per slot to d and returns the items
// that some slot settled beyond what it admitted: zero unless an outcome
// was counted twice or without an admission. The settlement ring is read
// before the admission ring, so traffic in progress can only make a slot
// look fuller, never overdrawn.
func (d *ringDiff) accumulate(a *admissionSignal) (overdrawn uint64) {
	var out ringDiff
	for i := range a.out.fine {
		out.fine[i] = int64(a.out.fine[i].Load())
	}
	for i := range a.out.coarse {
		out.coarse[i] = int64(a.out.coarse[i].Load())
	}
	for i := range a.in.fine {
		diff := int64(a.in.fine[i].Load()) - out.fine[i]
		if diff < 0 {
			overdrawn += uint64(-diff)
		}
		d.fine[i] += diff
	}
	for i := range a.in.coarse {
		d.coarse[i] += int64(a.in.coarse[i].Load()) - out.coarse[i]
	}
	return overdrawn
}

// inFlight is the total of the snapshot (the coarse ring sees every item),
// items in a send that has not returned included.
func (d *ringDiff) inFlight() int64 {
	var n int64
	for _, v := range d.coarse {
		n += v
	}
	return n
}

// oldest returns how long ago, at least, the oldest item in flight was
// admitted, with now in nanoseconds since the base time; 0 when nothing is
// in flight. The fine ring answers when everything in flight is younger
// than its span (the usual case, at 268 ms resolution); otherwise the
// coarse ring does, at 68.7 s resolution.
func (d *ringDiff) oldest(now int64) time.Duration {
	curC := now >> coarseShift
	oldestC := int64(-1)
	for back := int64(coarseSlots - 1); back >= 0; back-- {
		if e := curC - back; e >= 0 && d.coarse[e%coarseSlots] > 0 {
			oldestC = e
			break
		}
	}
	if oldestC < 0 {
		return 0
	}
	curF := now >> fineShift
	if oldestC<<(coarseShift-fineShift) > curF-fineSlots {
		for back := int64(fineSlots - 1); back >= 0; back-- {
			if e := curF - back; e >= 0 && d.fine[e%fineSlots] > 0 {
				return sinceSlotEnd(now, (e+1)<<fineShift)
			}
		}
	}
	return sinceSlotEnd(now, (oldestC+1)<<coarseShift)
}

// sinceSlotEnd is the age of the youngest item a slot ending at end can
// hold: a lower bound of the age of every item in it.
func sinceSlotEnd(now, end int64) time.Duration {
	if now <= end {
		return 0
	}
	return time.Duration(now - end)
}

// coarseTick is how often the engine's coarse clock advances.
const coarseTick = 100 * time.Millisecond

// coarseClock is the time receivers stamp admissions with: nanoseconds
// since the engine's base time, advanced every coarseTick by one goroutine,
// so that admitting a message costs an atomic load instead of a clock read
// (which costs more than the rest of the accounting). Stamps are up to a
// tick early: ages are over-reported by at most coarseTick.
type coarseClock struct {
	clock clock.Clock
	base  time.Time
	ns    atomic.Int64
}

func (c *coarseClock) set() { c.ns.Store(int64(c.clock.Now().Sub(c.base))) }

// run advances the clock until stop is closed.
func (c *coarseClock) run(stop <-chan struct{}) {
	t := c.clock.NewTimer(coarseTick)
	defer t.Stop()
	for {
		select {
		case <-t.C():
			c.set()
			t.Reset(coarseTick)
		case <-stop:
			return
		}
	}
}
