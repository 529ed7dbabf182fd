package filter

import (
	"fmt"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/forward"
	"github.com/ackflow/ackflow/pdata"
)

// processor applies the rules of each signal to every message. It never
// subscribes to outcomes: acks and nacks of what it sends on, whole or
// reduced, travel straight back to whoever asked.
//
// It is not safe for concurrent use; the node goroutine owns it.
type processor struct {
	name    string
	s       settings
	metrics *metrics
	keep    []bool // scratch: one decision per item (metric, for metrics), reused
}

var _ engine.Processor = (*processor)(nil)

// OnPData filters m. A message that keeps every item goes on untouched
// (same payload, no re-encoding); one that keeps none is dropped with
// reason "filtered" (acked upstream); one that keeps some goes on with a
// payload holding only those, set by fx.DropPart, which counts the others
// as dropped with reason "filtered".
func (p *processor) OnPData(m *pdata.Message, fx engine.Effects) error {
	pl := m.Payload()
	if pl == nil {
		p.forward(m, fx)
		return nil
	}
	sig, items := pl.Signal(), m.Items()
	c := &p.metrics.bySignal[sig]
	c.received.Add(uint64(items))
	out, err := p.apply(pl)
	switch {
	case err != nil:
		c.rejected.Add(uint64(items))
		fx.NotifyNack(m, pdata.Nack{
			Reason:    fmt.Sprintf("filter %q: %v", p.name, err),
			Permanent: true, // the same bytes will never decode
		})
	case out == pl:
		c.kept.Add(uint64(items))
		p.forward(m, fx)
	case out == nil:
		c.filtered.Add(uint64(items))
		fx.Drop(m, ReasonFiltered)
	default:
		c.kept.Add(uint64(out.Items()))
		c.filtered.Add(uint64(max(items-out.Items(), 0)))
		fx.DropPart(m, out, ReasonFiltered) // before the send: once sent, m may be answered at any time
		p.forward(m, fx)
	}
	return nil
}

// apply filters pl by the rules of its signal. It returns pl itself when
// every item is kept (or the signal has no rules: then nothing is
// decoded), nil when none is, and otherwise a new payload holding the
// items kept.
func (p *processor) apply(pl *pdata.Payload) (*pdata.Payload, error) {
	var kept int
	switch pl.Signal() {
	case pdata.Logs:
		if p.s.logs == nil {
			return pl, nil
		}
		ld, err := pl.Logs()
		if err != nil {
			return nil, fmt.Errorf("decode logs: %w", err)
		}
		if p.keep, kept = p.s.logs.decide(ld, p.keep[:0]); kept > 0 && kept < len(p.keep) {
			return pdata.FromLogs(keepLogs(ld, p.keep)), nil
		}
	case pdata.Metrics:
		if p.s.metrics == nil {
			return pl, nil
		}
		md, err := pl.Metrics()
		if err != nil {
			return nil, fmt.Errorf("decode metrics: %w", err)
		}
		if p.keep, kept = p.s.metrics.decide(md, p.keep[:0]); kept > 0 && kept < len(p.keep) {
			return pdata.FromMetrics(keepMetrics(md, p.keep)), nil
		}
	case pdata.Traces:
		if p.s.traces == nil {
			return pl, nil
		}
		td, err := pl.Traces()
		if err != nil {
			return nil, fmt.Errorf("decode traces: %w", err)
		}
		if p.keep, kept = p.s.traces.decide(td, p.keep[:0]); kept > 0 && kept < len(p.keep) {
			return pdata.FromTraces(keepTraces(td, p.keep)), nil
		}
	default:
		return pl, nil
	}
	if kept == 0 && len(p.keep) > 0 {
		return nil, nil
	}
	return pl, nil // everything kept, or an empty payload
}

// forward sends m on; a message that cannot be sent is nacked upstream
// with the cause of the failure, so its sender is never left waiting.
func (p *processor) forward(m *pdata.Message, fx engine.Effects) {
	forward.Send(fx, m, "filter", p.name)
}

// OnControl has nothing to do: the node holds no message and subscribes
// to no outcome.
func (p *processor) OnControl(engine.Control, engine.Effects) error { return nil }
