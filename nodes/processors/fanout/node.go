package fanout

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
)

// Type is the node type this package provides.
const Type = "processor:fanout"

// URN is the type's long form, as the reference engine names it.
const URN = "urn:otel:processor:fanout"

// Wakeup slots. One slot carries every destination timeout (armed at the
// earliest pending deadline); the other retries copies that found their
// output full.
const (
	slotTimeout wakeup.Slot = iota
	slotRetry
	numSlots
)

// NewFactory returns the factory of processor:fanout nodes.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Sends a copy of each input to several outputs: parallel or sequential, awaiting none, the primary or all, with fallbacks and exact timeouts.",
		decodeConfig, newProcessor)
	f.Guarantee = declareGuarantee
	// Copies and requests hold their leases while they may be read
	// (retainLeases); fire-and-forget pins them.
	f.ReleasesPayloads = true
	return f
}

func newProcessor(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
	log := nc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pl := newPlan(cfg)
	if pl.await == AwaitNone && pl.mode == ModeSequential {
		// Sequencing needs to see each destination's outcome, which
		// await_ack: none never does; the reference behaves the same.
		log.Warn("fanout: mode sequential has no effect with await_ack none: every destination is sent at once",
			"node", nc.Node.Name)
	}
	for _, d := range pl.stallsPrimary() {
		// Accepted, as in the reference engine, but almost surely not
		// meant: the primary waits for a destination that may never answer.
		log.Warn("fanout: in sequential mode the primary is sent only after this best-effort destination resolved, and it has no timeout: if it stays silent every input stalls; give it a timeout or list it after the primary",
			"node", nc.Node.Name, "destination", pl.dests[d].port, "primary", pl.dests[pl.primary].port)
	}
	return newCore(pl, newMetrics(nc.Metrics, nc.Labels, pl), log), nil
}

// processor is the fan-out's synchronous core. It is not safe for
// concurrent use: the engine calls it from the node goroutine only.
type processor struct {
	pl  *plan
	m   *metrics
	log *slog.Logger

	slim slab[slimRequest] // pathSlim
	full slab[request]     // pathFull

	// backlog holds, per destination, subscribed copies that found the
	// output full, in send order.
	backlog    []fifo
	queued     int // copies in every backlog
	retry      wakeup.Arming
	retryDelay time.Duration

	dl deadlines

	// fullOwed counts the full path's requests whose upstream waits
	// (phaseOpen); trail lists the answered ones with copies left.
	fullOwed int
	trail    trail

	life      life
	throttled bool
	// wakeupsOff: the engine refused a wakeup because the node's outputs
	// closed, or the forced Shutdown came. No wakeup is armed any more;
	// deadlines are checked whenever the node runs.
	wakeupsOff bool
	// reportedActive and reportedTrailing are what the active_requests and
	// trailing_requests gauges last got from this copy: the gauges move by
	// deltas because pipeline copies share them.
	reportedActive, reportedTrailing int64

	// held maps each copy whose payload has leases to those it retained
	// (holdCopy): what a node below does to the copy's payload does not
	// change what the copy gives back.
	held map[*pdata.Message]pdata.Leases
}

// life is where the node stands in its shutdown. It only moves forward.
type life uint8

const (
	// lifeRunning: taking inputs.
	lifeRunning life = iota
	// lifeClosing: Shutdown handled. The node resolves what its senders
	// still wait for; an answered input is no longer tracked, and a copy
	// waiting for room is kept only if an unanswered input needs it.
	lifeClosing
	// lifeStopped: the forced Shutdown handled; nothing is tracked.
	lifeStopped
)

var lifeNames = [...]string{"running", "closing", "stopped"}

func (l life) String() string {
	if int(l) < len(lifeNames) {
		return lifeNames[l]
	}
	return fmt.Sprintf("life(%d)", uint8(l))
}

var (
	_ engine.Processor      = (*processor)(nil)
	_ engine.Gate           = (*processor)(nil)
	_ engine.Drainer        = (*processor)(nil)
	_ engine.WakeupUser     = (*processor)(nil)
	_ engine.StatusReporter = (*processor)(nil)
)

