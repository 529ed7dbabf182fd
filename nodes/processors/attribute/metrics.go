package attribute

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// path is how a message was processed: the closed set of the `path` label.
type path uint8

const (
	pathBytes path = iota // OTLP bytes, rewritten on the wire
	pathPdata             // decoded or OTAP payloads, edited in pdata's model
	numPaths
)

var pathNames = [numPaths]string{"bytes", "pdata"}

// metrics are the node's own series, on top of the received/sent/acked/
// nacked/dropped items every node gets from the engine.
type metrics struct {
	items     [3]*telemetry.Counter                      // {item} items processed, by signal
	messages  [numPaths]*telemetry.Counter               // {message} messages processed, by path
	modified  [numActions][numDomains]*telemetry.Counter // {attribute} entries changed, by action and domain
	malformed *telemetry.Counter                         // {message} messages nacked because their payload could not be read
}

// newMetrics registers the families in r under the node's labels. A nil r
// gives working, unregistered metrics.
func newMetrics(r *telemetry.Registry, labels []telemetry.Label) *metrics {
	const prefix = "ackflow_processor_attribute_"
	m := &metrics{
		malformed: r.Counter(prefix+"malformed_total",
			"Messages nacked (permanent) because their payload could not be read.", labels...),
	}
	for _, s := range pdata.Signals() {
		m.items[s] = r.Counter(prefix+"items_total",
			"Items (log records, data points, spans) processed, by signal.",
			telemetry.With(labels, telemetry.Label{Name: "signal", Value: s.String()})...)
	}
	for p := range numPaths {
		m.messages[p] = r.Counter(prefix+"messages_total",
			"Messages processed, by path: bytes (OTLP rewritten on the wire) or pdata (decoded or OTAP payloads).",
			telemetry.With(labels, telemetry.Label{Name: "path", Value: pathNames[p]})...)
	}
	for a := range numActions {
		for d := range numDomains {
			m.modified[a][d] = r.Counter(prefix+"modified_total",
				"Attribute entries changed, by action and domain (signal, resource, scope).",
				telemetry.With(labels,
					telemetry.Label{Name: "action", Value: a.String()},
					telemetry.Label{Name: "domain", Value: domainNames[d]})...)
		}
	}
	return m
}

// add counts what an editor changed in one message.
func (m *metrics) add(counts *[numActions][numDomains]uint64) {
	for a := range counts {
		for d, n := range counts[a] {
			if n > 0 {
				m.modified[a][d].Add(n)
			}
		}
	}
}
