package trafficgen

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// metrics are the node's own series, on top of the engine's per-node and
// per-pipeline counters. They are updated from the Run goroutine (sent) and
// from whichever goroutine delivers an outcome (acked, nacked): the
// counters are atomic.
type metrics struct {
	sentItems    [3]*telemetry.Counter              // {item} by signal
	sentMessages [3]*telemetry.Counter              // {message} by signal
	ackedItems   [3]*telemetry.Counter              // {item} by signal; enable_ack_nack only
	nackedItems  [3][len(causes)]*telemetry.Counter // {item} by signal and cause; enable_ack_nack only
	inFlight     *telemetry.Gauge                   // {message} sent, outcome not yet back
}

// causes is the closed set of the `cause` label.
var causes = [...]pdata.Cause{pdata.CauseUnspecified, pdata.CauseRouteFull, pdata.CauseRouteClosed,
	pdata.CauseNodeShutdown, pdata.CauseTimeout, pdata.CauseCapacity}

// newMetrics registers the families in r under the node's labels. A nil r
// gives working, unregistered metrics. The gauge moves with Add, never Set:
// the copies of a pipeline share the series.
func newMetrics(r *telemetry.Registry, labels []telemetry.Label) *metrics {
	const prefix = "ackflow_receiver_traffic_generator_"
	m := &metrics{
		inFlight: r.Gauge(prefix+"in_flight",
			"Messages sent with enable_ack_nack whose ack or nack has not come back.", labels...),
	}
	for _, sig := range pdata.Signals() {
		ls := telemetry.With(labels, telemetry.Label{Name: "signal", Value: sig.String()})
		m.sentItems[sig] = r.Counter(prefix+"sent_items_total", "Items (log records, data points, spans) generated and sent, by signal.", ls...)
		m.sentMessages[sig] = r.Counter(prefix+"sent_messages_total", "Messages generated and sent, by signal.", ls...)
		m.ackedItems[sig] = r.Counter(prefix+"acked_items_total", "Items acked end to end, by signal (enable_ack_nack only).", ls...)
		for i, c := range causes {
			m.nackedItems[sig][i] = r.Counter(prefix+"nacked_items_total", "Items nacked, by signal and cause (enable_ack_nack only).",
				telemetry.With(ls, telemetry.Label{Name: "cause", Value: c.String()})...)
		}
	}
	return m
}

func (m *metrics) nacked(sig pdata.Signal, c pdata.Cause, items int) {
	if int(c) >= len(causes) {
		c = pdata.CauseUnspecified
	}
	m.nackedItems[sig][c].Add(uint64(items))
}