func newCore(pl *plan, m *metrics, log *slog.Logger) *processor {
	p := &processor{
		pl:         pl,
		m:          m,
		log:        log,
		backlog:    make([]fifo, len(pl.dests)),
		retryDelay: backlogRetryMin,
		retry:      wakeup.Arming{Slot: slotRetry},
		held:       map[*pdata.Message]pdata.Leases{},
	}
	p.dl.init(len(pl.dests))
	p.trail.init()
	return p
}

// Status implements engine.StatusReporter: each destination's copies
// and its health (failures since its last ack). It reads only atomics, so
// it is safe from any goroutine.
func (p *processor) Status() map[string]any {
	dests := make([]any, len(p.pl.dests))
	for d, dp := range p.pl.dests {
		dm := &p.m.dests[d]
		health := "ok"
		if n := dm.failStreak.Load(); n > 0 {
			health = fmt.Sprintf("failing: %d failures since its last ack", n)
		}
		dests[d] = map[string]any{
			"port": dp.port, "health": health,
			"sent": dm.sent.Value(), "acked": dm.acked.Value(), "nacked": dm.nacked.Value(),
			"timed_out": dm.timedOut.Value(), "queued": dm.queued.Value(),
		}
	}
	return map[string]any{"destinations": dests}
}

// WakeupSlots implements engine.WakeupUser.
func (p *processor) WakeupSlots() int {
	if p.pl.path == pathFireAndForget {
		return 0
	}
	return int(numSlots)
}

// AcceptPData implements engine.Gate: false while max_inflight inputs
// wait for their answer, or max_inflight copies wait for room on their
// outputs. Answered inputs whose copies are still tracked (the trail) do
// not count: a slow best-effort destination never pauses intake. Intake
// pauses; nothing is nacked for it.
func (p *processor) AcceptPData() bool {
	if p.pl.path == pathFireAndForget {
		return true
	}
	return p.owed() < p.pl.maxInflight && p.queued < p.pl.maxInflight
}

// Pending implements engine.Drainer: the inputs whose sender still waits,
// plus the copies waiting for room. After Shutdown, between two calls,
// nothing answered is tracked and every backlog is empty or starts with a
// copy an unanswered input needs (settleClosing), so Pending is zero
// exactly when nothing is owed upstream: answered inputs and their
// best-effort copies never hold a drain, and the outputs stay open as long
// as an answer is owed.
func (p *processor) Pending() int { return p.owed() + p.queued }

// owed is the number of inputs whose sender waits for the answer.
func (p *processor) owed() int { return p.slim.live + p.fullOwed }

// OnPData implements engine.Processor.
func (p *processor) OnPData(m *pdata.Message, fx engine.Effects) error {
	// The engine's inbox (engine.Inbox) delivers no pdata after Shutdown.
	if p.queued > 0 {
		p.flush(fx) // older copies first, so each output keeps input order
	}
	switch p.pl.path {
	case pathFireAndForget:
		p.fireAndForget(m, fx)
	case pathSlim:
		p.slimPData(m, fx)
	default:
		p.fullPData(m, fx)
	}
	return p.settle(fx)
}

// OnControl implements engine.Processor.
func (p *processor) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindAck, engine.KindNack:
		// Whatever the request's state, nothing reads this copy any more.
		p.letGo(c.Msg)
		if p.dl.count > 0 {
			// An answer that comes after its destination's deadline but
			// before the timeout wakeup is late: expire first.
			p.expire(fx, fx.Now())
		}
		if p.queued > 0 {
			p.flush(fx) // an outcome often means the output drained
		}
		p.outcome(c, fx)
	case engine.KindWakeup:
		p.onWakeup(c.Wakeup, fx)
	case engine.KindShutdown:
		if c.Forced {
			p.abandon(fx)
			return nil
		}
		if p.life == lifeRunning {
			p.beginShutdown(fx)
		}
	case engine.KindResume:
		// The fan-out never calls RequeueLater: data coming back this way
		// would be an engine bug, and failing loudly beats guessing.
		return fmt.Errorf("fanout: unexpected resume of %v", c.Msg)
	default:
		// Timer ticks and posts are never requested.
	}
	return p.settle(fx)
}

