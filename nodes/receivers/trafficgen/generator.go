package trafficgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// stopReason says why generation ended.
type stopReason uint8

const (
	running     stopReason = iota // not stopped
	stopLimit                     // max_signal_count reached
	stopDrain                     // the engine started the drain (ctx cancelled)
	stopAborted                   // the shutdown deadline passed
	stopFailed                    // a send failed for another reason
)

var stopNames = [...]string{"running", "max_signal_count reached", "drain", "shutdown deadline", "send failed"}

// String says why generation ended, for the final log line.
func (r stopReason) String() string {
	if int(r) < len(stopNames) {
		return stopNames[r]
	}
	return fmt.Sprintf("stopReason(%d)", uint8(r))
}

// generator is the traffic generator receiver. Run's goroutine owns the
// plan, the pool and the pacing; OnOutcome may run on any goroutine at the
// same time and touches only the atomic and channel fields below.
type generator struct {
	name string
	s    settings
	pool *pool
	plan *plan
	clk  clock.Clock
	log  *slog.Logger
	m    *metrics

	// Run goroutine only.
	timer        clock.Timer // pacing; created on first use
	pace         *pacer      // nil: as fast as possible
	sentItems    uint64
	sentMessages uint64

	// Shared with OnOutcome (enable_ack_nack only).
	slots       chan struct{} // holds one token per message awaiting its outcome: a counting semaphore of max_inflight
	idle        chan struct{} // 1-buffered: signalled when outstanding drops to 0
	outstanding atomic.Int64  // messages awaiting their outcome
	acked       atomic.Uint64 // items, for the final log line
	nacked      atomic.Uint64
	nackLogged  atomic.Bool // the first nack is logged, later ones only counted
}

var _ engine.Receiver = (*generator)(nil)

func newGenerator(name string, s settings, p *pool, clk clock.Clock, log *slog.Logger, m *metrics) *generator {
	g := &generator{name: name, s: s, pool: p, plan: newPlan(s), clk: clk, log: log, m: m}
	if s.ackNack {
		g.slots = make(chan struct{}, s.inflight)
		g.idle = make(chan struct{}, 1)
	}
	return g
}

// Run generates until max_signal_count is reached, the drain starts (ctx
// cancelled) or a send fails; then, with enable_ack_nack, it waits for the
// outcome of every message it sent, and returns. When fx.Aborted() closes
// it returns at once. Run is called once per generator.
func (g *generator) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	if g.s.rate > 0 {
		g.pace = &pacer{rate: g.s.rate, maxLag: g.s.maxLag, start: g.clk.Now(), open: g.s.open}
	}
	stop, err := running, error(nil)
	for stop == running {
		stop, err = g.step(ctx, fx)
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.s.ackNack && stop != stopAborted && !g.awaitOutcomes(fx.Aborted()) {
		stop = stopAborted
	}
	g.logSummary(stop)
	return err
}

// step sends one message, after waiting for its time (signals_per_second)
// and for room among the messages in flight (enable_ack_nack). It returns
// running to go on, or why generation ended.
func (g *generator) step(ctx context.Context, fx engine.ReceiverEffects) (stopReason, error) {
	if ctx.Err() != nil {
		return stopDrain, nil
	}
	sig, n, ok := g.plan.next()
	if !ok {
		return stopLimit, nil
	}
	if r := g.awaitTurn(ctx, fx); r != running {
		return r, nil
	}
	if g.s.ackNack {
		if r := g.acquire(ctx, fx); r != running {
			return r, nil
		}
	}
	var now time.Time
	if g.s.fresh {
		now = g.clk.Now() // the time a fresh payload carries
	}
	p, err := g.pool.get(sig, n, now)
	if err != nil {
		g.settleLocal()
		return stopFailed, fmt.Errorf("%s %q: %w", Type, g.name, err)
	}
	m := pdata.New(p)
	if g.s.ackNack {
		// The signal rides in the frame so that outcomes are counted by
		// signal even though the payload does not come back.
		fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{uint64(sig)})
	}
	if err := fx.Send(ctx, m); err != nil {
		g.settleLocal()
		switch {
		case errors.Is(err, engine.ErrAborted):
			return stopAborted, nil
		case ctx.Err() != nil:
			return stopDrain, nil
		default:
			return stopFailed, fmt.Errorf("%s %q: send %d %s: %w", Type, g.name, n, sig, err)
		}
	}
	if g.pace != nil {
		g.pace.release(n)
	}
	g.sentItems += uint64(n)
	g.sentMessages++
	g.m.sentItems[sig].Add(uint64(n))
	g.m.sentMessages[sig].Inc()
	return running, nil
}

