package fanout

import (
	"fmt"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// The full path: per-destination state, deadlines, fallback chains and the
// sequential cursor.
//
// Vocabulary: a chain is a destination that is not a fallback (its root)
// followed by its fallbacks (root -> fallback_for root -> ...). At most one
// member of a chain is in flight at a time. A chain succeeds when a member
// acks, and fails when a member fails (nack, closed output or timeout) with
// no fallback left. The upstream outcome is decided by the primary's chain
// (await_ack: primary) or by all chains (await_ack: all).
//
// A request counts toward max_inflight while its upstream waits (phaseOpen).
// Once answered it stays tracked until every copy it dispatched has
// resolved, on the trail (trail.go), bounded by max_trailing rather than
// max_inflight: in primary mode the other chains run to the end (their
// fallbacks included, and in sequential mode the remaining destinations in
// order); in all mode, after the first failure, nothing new is sent and the
// copies in flight are awaited.

// reqPhase is where a request stands with its upstream.
type reqPhase uint8

const (
	phaseOpen   reqPhase = iota // upstream awaits the outcome
	phaseAcked                  // upstream acked; copies may still be resolving
	phaseNacked                 // upstream nacked; copies may still be resolving
)

var phaseNames = [...]string{"open", "acked", "nacked"}

func (s reqPhase) String() string {
	if int(s) < len(phaseNames) {
		return phaseNames[s]
	}
	return fmt.Sprintf("phase(%d)", uint8(s))
}

// destState is where one destination stands for one request.
type destState uint8

const (
	destIdle     destState = iota // not sent: a held-back fallback, or a later destination in sequence
	destQueued                    // dispatched, waiting for room on its output
	destSent                      // with the destination, awaiting its outcome
	destAcked                     // terminal
	destNacked                    // terminal: nack, or its output refused the copy
	destTimedOut                  // terminal: a late outcome is counted and ignored
	destSkipped                   // terminal: never sent (not needed, request failed, shutdown)
)

var destStateNames = [...]string{"idle", "queued", "sent", "acked", "nacked", "timed_out", "skipped"}

func (s destState) String() string {
	if int(s) < len(destStateNames) {
		return destStateNames[s]
	}
	return fmt.Sprintf("dest(%d)", uint8(s))
}

// request is one input on the full path.
type request struct {
	phase reqPhase
	// orig is the input as received, with its upstream route; given to
	// the engine when upstream is answered.
	orig *pdata.Message
	// tmpl is a detached copy kept after upstream was answered when more
	// copies may still be dispatched, since orig then belongs to the
	// engine.
	tmpl *pdata.Message
	// leases are the input payload's (pdata.Lease), held until the request
	// is forgotten: copies may be dispatched after upstream was answered.
	leases    pdata.Leases
	next      int // sequential: index in plan.roots of the next chain to start
	succeeded int // chains that succeeded
	open      int // copies queued or sent and not resolved
	dests     []destRun
	// onTrail: answered, copies still to resolve (trail.go). trailPrev and
	// trailNext link the trail by request index (-1: none).
	onTrail              bool
	trailPrev, trailNext int32
}

// destRun is one destination's state for one request.
type destRun struct {
	state    destState
	linked   bool      // in the destination's deadline list
	deadline time.Time // when linked
	// prev and next link the destination's deadline list by request index
	// (-1: none).
	prev, next int32
}

// src is the message copies are made from.
func (r *request) src() *pdata.Message {
	if r.orig != nil {
		return r.orig
	}
	return r.tmpl
}

// fullPData registers an input and starts its first copies.
func (p *processor) fullPData(m *pdata.Message, fx engine.Effects) {
	slot, _ := p.full.alloc()
	r := p.full.at(slot)
	if r.dests == nil {
		r.dests = make([]destRun, len(p.pl.dests))
	}
	for i := range r.dests {
		r.dests[i] = destRun{prev: -1, next: -1}
	}
	r.phase, r.orig, r.tmpl, r.next, r.succeeded, r.open = phaseOpen, m, nil, 0, 0, 0
	r.onTrail, r.trailPrev, r.trailNext = false, -1, -1
	r.leases = retainLeases(m)
	p.fullOwed++
	if p.pl.mode == ModeParallel {
		for _, d := range p.pl.roots {
			// A synchronous failure may have halted the request (await_ack:
			// all): the roots not started yet are skipped then.
			if p.full.at(slot).dests[d].state == destIdle {
				p.dispatch(fx, slot, d)
			}
		}
	} else {
		p.startNext(fx, slot)
	}
	p.maybeFinish(fx, slot)
}

// fullOutcome handles a destination's ack or nack.
func (p *processor) fullOutcome(fx engine.Effects, slot, gen uint32, d int, ack bool, n pdata.Nack) {
	dm := &p.m.dests[d]
	r, ok := p.full.lookup(slot, gen)
	if !ok || r.dests[d].state != destSent {
		// Timed out, or its request is gone: the copy is no longer
		// awaited.
		dm.late.Inc()
		return
	}
	if ack {
		dm.succeeded()
		p.succeed(fx, slot, d)
	} else {
		dm.failed(dm.nacked)
		p.fail(fx, slot, d, destNacked, n.Wrap(p.pl.dests[d].prefix))
	}
	p.maybeFinish(fx, slot)
}

// dispatch sends (or queues) a copy to d: the only way out of destIdle
// other than skip.
func (p *processor) dispatch(fx engine.Effects, slot uint32, d int) {
	r := p.full.at(slot)
	gen := p.full.gen(slot)
	c := r.src().CloneDetached()
	p.holdCopy(c)
	fx.Subscribe(c, pdata.AcksAndNacks, callData(slot, gen, d))
	r.dests[d].state = destQueued
	r.open++
	if t := p.pl.dests[d].timeout; t > 0 {
		// The timeout runs from dispatch: time spent waiting for room
		// counts, so a stuck output fails over like a silent one.
		p.link(slot, d, fx.Now().Add(t))
	}
	queued, err := p.put(fx, d, c, slot, gen)
	if err != nil {
		p.m.dests[d].failed(p.m.dests[d].nacked)
		p.fail(fx, slot, d, destNacked, p.sendFailure(d, err))
		return
	}
	if !queued {
		p.delivered(slot, d)
	}
}

// delivered records that d's copy left for its output: the only way into
// destSent, from dispatch or from the backlog.
func (p *processor) delivered(slot uint32, d int) {
	p.full.at(slot).dests[d].state = destSent
}

// succeed records d's ack: the only way into destAcked. Its chain
// succeeded, so the fallbacks after it are not needed.
func (p *processor) succeed(fx engine.Effects, slot uint32, d int) {
	r := p.full.at(slot)
	p.unlink(slot, d)
	r.dests[d].state = destAcked
	r.open--
	for f := p.pl.dests[d].fallback; f >= 0; f = p.pl.dests[f].fallback {
		if r.dests[f].state == destIdle {
			p.skip(slot, f, skipOriginAcked)
		}
	}
	p.chainSucceeded(fx, slot, p.pl.dests[d].root)
}

// fail records d's failure (to is destNacked or destTimedOut): the only
// way into those states. Its fallback, if any is still held back, is sent
// in its place; otherwise its chain failed with this failure.
func (p *processor) fail(fx engine.Effects, slot uint32, d int, to destState, n pdata.Nack) {
	r := p.full.at(slot)
	p.unlink(slot, d)
	r.dests[d].state = to
	r.open--
	if f := p.pl.dests[d].fallback; f >= 0 && r.dests[f].state == destIdle {
		p.dispatch(fx, slot, f)
		return
	}
	p.chainFailed(fx, slot, p.pl.dests[d].root, n)
}

// skip marks a destination whose copy was never sent (idle, or queued
// when its request was dropped): the only way into destSkipped.
func (p *processor) skip(slot uint32, d int, why skipReason) {
	r := p.full.at(slot)
	if r.dests[d].state == destQueued {
		p.unlink(slot, d)
		r.open--
	}
	r.dests[d].state = destSkipped
	p.m.dests[d].skipped[why].Inc()
}

func (p *processor) chainSucceeded(fx engine.Effects, slot uint32, root int) {
	r := p.full.at(slot)
	r.succeeded++
	if r.phase == phaseOpen {
		switch {
		case p.pl.await == AwaitPrimary && root == p.pl.primary,
			p.pl.await == AwaitAll && r.succeeded == len(p.pl.roots):
			p.answer(fx, slot, true, pdata.Nack{})
		}
	}
	if p.pl.mode == ModeSequential {
		p.startNext(fx, slot)
	}
}

func (p *processor) chainFailed(fx engine.Effects, slot uint32, root int, n pdata.Nack) {
	r := p.full.at(slot)
	if r.phase == phaseOpen {
		switch {
		case p.pl.await == AwaitAll:
			// Fail fast: upstream will see a nack whatever the other
			// chains do, so nothing more is sent for this input.
			for d := range r.dests {
				if r.dests[d].state == destIdle {
					p.skip(slot, d, skipRequestFailed)
				}
			}
			p.answer(fx, slot, false, n)
		case root == p.pl.primary:
			p.answer(fx, slot, false, n)
		}
	}
	if p.pl.mode == ModeSequential {
		// A failed chain that does not decide the outcome moves the
		// sequence on (the reference stalls here forever).
		p.startNext(fx, slot)
	}
}

// startNext starts the next chain in config order (sequential mode).
// Fallbacks are never in this order: they are sent only for their origin.
// An answered request that will not be kept (max_trailing 0, or after
// Shutdown) sends nothing more: its remaining destinations are skipped.
func (p *processor) startNext(fx engine.Effects, slot uint32) {
	r := p.full.at(slot)
	if why, drop := p.dropsAnswered(); drop && r.phase != phaseOpen {
		for d := range r.dests {
			if r.dests[d].state == destIdle {
				p.skip(slot, d, why.skip())
			}
		}
		return
	}
	for r.next < len(p.pl.roots) {
		d := p.pl.roots[r.next]
		r.next++
		if r.dests[d].state == destIdle {
			p.dispatch(fx, slot, d)
			return
		}
	}
}

// answer gives the upstream its one outcome: the only way out of
// phaseOpen.
func (p *processor) answer(fx engine.Effects, slot uint32, ack bool, n pdata.Nack) {
	r := p.full.at(slot)
	orig := r.orig
	r.orig = nil
	for d := range r.dests {
		if r.dests[d].state == destIdle {
			r.tmpl = orig.CloneDetached() // orig is the engine's once answered
			break
		}
	}
	p.fullOwed-- // upstream has its answer: the input leaves max_inflight
	if ack {
		r.phase = phaseAcked
		p.m.upstreamAcks.Inc()
		fx.NotifyAck(orig)
		return
	}
	r.phase = phaseNacked
	p.m.upstreamNack(n.Cause)
	fx.NotifyNack(orig, n)
}

// maybeFinish runs after every event of a request. It forgets the request
// once no copy is queued or in flight: by then every chain has resolved (a
// resolving chain starts its successor before this runs), so upstream has
// been answered. An answered request with copies left joins the trail.
func (p *processor) maybeFinish(fx engine.Effects, slot uint32) {
	r := p.full.at(slot)
	if r.open > 0 {
		if r.phase != phaseOpen && !r.onTrail {
			p.join(slot)
		}
		return
	}
	if r.phase == phaseOpen {
		// Unreachable by construction; answering beats leaking the input.
		p.log.Error("fanout: request resolved without an upstream decision", "request", slot)
		p.answer(fx, slot, false, pdata.Nack{Reason: "fanout: internal error: request resolved without a decision"})
	}
	p.release(slot)
}

// release forgets a request: the only way a full-path slot is freed.
func (p *processor) release(slot uint32) {
	p.leave(slot)
	r := p.full.at(slot)
	r.tmpl = nil
	r.leases.Release()
	r.leases = nil
	p.full.release(slot)
}

// drop stops tracking a request before its copies resolved: answered ones
// beyond max_trailing or at Shutdown, every one at the forced Shutdown. Its
// copies in flight are counted as abandoned and those not sent as skipped;
// if upstream still waits (only at the forced Shutdown) it is nacked with
// cause node_shutdown.
func (p *processor) drop(fx engine.Effects, slot uint32, why dropReason) {
	r := p.full.at(slot)
	for d := range r.dests {
		switch r.dests[d].state {
		case destIdle, destQueued:
			p.skip(slot, d, why.skip())
		case destSent:
			p.unlink(slot, d)
			p.m.dests[d].abandoned[why].Inc()
		}
	}
	if r.phase == phaseOpen {
		p.answer(fx, slot, false, shutdownNack)
	}
	p.release(slot)
}

// shutdownNack answers every input whose sender still waits at the forced
// Shutdown.
var shutdownNack = pdata.Nack{
	Reason: "fanout: shutdown deadline reached before the destinations answered",
	Cause:  pdata.CauseNodeShutdown,
}