// outcome routes a destination's ack or nack to its path.
func (p *processor) outcome(c engine.Control, fx engine.Effects) {
	slot, gen, d, ok := decodeCallData(c.CallData, len(p.pl.dests))
	if !ok {
		p.log.Error("fanout: outcome with foreign call data ignored", "call_data", c.CallData)
		return
	}
	ack := c.Kind == engine.KindAck
	switch p.pl.path {
	case pathSlim:
		p.slimOutcome(fx, slot, gen, d, ack, c.Nack)
	case pathFull:
		p.fullOutcome(fx, slot, gen, d, ack, c.Nack)
	default:
		// Fire-and-forget subscribes to nothing.
	}
}

// onWakeup handles a due wakeup, ignoring deliveries of an older arming.
func (p *processor) onWakeup(due wakeup.Due, fx engine.Effects) {
	switch due.Slot {
	case slotTimeout:
		if !p.dl.wake.Fire(due) {
			return // stale: the slot was re-armed or cancelled since
		}
		p.dl.dirty = true
		p.expire(fx, fx.Now())
	case slotRetry:
		if !p.retry.Fire(due) {
			return
		}
		before := p.queued
		p.flush(fx)
		if p.queued > 0 && p.queued == before {
			p.retryDelay = min(2*p.retryDelay, backlogRetryMax)
		} else {
			p.retryDelay = backlogRetryMin
		}
	}
}

// settle runs after every call: deadlines that passed without their
// wakeup (control queued ahead of it, or wakeups dropped at shutdown) are
// expired, the trail is trimmed to its bound, the wakeups are aimed, and
// the throttle state is published.
func (p *processor) settle(fx engine.Effects) error {
	if p.dl.count > 0 {
		p.expire(fx, fx.Now())
	}
	if p.life == lifeClosing {
		p.settleClosing(fx)
	} else {
		p.trim(fx)
	}
	p.reportGauges()
	if err := p.aimTimeout(fx); err != nil {
		return err
	}
	switch {
	case p.queued > 0 && !p.retry.Armed():
		if err := p.arm(fx, &p.retry, fx.Now().Add(p.retryDelay)); err != nil {
			return err
		}
	case p.queued == 0 && p.retry.Armed():
		p.retry.Cancel(fx)
		p.retryDelay = backlogRetryMin
	}
	if t := !p.AcceptPData(); t != p.throttled {
		p.throttled = t
		if t {
			p.m.throttled.Add(1) // a delta: pipeline copies share the series
			p.m.throttleEpisodes.Inc()
		} else {
			p.m.throttled.Add(-1)
		}
	}
	return nil
}

// settleClosing keeps, after Shutdown, only what an unanswered input
// needs: answered inputs are dropped (their copies abandoned), and the
// backlogs lose the copies no unanswered input needs (flush discards them
// and sends what fits). A send failure in the flush may answer an input
// in turn, hence the loop; each round drops what the previous one
// answered, so it ends.
func (p *processor) settleClosing(fx engine.Effects) {
	for {
		p.trim(fx)
		if p.queued > 0 {
			p.flush(fx)
		}
		if p.trail.count == 0 {
			return
		}
	}
}

// reportGauges moves the active_requests and trailing_requests gauges to
// this copy's counts.
func (p *processor) reportGauges() {
	n, t := int64(p.owed()), int64(p.trail.count)
	p.m.active.Add(n - p.reportedActive)
	p.m.trailing.Add(t - p.reportedTrailing)
	p.reportedActive, p.reportedTrailing = n, t
}

// arm aims w at when. When the engine is
// shutting down (wakeups are dropped), the node switches to checking
// deadlines whenever it runs.
func (p *processor) arm(fx engine.Effects, w *wakeup.Arming, when time.Time) error {
	if p.wakeupsOff {
		return nil
	}
	switch err := w.Aim(fx, when); {
	case err == nil:
		return nil
	case errors.Is(err, wakeup.ErrShuttingDown):
		p.wakeupsOff = true
		return nil
	default:
		return fmt.Errorf("fanout: arm wakeup slot %d at %s: %w", w.Slot, when.Format(time.RFC3339Nano), err)
	}
}

