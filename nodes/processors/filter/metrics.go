package filter

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// signalMetrics are one signal's counters. For every signal
// received = kept + filtered + rejected.
type signalMetrics struct {
	received *telemetry.Counter // {item} items that reached the node
	kept     *telemetry.Counter // {item} items sent on
	filtered *telemetry.Counter // {item} items removed by the rules (dropped, reason "filtered")
	rejected *telemetry.Counter // {item} items nacked because their payload could not be decoded
}

// metrics are the node's own series, on top of the received/sent/acked/
// nacked/dropped items every node gets from the engine. Exported as
// ackflow_processor_filter_<what>_items_total{pipeline,node,signal}.
type metrics struct {
	bySignal [3]signalMetrics // indexed by pdata.Signal
}

// newMetrics registers the families in r under the node's labels. A nil r
// gives working, unregistered metrics.
func newMetrics(r *telemetry.Registry, labels []telemetry.Label) *metrics {
	const prefix = "ackflow_processor_filter_"
	m := &metrics{}
	for _, sig := range pdata.Signals() {
		ls := telemetry.With(labels, telemetry.Label{Name: "signal", Value: sig.String()})
		m.bySignal[sig] = signalMetrics{
			received: r.Counter(prefix+"received_items_total",
				"Items (log records, data points, spans) that reached the filter, by signal.", ls...),
			kept: r.Counter(prefix+"kept_items_total",
				"Items the filter sent on, by signal.", ls...),
			filtered: r.Counter(prefix+"filtered_items_total",
				"Items the filter's rules removed (dropped with reason filtered), by signal.", ls...),
			rejected: r.Counter(prefix+"rejected_items_total",
				"Items nacked because their payload could not be decoded, by signal.", ls...),
		}
	}
	return m
}
