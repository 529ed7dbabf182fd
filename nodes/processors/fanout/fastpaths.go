package fanout

import (
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// fireAndForget (await_ack: none) sends a detached copy to every
// destination, waiting for room, then acks upstream. It keeps no state and
// subscribes to nothing: downstream outcomes end at the copies.
//
// Only when no destination took a copy is the input nacked: "ack after
// dispatch" presumes a dispatch happened. Otherwise a copy refused by a
// closed output is dropped with the failure's cause as the reason.
func (p *processor) fireAndForget(m *pdata.Message, fx engine.Effects) {
	type failedCopy struct {
		m     *pdata.Message
		cause pdata.Cause
	}
	var buf [4]failedCopy // no allocation below 5 failures
	failed := buf[:0]
	var failure pdata.Nack
	// Nothing tracks the copies: their transport buffers are never given
	// back for reuse (pinned; the garbage collector reclaims them).
	retainLeases(m)
	for _, d := range p.pl.roots {
		c := m.CloneDetached()
		err := fx.SendTo(p.pl.dests[d].port, c)
		if err == nil {
			p.m.dests[d].sent.Inc()
			continue
		}
		p.m.dests[d].failed(p.m.dests[d].nacked)
		failure = p.sendFailure(d, err)
		failed = append(failed, failedCopy{c, failure.Cause})
	}
	if len(failed) == len(p.pl.roots) {
		p.m.upstreamNack(failure.Cause)
		fx.NotifyNack(m, failure)
		return
	}
	for _, f := range failed {
		fx.Drop(f.m, f.cause.String())
	}
	p.m.upstreamAcks.Inc()
	fx.NotifyAck(m)
}

// slimRequest is all the slim path keeps per input.
type slimRequest struct {
	orig *pdata.Message
}

// slimPData (parallel, await_ack: primary, no fallback, no timeout) sends a
// subscribed copy to every destination and remembers only the original, to
// answer upstream when the primary's outcome arrives. Outcomes of the other
// destinations are counted and need no state.
func (p *processor) slimPData(m *pdata.Message, fx engine.Effects) {
	slot, gen := p.slim.alloc()
	p.slim.at(slot).orig = m
	primaryFailed := false
	var failure pdata.Nack
	for d := range p.pl.dests {
		c := m.CloneDetached()
		p.holdCopy(c)
		fx.Subscribe(c, pdata.AcksAndNacks, callData(slot, gen, d))
		if _, err := p.put(fx, d, c, slot, gen); err != nil {
			p.m.dests[d].failed(p.m.dests[d].nacked)
			if d == p.pl.primary {
				primaryFailed, failure = true, p.sendFailure(d, err)
			}
		}
	}
	// Answered after the loop: m belongs to the engine once answered, and
	// the loop still copies it.
	if primaryFailed {
		p.slimAnswer(fx, slot, false, failure)
	}
}

// slimOutcome handles a destination's outcome on the slim path.
func (p *processor) slimOutcome(fx engine.Effects, slot, gen uint32, d int, ack bool, n pdata.Nack) {
	dm := &p.m.dests[d]
	if d == p.pl.primary {
		if _, ok := p.slim.lookup(slot, gen); !ok {
			dm.late.Inc()
			return
		}
	}
	if ack {
		dm.succeeded()
	} else {
		dm.failed(dm.nacked)
	}
	if d != p.pl.primary {
		return // best effort: does not decide the upstream outcome
	}
	if ack {
		p.slimAnswer(fx, slot, true, pdata.Nack{})
		return
	}
	p.slimAnswer(fx, slot, false, n.Wrap(p.pl.dests[d].prefix))
}

// slimAnswer answers upstream for the request at slot and forgets it.
func (p *processor) slimAnswer(fx engine.Effects, slot uint32, ack bool, n pdata.Nack) {
	r := p.slim.at(slot)
	orig := r.orig
	r.orig = nil
	p.slim.release(slot)
	if ack {
		p.m.upstreamAcks.Inc()
		fx.NotifyAck(orig)
		return
	}
	p.m.upstreamNack(n.Cause)
	fx.NotifyNack(orig, n)
}
