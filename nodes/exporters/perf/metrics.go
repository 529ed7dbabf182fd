package perf

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// metrics are the exporter's counters, by signal, on top of the
// received/acked items every node gets from the engine. The copies of a
// pipeline share the series.
type metrics struct {
	messages [3]*telemetry.Counter // {message}
	items    [3]*telemetry.Counter // {item} log records, data points, spans
	bytes    [3]*telemetry.Counter // By: OTLP encoding (in-memory Arrow size for OTAP payloads)
}

// newMetrics registers the series in r under the node's labels; a nil r
// gives working, unregistered metrics.
func newMetrics(r *telemetry.Registry, labels []telemetry.Label) *metrics {
	const prefix = "ackflow_exporter_perf_"
	m := &metrics{}
	for _, s := range pdata.Signals() {
		ls := telemetry.With(labels, telemetry.Label{Name: "signal", Value: s.String()})
		m.messages[s] = r.Counter(prefix+"messages_total", "Messages received (and acked) by the perf exporter.", ls...)
		m.items[s] = r.Counter(prefix+"items_total", "Items received by the perf exporter: log records, metric data points, spans.", ls...)
		m.bytes[s] = r.Counter(prefix+"bytes_total",
			"Bytes received by the perf exporter: the OTLP encoding, or the in-memory Arrow size of OTAP payloads.", ls...)
	}
	return m
}

// add counts one message of signal s.
func (m *metrics) add(s pdata.Signal, c counts) {
	m.messages[s].Add(c.messages)
	m.items[s].Add(c.items)
	m.bytes[s].Add(c.bytes)
}
