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
	stateRunning  state = iota // forwarding, retrying transient nacks
	stateDraining              // Shutdown handled: no retry can be scheduled; outcomes are still routed
	stateStopped               // forced Shutdown: the deadline passed
)

var stateNames = [...]string{"running", "draining", "stopped"}

func (s state) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// processor is the retry state machine. It holds counters only: the data
// waiting for a retry is held by the engine (RequeueLater), the data in
// flight by the nodes downstream, and the retry state by the frames.
//
// It is not safe for concurrent use; the node goroutine owns it.
type processor struct {
	pol   policy
	rng   *rand.Rand // jitter; see newRand
	m     *metrics
	log   *slog.Logger
	state state

	inFlight   int // sent, outcome not yet received
	backingOff int // handed to RequeueLater, not yet resumed
}

var (
	_ engine.Processor = (*processor)(nil)
	_ engine.Drainer   = (*processor)(nil)
)

// Pending implements engine.Drainer: the messages whose outcome this node
// still has to route upstream. While it is above zero after Shutdown the
// engine keeps delivering their acks and nacks.
func (p *processor) Pending() int { return p.inFlight + p.backingOff }

// OnPData sends m with the node's frame for a first attempt.
func (p *processor) OnPData(m *pdata.Message, fx engine.Effects) error {
	a := attempt{n: 1, first: fx.Now()}
	fx.Subscribe(m, interests, a.callData())
	p.forward(m, a, fx)
	return nil
}

// OnControl handles outcomes, resumed data and shutdown. Other kinds are
// not expected (the node declares no wakeups and starts no timer) and are
// ignored.
func (p *processor) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindAck:
		p.onAck(c, fx)
	case engine.KindNack:
		p.onNack(c, fx)
	case engine.KindResume:
		p.onResume(c, fx)
	case engine.KindShutdown:
		p.onShutdown(c)
	default:
		p.log.Debug("retry: ignored control message", "kind", c.Kind)
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
	case p.state != stateRunning:
		p.giveUpShutdown(c.Msg, n, what(), fx)
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
	next := attempt{n: a.n + 1, first: a.first}
	// The frame must be pushed before RequeueLater: once the engine takes
	// the message this node may not touch it, and the resume carries no
	// call data of its own.
	fx.Subscribe(c.Msg, interests, next.callData())
	if err := fx.RequeueLater(now.Add(delay), c.Msg); err != nil {
		p.requeueRejected(c.Msg, n, what(), err, fx)
		return
	}
	p.backingOff++
	p.m.backoff.Add(1)
	p.m.retry(a.n)
}

// requeueRejected answers upstream for data the engine would not hold for
// a retry; the caller still owns m, with the node's new frame on top.
func (p *processor) requeueRejected(m *pdata.Message, n pdata.Nack, what string, err error, fx engine.Effects) {
	m.Unwind(pdata.Nacks) // the frame pushed for the retry that will not happen
	p.m.rejected.Inc()
	switch {
	case errors.Is(err, wakeup.ErrShuttingDown):
		p.giveUpShutdown(m, n, what, fx)
	case errors.Is(err, wakeup.ErrResumeCapacity):
		n = n.Wrap("retry: cannot schedule a retry, the delayed resume queue is full, " + what)
		n.Cause = pdata.CauseCapacity
		p.giveUp(m, giveUpRequeueRejected, n, fx)
	default:
		p.giveUp(m, giveUpRequeueRejected, n.Wrap(fmt.Sprintf("retry: cannot schedule a retry (%v), %s", err, what)), fx)
	}
}

// giveUpShutdown answers a transient nack that can no longer be retried
// because the node is shutting down.
func (p *processor) giveUpShutdown(m *pdata.Message, n pdata.Nack, what string, fx engine.Effects) {
	n = n.Wrap("retry: shutting down, not retried " + what)
	n.Cause = pdata.CauseNodeShutdown
	p.giveUp(m, giveUpShutdown, n, fx)
}

// giveUp is the only way data leaves the node as a nack.
func (p *processor) giveUp(m *pdata.Message, why giveUp, n pdata.Nack, fx engine.Effects) {
	p.m.gaveUp[why].Inc()
	p.log.Debug("retry: nacked upstream", "reason", why.String(), "cause", n.Cause.String(), "nack", n.Reason)
	fx.NotifyNack(m, n)
}

// onResume sends again data whose backoff has passed (or that the
// shutdown latch handed back early). Its attempt is in the node's frame,
// pushed by onNack.
func (p *processor) onResume(c engine.Control, fx engine.Effects) {
	if p.backingOff > 0 {
		p.backingOff--
		p.m.backoff.Add(-1)
	}
	p.m.resumed.Inc()
	if p.state == stateStopped {
		// After the forced Shutdown nothing can be sent: answer with the
		// shutdown cause. Pop our own frame first so the nack goes upstream.
		c.Msg.Unwind(pdata.Nacks)
		p.giveUpShutdown(c.Msg, pdata.Nack{Reason: "deadline reached while waiting for a retry"}, "", fx)
		return
	}
	top, _ := c.Msg.Top()
	p.forward(c.Msg, attemptFrom(top.CallData), fx)
}

func (p *processor) onShutdown(c engine.Control) {
	if !c.Forced {
		p.state = max(p.state, stateDraining)
		if p.backingOff > 0 {
			// The engine delivers pending resumes before Shutdown; if that
			// ever changes, the data is still the engine's, not lost here.
			p.log.Warn("retry: shutdown with retries not resumed", "count", p.backingOff)
		}
		return
	}
	if p.state != stateStopped && p.inFlight > 0 {
		// The data is downstream, whose nodes answer it at their own forced
		// shutdown; those answers are still routed if they reach this node.
		p.log.Warn("retry: shutdown deadline reached with outcomes outstanding", "in_flight", p.inFlight)
	}
	p.state = stateStopped
}

func (p *processor) outcomeReceived() {
	if p.inFlight > 0 {
		p.inFlight--
		p.m.inFlight.Add(-1)
	}
}
