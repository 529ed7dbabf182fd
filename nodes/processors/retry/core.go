package retry

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
)

// interests is the node's subscription on everything it sends. ReturnData
// makes the payload come back with a nack (and every frame pushed below
// inherits it), so the data can be sent again without a copy held here.
const interests = pdata.Acks | pdata.Nacks | pdata.ReturnData

// attempt is what the node's frame carries in its call data: which send of
// the data this is and when the first one was made. Because it travels with
// the message, the node keeps no per-message state.
type attempt struct {
	n     uint64    // 1 for the first send, n+1 for retry n
	first time.Time // when the first send was made
}

// callData encodes a as the frame's words: {n, first in Unix nanoseconds, 0}.
func (a attempt) callData() pdata.CallData {
	return pdata.CallData{a.n, uint64(a.first.UnixNano()), 0}
}

// attemptFrom decodes the words written by callData.
func attemptFrom(cd pdata.CallData) attempt {
	// max: a zero count can only be a frame this node did not write; read
	// it as a first attempt rather than underflow the retry number.
	return attempt{n: max(cd[0], 1), first: time.Unix(0, int64(cd[1]))}
}

// tried says what was tried, for nack reasons: "after 3 attempts over 2.5s".
func tried(sends uint64, elapsed time.Duration) string {
	unit := "attempts"
	if sends == 1 {
		unit = "attempt"
	}
	return "after " + strconv.FormatUint(sends, 10) + " " + unit + " over " + max(elapsed, 0).Round(time.Millisecond).String()
}

// state is where the node is in its life. It only moves forward.
type state uint8

const (
	// stateRunning: forwarding, retrying transient nacks.
	stateRunning state = iota
	// stateDraining: Shutdown handled. Retries go on while they fall
	// before the shutdown deadline; one that would not is answered at
	// once.
	stateDraining
	// stateStopped: the forced Shutdown (the deadline) handled; nothing is
	// parked and no retry is made.
	stateStopped
)

var stateNames = [...]string{"running", "draining", "stopped"}

func (s state) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// slotRetry is the node's one wakeup slot, aimed at its earliest retry.
const slotRetry wakeup.Slot = 0

// processor is the retry state machine. The data in flight is held by the
// nodes downstream and its retry state travels in the node's frames; the
// data waiting for a retry is parked here, in a min-heap by retry time,
// with one wakeup aimed at the earliest.
//
// It is not safe for concurrent use; the node goroutine owns it.
type processor struct {
	pol   policy
	rng   *rand.Rand // jitter; see newRand
	m     *metrics
	log   *slog.Logger
	state state

	inFlight int           // sent, outcome not yet received
	parked   parkedQueue   // waiting for their retry
	wake     wakeup.Arming // of slotRetry
	// deadline is the shutdown deadline, from Shutdown (zero: none known).
	deadline  time.Time
	throttled bool
}

var (
	_ engine.Processor  = (*processor)(nil)
	_ engine.Drainer    = (*processor)(nil)
	_ engine.Gate       = (*processor)(nil)
	_ engine.WakeupUser = (*processor)(nil)
)

func newCore(pol policy, rng *rand.Rand, m *metrics, log *slog.Logger) *processor {
	return &processor{pol: pol, rng: rng, m: m, log: log, wake: wakeup.Arming{Slot: slotRetry}}
}

// Pending implements engine.Drainer: the messages whose outcome this node
// still has to give upstream, in flight or parked. While it is above zero
// after Shutdown the engine keeps the outputs open and the wakeup live, so
// parked messages are still retried and outcomes still routed.
func (p *processor) Pending() int { return p.inFlight + p.parked.Len() }

// AcceptPData implements engine.Gate: any message sent may come back for a
// retry, so the node admits no more than it can park: intake pauses while
// the messages in flight plus those parked reach max_parked. Parking
// therefore never fails for room, and nothing is nacked for the limit.
func (p *processor) AcceptPData() bool { return p.Pending() < p.pol.maxParked }

// WakeupSlots implements engine.WakeupUser: one slot, at the earliest
// parked retry.
func (p *processor) WakeupSlots() int { return 1 }

// OnPData sends m with the node's frame for a first attempt.
func (p *processor) OnPData(m *pdata.Message, fx engine.Effects) error {
	a := attempt{n: 1, first: fx.Now()}
	fx.Subscribe(m, interests, a.callData())
	p.forward(m, a, fx)
	return p.settle(fx)
}

// OnControl handles outcomes, the retry wakeup and shutdown. Timer ticks
// and posts are never requested and are ignored.
func (p *processor) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindAck:
		p.onAck(c, fx)
	case engine.KindNack:
		p.onNack(c, fx)
	case engine.KindWakeup:
		p.onWakeup(c.Wakeup, fx)
	case engine.KindShutdown:
		p.onShutdown(c, fx)
	case engine.KindResume:
		return p.onResume(c, fx)
	default:
		p.log.Debug("retry: ignored control message", "kind", c.Kind)
	}
	return p.settle(fx)
}