// put sends c to destination d without waiting, or queues it behind the
// copies already waiting for that output. queued reports the latter; an
// error (closed output) leaves c with the caller as a failed send.
func (p *processor) put(fx engine.Effects, d int, c *pdata.Message, slot, gen uint32) (queued bool, err error) {
	q := &p.backlog[d]
	if q.len() == 0 {
		err := fx.TrySendTo(p.pl.dests[d].port, c)
		switch {
		case err == nil:
			p.m.dests[d].sent.Inc()
			return false, nil
		case !errors.Is(err, engine.ErrFull):
			p.letGo(c) // never sent
			return false, err
		}
	}
	q.push(waiting{m: c, slot: slot, gen: gen})
	p.queued++
	p.m.dests[d].queued.Add(1)
	return true, nil
}

// flush sends waiting copies while their outputs have room.
func (p *processor) flush(fx engine.Effects) {
	for d := range p.backlog {
		q := &p.backlog[d]
		for q.len() > 0 {
			w := q.front()
			if !p.waitingLive(d, w) {
				p.discard(d)
				continue
			}
			err := fx.TrySendTo(p.pl.dests[d].port, w.m)
			if errors.Is(err, engine.ErrFull) {
				break
			}
			p.dequeue(d)
			p.unqueued(fx, d, w, err)
		}
	}
}

func (p *processor) dequeue(d int) {
	p.backlog[d].pop()
	p.queued--
	p.m.dests[d].queued.Add(-1)
}

// discard removes the front copy of d's backlog, no longer wanted. A full
// path copy was counted when its state left destQueued; a slim path copy
// is unwanted only after Shutdown, and counted here.
func (p *processor) discard(d int) {
	p.letGo(p.backlog[d].front().m) // never sent
	p.dequeue(d)
	if p.pl.path == pathSlim {
		p.m.dests[d].skipped[skipShutdown].Inc()
	}
}

// waitingLive reports whether a waiting copy is still wanted. On the full
// path its destination may have timed out, or its request been dropped,
// meanwhile. On the slim path the copies to destinations other than the
// primary are best effort: after Shutdown they are not kept waiting.
func (p *processor) waitingLive(d int, w waiting) bool {
	switch p.pl.path {
	case pathFull:
		r, ok := p.full.lookup(w.slot, w.gen)
		return ok && r.dests[d].state == destQueued
	case pathSlim:
		return d == p.pl.primary || p.life == lifeRunning
	default:
		return true
	}
}

// unqueued records the result of sending a copy taken from the backlog.
func (p *processor) unqueued(fx engine.Effects, d int, w waiting, err error) {
	if err != nil {
		p.letGo(w.m) // never sent
	}
	if err == nil {
		p.m.dests[d].sent.Inc()
		if p.pl.path == pathFull {
			p.delivered(w.slot, d)
		}
		return
	}
	p.m.dests[d].failed(p.m.dests[d].nacked)
	nack := p.sendFailure(d, err)
	switch p.pl.path {
	case pathSlim:
		if d == p.pl.primary {
			p.slimAnswer(fx, w.slot, false, nack)
		}
	case pathFull:
		p.fail(fx, w.slot, d, destNacked, nack)
		p.maybeFinish(fx, w.slot)
	}
}

// sendFailure is the failure recorded when destination d's output refused
// a copy.
func (p *processor) sendFailure(d int, err error) pdata.Nack {
	cause := pdata.CauseUnspecified
	switch {
	case errors.Is(err, engine.ErrClosed), errors.Is(err, engine.ErrUnknownPort):
		cause = pdata.CauseRouteClosed
	case errors.Is(err, engine.ErrAborted):
		cause = pdata.CauseNodeShutdown
	case errors.Is(err, engine.ErrFull):
		cause = pdata.CauseRouteFull
	}
	return pdata.Nack{Reason: p.pl.dests[d].prefix + ": send: " + err.Error(), Cause: cause}
}