// awaitTurn waits until the pacer lets the next message go. It asks the
// pacer again after each wait, so that a wake-up far past the deadline (a
// stall) moves the schedule up instead of releasing a burst.
func (g *generator) awaitTurn(ctx context.Context, fx engine.ReceiverEffects) stopReason {
	if g.pace == nil {
		return running
	}
	for {
		now := g.clk.Now()
		d := g.pace.due(now).Sub(now)
		if d <= 0 {
			return running
		}
		if r := g.sleep(ctx, fx, d); r != running {
			return r
		}
	}
}

// sleep blocks for d on the node's clock.
func (g *generator) sleep(ctx context.Context, fx engine.ReceiverEffects, d time.Duration) stopReason {
	if g.timer == nil {
		g.timer = g.clk.NewTimer(d)
	} else {
		g.timer.Reset(d)
	}
	select {
	case <-g.timer.C():
		return running
	case <-ctx.Done():
		return stopDrain
	case <-fx.Aborted():
		return stopAborted
	}
}

// acquire takes a slot among the max_inflight messages that may await
// their outcome, blocking while all are taken.
func (g *generator) acquire(ctx context.Context, fx engine.ReceiverEffects) stopReason {
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return stopDrain
	case <-fx.Aborted():
		return stopAborted
	}
	g.outstanding.Add(1)
	g.m.inFlight.Add(1)
	return running
}

// settleLocal gives back the slot of a message that was never sent.
func (g *generator) settleLocal() {
	if g.s.ackNack {
		g.settle()
	}
}

// settle gives back one slot. It never blocks: the caller's message holds
// a token, so the receive always finds one.
func (g *generator) settle() {
	select {
	case <-g.slots:
	default:
	}
	g.m.inFlight.Add(-1)
	if g.outstanding.Add(-1) == 0 {
		select {
		case g.idle <- struct{}{}:
		default: // a signal is already pending
		}
	}
}

// OnOutcome counts the ack or nack of a message sent with enable_ack_nack
// and frees its slot. It runs on the notifying goroutine and never blocks.
func (g *generator) OnOutcome(c engine.Control) {
	if c.Msg == nil || (c.Kind != engine.KindAck && c.Kind != engine.KindNack) {
		return
	}
	sig := pdata.Signal(c.CallData[0])
	if sig > pdata.Traces {
		sig = pdata.Logs // not a frame of ours; count it somewhere rather than panic
	}
	items := c.Msg.Items()
	if c.Kind == engine.KindAck {
		g.m.ackedItems[sig].Add(uint64(items))
		g.acked.Add(uint64(items))
	} else {
		g.m.nacked(sig, c.Nack.Cause, items)
		g.nacked.Add(uint64(items))
		if g.nackLogged.CompareAndSwap(false, true) {
			g.log.Warn("traffic generator: first nack (later ones are only counted)",
				"signal", sig.String(), "items", items, "nack", c.Nack.String())
		}
	}
	if g.s.ackNack {
		g.settle()
	}
}

// awaitOutcomes waits until every message sent has its outcome, or the
// deadline; it reports false at the deadline.
func (g *generator) awaitOutcomes(aborted <-chan struct{}) bool {
	for g.outstanding.Load() > 0 {
		select {
		case <-g.idle:
		case <-aborted:
			return false
		}
	}
	return true
}

func (g *generator) logSummary(stop stopReason) {
	attrs := []any{"reason", stop.String(), "sent_items", g.sentItems, "sent_messages", g.sentMessages}
	if g.s.ackNack {
		attrs = append(attrs, "acked_items", g.acked.Load(), "nacked_items", g.nacked.Load(),
			"unanswered_messages", g.outstanding.Load())
	}
	g.log.Info("traffic generator stopped", attrs...)
}
