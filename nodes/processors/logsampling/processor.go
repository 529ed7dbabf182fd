package logsampling

import (
	"fmt"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/forward"
	"github.com/ackflow/ackflow/pdata"
)

// DropReason is the reason under which sampled-out records are counted
// (ackflow_node_dropped_items_total{reason="sampled"}).
const DropReason = "sampled"

// processor samples logs and forwards everything else. What it forwards
// keeps its return route, so acks and nacks from downstream pass straight
// through, and the node keeps no state about messages in flight: a message
// cut to the records kept is forwarded itself, after fx.DropPart has
// counted the others as dropped.
//
// It is not safe for concurrent use; the node goroutine owns it.
type processor struct {
	name string
	s    sampler
	trim trimmer
	met  *metrics
}

var _ engine.Processor = (*processor)(nil)

// OnPData samples a logs message: all of it kept (forwarded as it is),
// none (dropped, which acks it upstream), or its first records (forwarded
// with a payload cut to them by fx.DropPart, which counts the others as
// dropped for DropReason). Metrics and traces are forwarded untouched.
func (p *processor) OnPData(m *pdata.Message, fx engine.Effects) error {
	pl := m.Payload()
	if pl == nil || pl.Signal() != pdata.Logs {
		p.forward(m, fx)
		return nil
	}
	total := pl.Items()
	k := p.s.keep(total, fx.Now())
	switch {
	case k == total && total > 0:
		p.met.kept.Add(uint64(k))
		p.forward(m, fx)
	case k == 0: // nothing to keep, or an empty request: answered at once, as in the reference engine
		p.met.dropped.Add(uint64(total))
		fx.Drop(m, DropReason)
	default:
		kept, err := p.trim.prefix(pl, k)
		if err != nil {
			p.met.errors.Inc()
			fx.NotifyNack(m, pdata.Nack{
				Reason:    fmt.Sprintf("log_sampling %q: cannot cut the request to %d of %d records: %v", p.name, k, total, err),
				Permanent: true,
			})
			return nil
		}
		p.met.kept.Add(uint64(k))
		p.met.dropped.Add(uint64(total - k))
		fx.DropPart(m, kept, DropReason) // before the send: once sent, m may be answered
		p.forward(m, fx)
	}
	return nil
}

// forward sends m on; a message that cannot be sent is nacked upstream
// with the cause of the failure.
func (p *processor) forward(m *pdata.Message, fx engine.Effects) {
	forward.Send(fx, m, "log_sampling", p.name)
}

// OnControl has nothing to do: what the node forwards keeps its return
// route, so outcomes pass it by, and time comes with each batch (fx.Now),
// so the zip windows need no timer.
func (p *processor) OnControl(engine.Control, engine.Effects) error { return nil }
