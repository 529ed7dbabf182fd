package typerouter

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
)

// ProbeInterval is how often a message parked for a full output is
// offered again under backpressure, as in the reference engine.
const ProbeInterval = 200 * time.Millisecond

// probeSlot is the one wakeup slot: the next offer of the parked messages.
const probeSlot wakeup.Slot = 0

// held is a message parked for its full output (backpressure).
type held struct {
	m   *pdata.Message
	sig pdata.Signal
	r   route
}

// router routes by signal. It never subscribes to outcomes: what it
// forwards keeps its return route unchanged, and what it cannot forward it
// nacks at once (or, under backpressure, parks: at most one message per
// output).
//
// It is not safe for concurrent use; the node goroutine owns it.
type router struct {
	name          string
	onFull        OnFull
	defaultOutput string
	log           *slog.Logger
	met           *metrics

	routes     routes // resolved by Start from the connected ports
	selectable int    // distinct ports in routes

	parked []held          // backpressure: one per port at most, in arrival order
	armed  bool            // probeSlot is set, at revision rev
	rev    wakeup.Revision // of the live probeSlot wakeup
}

var (
	_ engine.Processor  = (*router)(nil)
	_ engine.Starter    = (*router)(nil)
	_ engine.Gate       = (*router)(nil)
	_ engine.Drainer    = (*router)(nil)
	_ engine.WakeupUser = (*router)(nil)
)

// Start resolves the routes from the connected ports and logs the signals
// that have none, whose messages will be nacked.
func (p *router) Start(fx engine.Effects) error {
	p.routes = resolveRoutes(fx.Ports(), p.defaultOutput)
	p.selectable = p.routes.selectable()
	for _, s := range pdata.Signals() {
		switch r := p.routes[s]; r.kind {
		case routeNone:
			p.log.Warn("type_router: a signal has no output; its messages will be nacked",
				"signal", s.String(), "missing_port", PortFor(s),
				"hint", "connect the port, or give the node a default_output")
		case routeDefault:
			p.log.Info("type_router: a signal goes to the default output",
				"signal", s.String(), "missing_port", PortFor(s), "port", r.port)
		}
	}
	return nil
}

// OnPData sends m on the port of its signal without waiting, or answers
// it upstream at once. Under backpressure a message whose output is full
// is parked, unless one already waits for that output.
func (p *router) OnPData(m *pdata.Message, fx engine.Effects) error {
	pl := m.Payload()
	if pl == nil { // the engine never delivers one; answer rather than panic
		fx.NotifyNack(m, pdata.Nack{Reason: fmt.Sprintf("type_router %q: message without data", p.name), Permanent: true})
		return nil
	}
	h := held{m: m, sig: pl.Signal(), r: p.routes[pl.Signal()]}
	switch {
	case h.r.kind == routeNone:
		p.met.record(h.sig, decNoRoute)
		fx.NotifyNack(m, pdata.Nack{
			Reason: fmt.Sprintf("type_router %q: no output for %s: port %q is not connected and the node has no default output",
				p.name, h.sig, PortFor(h.sig)),
			Permanent: true, Cause: pdata.CauseRouteClosed,
		})
	case p.onFull == Backpressure && p.isParked(h.r.port):
		p.refuse(h, fmt.Errorf("%w: a message already waits for room", engine.ErrFull), fx)
	default:
		err := fx.TrySendTo(h.r.port, m)
		switch {
		case err == nil:
			p.met.record(h.sig, h.r.kind.success())
		case errors.Is(err, engine.ErrFull) && p.onFull == Backpressure:
			p.park(h, fx)
		default:
			p.refuse(h, err, fx)
		}
	}
	return nil
}

// OnControl offers the parked messages again when the probe is due, and at
// Shutdown; at the forced Shutdown it nacks what is still parked.
func (p *router) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindWakeup:
		if c.Wakeup.Slot == probeSlot && p.armed && c.Wakeup.Revision == p.rev {
			p.armed = false
			p.probe(fx)
		}
	case engine.KindShutdown:
		if c.Forced {
			p.abandon(fx)
			return nil
		}
		// Pending keeps the outputs open and the probe alive while
		// anything is parked.
		p.probe(fx)
	}
	return nil
}