// beginShutdown handles the (unforced) Shutdown: the input is drained.
// Every waiting copy gets one more try without waiting; then the node
// closes (lifeClosing): settle drops the answered inputs, with their
// best-effort copies, and the waiting copies no unanswered input needs.
// The engine keeps the outputs open and the wakeups live while Pending is
// above zero, so what is owed keeps resolving: timeouts fire, fallbacks
// and next destinations are still sent, copies waiting for room are
// retried, until nothing is owed or the forced Shutdown comes.
func (p *processor) beginShutdown(fx engine.Effects) {
	if p.queued > 0 {
		p.flush(fx)
	}
	p.life = lifeClosing
	if p.dl.count > 0 {
		p.expire(fx, fx.Now())
	}
}

// abandon handles the forced Shutdown (the deadline): every tracked input
// still awaiting its outcome is nacked upstream with cause node_shutdown,
// every copy not sent yet is counted as skipped and every copy in flight
// as abandoned. Afterwards nothing is tracked.
func (p *processor) abandon(fx engine.Effects) {
	p.life, p.wakeupsOff = lifeStopped, true
	for d := range p.backlog {
		for p.backlog[d].len() > 0 {
			p.abandonWaiting(fx, d)
		}
	}
	p.slim.each(func(slot uint32) {
		// Copies waiting were answered above: the primary's copy is out.
		p.m.dests[p.pl.primary].abandoned[dropShutdown].Inc()
		p.slimAnswer(fx, slot, false, shutdownNack)
	})
	p.full.each(func(slot uint32) { p.drop(fx, slot, dropShutdown) })
	p.reportGauges()
	p.retry.Forget()
	p.dl.wake.Forget()
	if p.throttled {
		p.throttled = false
		p.m.throttled.Add(-1)
	}
}

// abandonWaiting removes the front copy of d's backlog at the forced
// Shutdown and counts it as skipped. A slim primary copy decides its
// input, which is answered here.
func (p *processor) abandonWaiting(fx engine.Effects, d int) {
	w := p.backlog[d].front()
	if !p.waitingLive(d, w) {
		p.discard(d)
		return
	}
	p.dequeue(d)
	p.letGo(w.m) // never sent
	switch {
	case p.pl.path == pathFull:
		p.skip(w.slot, d, skipShutdown)
	case p.pl.path == pathSlim && d == p.pl.primary:
		p.m.dests[d].skipped[skipShutdown].Inc()
		p.slimAnswer(fx, w.slot, false, shutdownNack)
	default:
		p.m.dests[d].skipped[skipShutdown].Inc()
	}
}

// retainLeases holds m's payload leases (pdata.Lease) for a request, or
// pins them, and returns them. With the copies' holds (holdCopy) it makes
// processor:fanout read no bytes after its answer that it does not hold
// (engine.Factory.ReleasesPayloads).
func retainLeases(m *pdata.Message) pdata.Leases {
	ls := m.Payload().Leases()
	ls.Retain()
	return ls
}

// holdCopy retains the leases of copy c's payload until letGo(c): its
// outcome comes back, or it is known never to have left, whatever happened
// to its request meanwhile (answered, timed out, dropped from the trail).
func (p *processor) holdCopy(c *pdata.Message) {
	if ls := retainLeases(c); len(ls) > 0 {
		p.held[c] = ls
	}
}

// letGo releases what holdCopy retained for c, once.
func (p *processor) letGo(c *pdata.Message) {
	if ls, ok := p.held[c]; ok {
		delete(p.held, c)
		ls.Release()
	}
}

// callData encodes (request index, generation, destination) in a copy's
// frame, so that its outcome is matched without looking at the payload.
func callData(slot, gen uint32, d int) pdata.CallData {
	return pdata.CallData{uint64(slot), uint64(gen), uint64(d)}
}

func decodeCallData(cd pdata.CallData, dests int) (slot, gen uint32, d int, ok bool) {
	if cd[0] > 0xFFFFFFFF || cd[1] > 0xFFFFFFFF || cd[2] >= uint64(dests) {
		return 0, 0, 0, false
	}
	return uint32(cd[0]), uint32(cd[1]), int(cd[2]), true
}
