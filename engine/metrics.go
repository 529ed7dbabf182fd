package engine

import (
	"sync"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// nodeMetrics are the counters every node has, whatever its type.
// Exported as ackflow_node_<what>_items_total{pipeline,node}.
type nodeMetrics struct {
	reg    *telemetry.Registry
	labels []telemetry.Label

	received *telemetry.Counter // {item} pdata items delivered to the node
	sent     *telemetry.Counter // {item} items the node sent on its outputs
	acked    *telemetry.Counter // {item} items the node acked upstream
	nacked   [6]*telemetry.Counter
	dropped  sync.Map           // reason -> *telemetry.Counter, created on first use
	lost     *telemetry.Counter // {message} outcomes that arrived after the node stopped
}

func newNodeMetrics(reg *telemetry.Registry, labels []telemetry.Label) *nodeMetrics {
	m := &nodeMetrics{
		reg:      reg,
		labels:   labels,
		received: reg.Counter("ackflow_node_received_items_total", "Items delivered to the node as pdata.", labels...),
		sent:     reg.Counter("ackflow_node_sent_items_total", "Items the node sent on its output ports.", labels...),
		acked:    reg.Counter("ackflow_node_acked_items_total", "Items the node acknowledged upstream.", labels...),
		lost: reg.Counter("ackflow_node_outcomes_after_stop_total",
			"Acks and nacks that reached the node after it stopped (it had already answered upstream).", labels...),
	}
	for _, c := range pdata.Causes() {
		m.nacked[c] = reg.Counter("ackflow_node_nacked_items_total", "Items the node nacked upstream, by cause.",
			telemetry.With(labels, telemetry.Label{Name: "cause", Value: c.String()})...)
	}
	return m
}

func (m *nodeMetrics) nack(c pdata.Cause, items int) {
	if int(c) >= len(m.nacked) {
		c = pdata.CauseUnspecified
	}
	m.nacked[c].Add(uint64(items))
}

// drop counts items dropped for reason. Receivers call it from any
// goroutine; the counter of a reason is registered once and cached.
func (m *nodeMetrics) drop(reason string, items int) {
	c, ok := m.dropped.Load(reason)
	if !ok {
		c, _ = m.dropped.LoadOrStore(reason, m.reg.Counter("ackflow_node_dropped_items_total",
			"Items the node discarded on purpose, by reason.",
			telemetry.With(m.labels, telemetry.Label{Name: "reason", Value: reason})...))
	}
	c.(*telemetry.Counter).Add(uint64(items))
}

// readOutcomes adds the node's acked, nacked and dropped counters to ns.
func (m *nodeMetrics) readOutcomes(ns *NodeStatus) {
	ns.Acked += m.acked.Value()
	for c, ctr := range m.nacked {
		if v := ctr.Value(); v > 0 {
			if ns.Nacked == nil {
				ns.Nacked = map[string]uint64{}
			}
			ns.Nacked[pdata.Cause(c).String()] += v
		}
	}
	m.dropped.Range(func(reason, c any) bool {
		if v := c.(*telemetry.Counter).Value(); v > 0 {
			if ns.Dropped == nil {
				ns.Dropped = map[string]uint64{}
			}
			ns.Dropped[reason.(string)] += v
		}
		return true
	})
}

// registerProcessMetrics exposes what the data model counts for the whole
// process: the OTAP payloads that some node needed in another form.
func registerProcessMetrics(reg *telemetry.Registry) {
	reg.CounterFunc("ackflow_pdata_otap_conversions_total",
		"OTAP payloads converted to the pdata model (and OTLP) because a node needed that form.",
		func() uint64 { n, _ := pdata.OTAPConversions(); return n })
	reg.CounterFunc("ackflow_pdata_otap_converted_items_total",
		"Items of the OTAP payloads converted to the pdata model.",
		func() uint64 { _, n := pdata.OTAPConversions(); return n })
}