// settle runs after every call: the wakeup is aimed at the earliest
// parked retry and the throttle state is published.
func (p *processor) settle(fx engine.Effects) error {
	if err := p.aim(fx); err != nil {
		return err
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

// forward sends m, whose top frame is the node's frame for attempt a.
func (p *processor) forward(m *pdata.Message, a attempt, fx engine.Effects) {
	if err := fx.Send(m); err != nil {
		p.sendFailed(m, a, err, fx)
		return
	}
	p.inFlight++
	p.m.inFlight.Add(1)
}

// sendFailed answers upstream for data the node could not send.
func (p *processor) sendFailed(m *pdata.Message, a attempt, err error, fx engine.Effects) {
	// The node's own frame is on top: pop it, or NotifyNack would route the
	// nack back to this node as if downstream had refused the data, and a
	// closed output would be retried.
	m.Unwind(pdata.Nacks)
	cause := pdata.CauseUnspecified
	switch {
	case errors.Is(err, engine.ErrClosed):
		cause = pdata.CauseRouteClosed
	case errors.Is(err, engine.ErrFull):
		cause = pdata.CauseRouteFull
	case errors.Is(err, engine.ErrAborted):
		cause = pdata.CauseNodeShutdown
	}
	reason := "retry: not sent: " + err.Error()
	if a.n > 1 {
		reason = fmt.Sprintf("retry: retry %d not sent %s: %v", a.n-1, tried(a.n-1, fx.Now().Sub(a.first)), err)
	}
	p.giveUp(m, giveUpSendFailed, pdata.Nack{Reason: reason, Cause: cause}, fx)
}

func (p *processor) onAck(c engine.Control, fx engine.Effects) {
	p.outcomeReceived()
	if attemptFrom(c.CallData).n > 1 {
		p.m.recovered.Inc()
	}
	fx.NotifyAck(c.Msg)
}

// onNack decides between passing the nack upstream and a retry. The order
// of the checks is the order of their authority: downstream's "never",
// then the data being gone, then the node's life, then the limits.
func (p *processor) onNack(c engine.Control, fx engine.Effects) {
	p.outcomeReceived()
	a := attemptFrom(c.CallData)
	now := fx.Now()
	elapsed := now.Sub(a.first)
	n := c.Nack
	// what describes the attempts for a nack reason; only built when the
	// node gives up, so that a retry costs no formatting.
	what := func() string { return tried(a.n, elapsed) }
	switch {
	case n.Permanent:
		p.giveUp(c.Msg, giveUpPermanent, n.Wrap("retry: permanent failure, not retried "+what()), fx)
		return
	case c.Msg.Payload() == nil:
		// Only a frame below this one that did not inherit ReturnData can
		// have dropped it; nothing is left to resend.
		p.giveUp(c.Msg, giveUpNoPayload, n.Wrap("retry: data not returned with the nack, cannot retry "+what()), fx)
		return
	case p.state == stateStopped:
		p.giveUpShutdown(c.Msg, n, "retry: shutting down, not retried "+what(), fx)
		return
	case p.pol.maxRetries > 0 && a.n > p.pol.maxRetries:
		p.giveUp(c.Msg, giveUpMaxRetries,
			n.Wrap(fmt.Sprintf("retry: gave up %s (max_retries %d)", what(), p.pol.maxRetries)), fx)
		return
	}
	delay := p.pol.delay(a.n, p.rng.Float64())
	// Written as a subtraction so that a huge delay cannot overflow.
	if p.pol.maxElapsed > 0 && delay > p.pol.maxElapsed-elapsed {
		p.giveUp(c.Msg, giveUpMaxElapsed, n.Wrap(fmt.Sprintf(
			"retry: gave up %s (the next retry, in %s, would pass max_elapsed_time %s)",
			what(), delay.Round(time.Millisecond), p.pol.maxElapsed)), fx)
		return
	}
	at := now.Add(delay)
	if p.afterDeadline(at) {
		p.giveUpShutdown(c.Msg, n, fmt.Sprintf(
			"retry: shutting down, not retried %s (the next retry, in %s, would come after the shutdown deadline)",
			what(), delay.Round(time.Millisecond)), fx)
		return
	}
	// The message is parked without the node's frame: the frame for the
	// retry is pushed when it is sent, so a give-up while parked needs no
	// unwinding. The gate keeps in flight plus parked within max_parked,
	// and this message was in flight: there is always room.
	p.parked.park(c.Msg, at, attempt{n: a.n + 1, first: a.first}, n)
	p.m.parked.Add(1)
	p.m.retry(a.n)
}

// afterDeadline reports whether a retry at at would come too late: during
// the drain, at or after the shutdown deadline, when the forced Shutdown
// comes first.
func (p *processor) afterDeadline(at time.Time) bool {
	return p.state == stateDraining && !p.deadline.IsZero() && !at.Before(p.deadline)
}

// onWakeup sends every parked message whose retry is due, ignoring a
// delivery of an older arming.
func (p *processor) onWakeup(due wakeup.Due, fx engine.Effects) {
	if !p.wake.Fire(due) {
		return // stale: re-armed or cancelled since
	}
	now := fx.Now()
	for {
		e, ok := p.parked.popDue(now)
		if !ok {
			return
		}
		p.m.parked.Add(-1)
		p.m.resumed.Inc()
		fx.Subscribe(e.m, interests, e.next.callData())
		p.forward(e.m, e.next, fx)
	}
}

// aim points the wakeup at the earliest parked retry, or cancels it when
// nothing is parked.
func (p *processor) aim(fx engine.Effects) error {
	at, ok := p.parked.next()
	if !ok {
		p.wake.Cancel(fx)
		return nil
	}
	switch err := p.wake.Aim(fx, at); {
	case err == nil:
		return nil
	case errors.Is(err, wakeup.ErrShuttingDown):
		// The engine drops wakeups once the node's outputs closed, which
		// it does only when nothing is pending; should it happen anyway,
		// answer the parked messages rather than hold them forever.
		p.unparkAll(fx, "the engine refused the retry wakeup: the node is shutting down")
		return nil
	default:
		return fmt.Errorf("retry: arm the retry wakeup at %s: %w", at.Format(time.RFC3339Nano), err)
	}
}

// onShutdown handles Shutdown and the forced Shutdown.
//
// Shutdown (the input is drained): the parked messages keep their
// schedule while it falls before the deadline, so a drain still retries;
// those due at or after it are answered at once (cause node_shutdown), as
// is, from now on, a transient failure whose retry would come after it.
// The node stays pending, with its outputs open and its wakeup live,
// until every message is answered.
//
// The forced Shutdown (the deadline): every parked message is answered
// with cause node_shutdown. What is in flight belongs to the nodes
// downstream, whose answers are still routed.
func (p *processor) onShutdown(c engine.Control, fx engine.Effects) {
	if c.Forced {
		p.stop(fx)
		return
	}
	if p.state != stateRunning {
		return
	}
	p.state, p.deadline = stateDraining, c.Deadline
	if p.deadline.IsZero() {
		return
	}
	now := fx.Now()
	for _, e := range p.parked.removeFrom(p.deadline) {
		p.unparked(fx, e, fmt.Sprintf("retry: shutting down, not retried %s (the next retry, in %s, would come after the shutdown deadline)",
			tried(e.next.n-1, now.Sub(e.next.first)), e.at.Sub(now).Round(time.Millisecond)))
	}
}

// stop handles the forced Shutdown.
func (p *processor) stop(fx engine.Effects) {
	if p.state == stateStopped {
		return
	}
	p.state = stateStopped
	p.unparkAll(fx, "shutdown deadline reached")
	if p.inFlight > 0 {
		// The data is downstream, whose nodes answer it at their own forced
		// shutdown; those answers are still routed if they reach this node.
		p.log.Warn("retry: shutdown deadline reached with outcomes outstanding", "in_flight", p.inFlight)
	}
}

// unparkAll answers every parked message with cause node_shutdown; why
// says what stopped the retries.
func (p *processor) unparkAll(fx engine.Effects, why string) {
	now := fx.Now()
	for _, e := range p.parked.removeAll() {
		p.unparked(fx, e, fmt.Sprintf("retry: %s while waiting for retry %d, %s",
			why, e.next.n-1, tried(e.next.n-1, now.Sub(e.next.first))))
	}
}

// unparked answers a message taken out of the parked queue without a
// retry: the only way a parked message leaves other than by its retry.
// prefix starts the nack reason; downstream's last reason follows it.
func (p *processor) unparked(fx engine.Effects, e parked, prefix string) {
	p.m.parked.Add(-1)
	p.giveUpShutdown(e.m, e.last, prefix, fx)
}

// giveUpShutdown answers a transient failure that can no longer be retried
// because the node is shutting down: downstream's nack, with prefix, and
// cause node_shutdown.
func (p *processor) giveUpShutdown(m *pdata.Message, n pdata.Nack, prefix string, fx engine.Effects) {
	n = n.Wrap(prefix)
	n.Cause = pdata.CauseNodeShutdown
	p.giveUp(m, giveUpShutdown, n, fx)
}

// giveUp is the only way data leaves the node as a nack.
func (p *processor) giveUp(m *pdata.Message, why giveUp, n pdata.Nack, fx engine.Effects) {
	p.m.gaveUp[why].Inc()
	p.log.Debug("retry: nacked upstream", "reason", why.String(), "cause", n.Cause.String(), "nack", n.Reason)
	fx.NotifyNack(m, n)
}

// onResume: the node never calls RequeueLater, so a resume would be an
// engine bug. The data is answered (it is not lost) and the node fails
// loudly.
func (p *processor) onResume(c engine.Control, fx engine.Effects) error {
	fx.NotifyNack(c.Msg, pdata.Nack{Reason: "retry: unexpected resume: the node never requeues data"})
	return fmt.Errorf("retry: unexpected resume of %v", c.Msg)
}

func (p *processor) outcomeReceived() {
	if p.inFlight > 0 {
		p.inFlight--
		p.m.inFlight.Add(-1)
	}
}
