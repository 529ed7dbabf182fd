package attribute

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/forward"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// core edits the attributes of every message and forwards it on the same
// route. It never subscribes to outcomes: acks and nacks from downstream
// pass straight through it, and it drops nothing.
//
// It is not safe for concurrent use; the node goroutine owns it.
type core struct {
	name    string
	domains otlpwire.Domains
	noop    bool // no actions: forward as is
	ed      editor
	rw      otlpwire.Rewriter
	spare   []byte // an output buffer not handed to a payload, reused
	growth  int    // size of the last output per 1024 bytes of input, to size the next
	met     *metrics
}

var _ engine.Processor = (*core)(nil)

func newCore(name string, s settings, met *metrics) *core {
	return &core{name: name, domains: s.domains, noop: len(s.actions) == 0,
		ed: editor{actions: s.actions}, growth: 1024, met: met}
}

// OnPData edits m's payload and sends m on. A payload that cannot be read
// is nacked upstream as permanent; a message that cannot be forwarded is
// nacked with the cause of the failure.
func (c *core) OnPData(m *pdata.Message, fx engine.Effects) error {
	pl := m.Payload()
	if pl == nil {
		fx.NotifyNack(m, pdata.Nack{Reason: fmt.Sprintf("attribute %q: message without data", c.name), Permanent: true})
		return nil
	}
	if !c.noop {
		out, err := c.apply(pl)
		if err != nil {
			c.met.malformed.Inc()
			fx.NotifyNack(m, pdata.Nack{Reason: fmt.Sprintf("attribute %q: %v", c.name, err), Permanent: true})
			return nil
		}
		if out != nil {
			m.SetPayload(out)
		}
	}
	c.met.items[pl.Signal()].Add(uint64(m.Items()))
	forward.Send(fx, m, "attribute", c.name)
	return nil
}

// OnControl has nothing to do: the node holds nothing.
func (c *core) OnControl(engine.Control, engine.Effects) error { return nil }

// apply returns pl with the actions applied, or nil if nothing changed.
func (c *core) apply(pl *pdata.Payload) (*pdata.Payload, error) {
	var out *pdata.Payload
	var err error
	if pl.Form() == pdata.FormOTLP {
		c.met.messages[pathBytes].Inc()
		out, err = c.applyBytes(pl)
	} else {
		c.met.messages[pathPdata].Inc()
		out, err = c.applyPdata(pl)
	}
	counts := c.ed.take()
	if err == nil {
		c.met.add(&counts)
	}
	return out, err
}

// wireKinds maps signals to the wire package's kinds.
var wireKinds = [...]otlpwire.Kind{pdata.Logs: otlpwire.Logs, pdata.Metrics: otlpwire.Metrics, pdata.Traces: otlpwire.Traces}

// applyBytes rewrites the OTLP bytes of pl (the requests it holds become
// one request).
func (c *core) applyBytes(pl *pdata.Payload) (*pdata.Payload, error) {
	reqs, err := pl.Requests()
	if err != nil {
		return nil, err
	}
	dst, changed, err := c.rewrite(c.spare[:0], pl.Signal(), reqs)
	if err != nil || !changed {
		c.spare = dst[:0]
		return nil, err
	}
	c.spare = nil // dst now belongs to the payload
	return pdata.FromOTLPChunks(pl.Signal(), [][]byte{dst}, pl.Items()), nil
}

// rewrite appends the rewrite of the requests reqs of signal s to dst.
func (c *core) rewrite(dst []byte, s pdata.Signal, reqs [][]byte) ([]byte, bool, error) {
	size := requestsSize(reqs)
	if want := size*c.growth/1024 + size/16 + 64; cap(dst) < want {
		// As much as the last output grew, and a little more: traffic
		// and actions change slowly, so append rarely has to copy.
		dst = make([]byte, 0, want)
	}
	changed := false
	for _, r := range reqs {
		var ch bool
		var err error
		if dst, ch, err = c.rw.AppendRewrite(dst, wireKinds[s], r, c.domains, &c.ed); err != nil {
			return dst, false, fmt.Errorf("%s request: %w", s, err)
		}
		changed = changed || ch
	}
	if size > 0 {
		c.growth = min(len(dst)*1024/size, 8*1024)
	}
	return dst, changed, nil
}

func requestsSize(reqs [][]byte) int {
	n := 0
	for _, r := range reqs {
		n += len(r)
	}
	return n
}

// applyPdata applies the actions to a copy of pl's pdata model (decoding
// an OTAP payload, which pdata counts as a conversion).
func (c *core) applyPdata(pl *pdata.Payload) (*pdata.Payload, error) {
	switch pl.Signal() {
	case pdata.Logs:
		ld, err := pl.Logs()
		if err != nil {
			return nil, err
		}
		out := plog.NewLogs()
		ld.CopyTo(out)
		c.ed.editLogs(out, c.domains)
		return pdata.FromLogs(out), nil
	case pdata.Metrics:
		md, err := pl.Metrics()
		if err != nil {
			return nil, err
		}
		out := pmetric.NewMetrics()
		md.CopyTo(out)
		c.ed.editMetrics(out, c.domains)
		return pdata.FromMetrics(out), nil
	case pdata.Traces:
		td, err := pl.Traces()
		if err != nil {
			return nil, err
		}
		out := ptrace.NewTraces()
		td.CopyTo(out)
		c.ed.editTraces(out, c.domains)
		return pdata.FromTraces(out), nil
	}
	return nil, fmt.Errorf("unknown signal %s", pl.Signal())
}
