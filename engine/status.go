package engine

import (
	"slices"
	"time"

	"github.com/ackflow/ackflow/config"
)

// PipelineStatus is the state of one pipeline, all copies together.
type PipelineStatus struct {
	Name   string
	Copies int
	// Flow is the item accounting of every signal together; Signals is
	// the same per signal, in pdata.Signals() order.
	Flow    Flow
	Signals []SignalFlow
	// Mismatches is the number of distinct conservation-check failures
	// counted so far (ackflow_accounting_mismatch_total): 0 unless an
	// item was lost or answered twice, which is a bug.
	Mismatches uint64
	Nodes      []NodeStatus
}

// NodeStatus is the state of one node in one copy.
//
// The item counters (Received to Dropped) are the node's metrics, which
// the copies of a pipeline share: they are the node's totals over every
// copy (per copy under runtime_metrics: none). Everything else is this
// copy's.
type NodeStatus struct {
	Name, Type string
	Kind       string // receiver, processor or exporter
	Copy       int
	State      string
	// Queued is the pdata messages waiting in the node's input channel,
	// of QueueCapacity (0 for a receiver). Nodes fed by the same
	// connection share one channel and report the same queue.
	Queued        int
	QueueCapacity int

	Received uint64            // items delivered to the node
	Sent     uint64            // items it sent on its outputs
	Acked    uint64            // items it acked upstream
	Nacked   map[string]uint64 // items it nacked upstream, by cause (non-zero only)
	Dropped  map[string]uint64 // items it dropped on purpose, by reason

	// InFlight is the items the node holds without a final answer, where
	// the engine can know it: for a receiver what it admitted (or is
	// admitting) and is not settled, for an exporter what it received and
	// has not answered. -1 for a processor: it may answer for messages it
	// never received (a batch) and hand on messages it still awaits; its
	// Details say more when it reports any.
	InFlight int64
	// OldestInFlight is, for a receiver, a lower bound of the age of the
	// oldest item it admitted that has no final outcome yet.
	OldestInFlight time.Duration

	Outputs []PortStatus   // connected output ports, sorted by name
	Details map[string]any // from a StatusReporter; nil otherwise
	// Retained is what a Retainer keeps for the next run (after it
	// stopped), and where.
	Retained      int64
	RetainedWhere string
}

// PortStatus is one connected output port of a node in one copy.
type PortStatus struct {
	Port string
	// To is the nodes the port feeds (several compete for its messages).
	To []string
	// Sent is the items sent on the port by this copy of the node.
	Sent uint64
	// Queued and Capacity are the channel the port feeds, shared with
	// other ports wired to the same destinations. A full channel blocks
	// the node's sends: backpressure from To.
	Queued, Capacity int
	// Taps is the taps attached to the port (Engine.Tap).
	Taps int
}

// Status reports every pipeline's accounting, per signal, and node states.
// It runs the conservation check (see ledger.check): a failure is counted
// in ackflow_accounting_mismatch_total{pipeline,signal} and logged once.
func (e *Engine) Status() []PipelineStatus {
	out := make([]PipelineStatus, 0, len(e.ledgers))
	for _, l := range e.ledgers {
		sigs := l.read()
		ps := PipelineStatus{Name: l.name, Copies: len(l.copies), Signals: sigs[:]}
		for _, sf := range sigs {
			ps.Flow.add(sf.Flow)
		}
		ps.Mismatches = l.mismatches()
		now := l.now()
		totals := make([]NodeStatus, len(l.copies[0].nodes))
		for i := range totals {
			totals[i] = l.nodeTotals(i, now)
		}
		for _, p := range l.copies {
			for i, n := range p.nodes {
				ps.Nodes = append(ps.Nodes, n.status(totals[i]))
			}
		}
		out = append(out, ps)
	}
	return out
}

// checkAccounting runs the conservation check of every pipeline; at exit
// (every copy stopped) it is exact.
func (e *Engine) checkAccounting() {
	for _, l := range e.ledgers {
		l.read()
	}
}

// nodeTotals reads the counters of node i over every copy: the copies
// share their metrics (unless runtime_metrics: none gave each its own), so
// each distinct counter is read once. It fills the counters, InFlight and
// OldestInFlight.
func (l *ledger) nodeTotals(i int, now int64) NodeStatus {
	ns := NodeStatus{InFlight: -1}
	seen := map[*nodeMetrics]bool{}
	var unseen uint64
	var rings ringDiff
	first := l.copies[0].nodes[i]
	for _, p := range l.copies {
		n := p.nodes[i]
		if n.adm != nil {
			for s := range n.adm {
				rings.accumulate(&n.adm[s])
			}
		}
		if !seen[n.metrics] && !sharesCounters(seen, n.metrics) {
			seen[n.metrics] = true
			// Outcomes (and the nacks of items never received) before
			// what was received: the difference cannot go below zero.
			n.metrics.readOutcomes(&ns)
		}
		unseen += n.unseen.Load()
	}
	clear(seen)
	for _, p := range l.copies {
		m := p.nodes[i].metrics
		if !seen[m] && !sharesCounters(seen, m) {
			seen[m] = true
			ns.Received += m.received.Value()
			ns.Sent += m.sent.Value()
		}
	}
	switch first.kind {
	case config.KindReceiver:
		ns.InFlight = max(rings.inFlight(), 0)
		ns.OldestInFlight = rings.oldest(now)
	case config.KindExporter:
		answered := ns.Acked + sum(ns.Nacked) + sum(ns.Dropped)
		if ns.Received+unseen >= answered {
			ns.InFlight = int64(ns.Received + unseen - answered)
		} else {
			ns.InFlight = 0
		}
	}
	return ns
}

// sharesCounters reports whether m's counters are those of a node
// already read (the copies' metrics are distinct structs around shared
// series).
func sharesCounters(seen map[*nodeMetrics]bool, m *nodeMetrics) bool {
	for o := range seen {
		if o.received == m.received {
			return true
		}
	}
	return false
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// status reads one node of one copy; totals carries the node's counters
// over every copy.
func (n *node) status(totals NodeStatus) NodeStatus {
	state := Lifecycle(n.state.Load())
	ns := totals
	ns.Name, ns.Type, ns.Kind, ns.Copy, ns.State = n.name, n.typ, n.kind.String(), n.p.copy, state.String()
	if n.in != nil && n.in.input != nil {
		ns.Queued, ns.QueueCapacity = len(n.in.input), cap(n.in.input)
	}
	for _, name := range n.out.names {
		pt := n.out.ports[name]
		ps := PortStatus{
			Port: name, To: slices.Clone(pt.edge.dests), Sent: pt.sent.Load(),
			Queued: len(pt.edge.ch), Capacity: cap(pt.edge.ch),
		}
		if t := pt.taps.Load(); t != nil {
			ps.Taps = len(*t)
		}
		ns.Outputs = append(ns.Outputs, ps)
	}
	if r, ok := n.impl().(StatusReporter); ok {
		ns.Details = r.Status()
	}
	if r, ok := n.impl().(Retainer); ok && state == LifeDone {
		ns.Retained, ns.RetainedWhere = r.Retained()
	}
	return ns
}

// impl is the node's implementation, for its optional interfaces.
func (n *node) impl() any {
	if n.recv != nil {
		return n.recv
	}
	return n.proc
}