// AcceptPData closes the gate while every selectable output holds a
// parked message: any new message could only be parked or refused.
func (p *router) AcceptPData() bool {
	return len(p.parked) == 0 || len(p.parked) < p.selectable
}

// Pending is the number of parked messages.
func (p *router) Pending() int { return len(p.parked) }

// WakeupSlots is 1 under backpressure (the probe), else 0.
func (p *router) WakeupSlots() int {
	if p.onFull == Backpressure {
		return 1
	}
	return 0
}

// isParked reports whether a message waits for port.
func (p *router) isParked(port string) bool {
	for _, h := range p.parked {
		if h.r.port == port {
			return true
		}
	}
	return false
}

// park holds h until its output has room, and arms the probe.
func (p *router) park(h held, fx engine.Effects) {
	p.parked = append(p.parked, h)
	p.met.parked.Add(1)
	p.arm(fx)
}

// probe offers every parked message once: sent ones leave, those whose
// output is still full stay (and the probe is armed again), the others
// are refused.
func (p *router) probe(fx engine.Effects) {
	kept := p.parked[:0]
	for _, h := range p.parked {
		err := fx.TrySendTo(h.r.port, h.m)
		switch {
		case errors.Is(err, engine.ErrFull):
			kept = append(kept, h)
			continue
		case err == nil:
			p.met.record(h.sig, h.r.kind.success())
		default:
			p.refuse(h, err, fx)
		}
		p.met.parked.Add(-1)
	}
	clear(p.parked[len(kept):])
	p.parked = kept
	p.arm(fx)
}

// arm sets the probe wakeup if messages are parked and none is set. If
// the engine refuses the wakeup the parked messages can never be offered
// again, so they are refused.
func (p *router) arm(fx engine.Effects) {
	if p.armed || len(p.parked) == 0 {
		return
	}
	rev, _, err := fx.SetWakeup(probeSlot, fx.Now().Add(ProbeInterval))
	if err == nil {
		p.armed, p.rev = true, rev
		return
	}
	for _, h := range p.parked {
		p.refuse(h, fmt.Errorf("%w, and no later offer can be scheduled: %w", engine.ErrFull, err), fx)
		p.met.parked.Add(-1)
	}
	clear(p.parked)
	p.parked = p.parked[:0]
}

// abandon nacks every parked message with cause node_shutdown: the
// shutdown deadline came before their outputs had room.
func (p *router) abandon(fx engine.Effects) {
	for _, h := range p.parked {
		p.met.record(h.sig, decShutdown)
		p.met.parked.Add(-1)
		fx.NotifyNack(h.m, pdata.Nack{
			Reason: fmt.Sprintf("type_router %q: output %q still full at the shutdown deadline", p.name, h.r.port),
			Cause:  pdata.CauseNodeShutdown,
		})
	}
	clear(p.parked)
	p.parked = p.parked[:0]
	p.armed = false
}

// refuse nacks h upstream for the send error err.
func (p *router) refuse(h held, err error, fx engine.Effects) {
	n := pdata.Nack{Reason: fmt.Sprintf("type_router %q: output %q: %v", p.name, h.r.port, err)}
	d := decClosed
	switch {
	case errors.Is(err, engine.ErrFull):
		d, n.Cause = decFull, pdata.CauseRouteFull
	case errors.Is(err, engine.ErrClosed):
		n.Cause = pdata.CauseRouteClosed
	case errors.Is(err, engine.ErrAborted):
		d, n.Cause = decShutdown, pdata.CauseNodeShutdown
	default: // a port the engine does not know: retrying cannot help
		n.Cause, n.Permanent = pdata.CauseRouteClosed, true
	}
	p.met.record(h.sig, d)
	fx.NotifyNack(h.m, n)
}
