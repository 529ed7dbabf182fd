package exportdriver

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// Metrics are a Driver's series, named after its exporter:
//
//	<prefix>_requests_total{signal,status}   {request} exports by outcome: "ok" or the failure status
//	<prefix>_rejected_items_total{signal}    {item} items a destination rejected in a partial success
//	<prefix>_requests_in_flight              {request} exports awaiting an answer
//	<prefix>_in_flight_limit                 {request} the adaptive limit on exports at once
//
// Accepted, acked and nacked items are counted by the engine for every
// node; these add what only the exporter sees.
type Metrics struct {
	reg    *telemetry.Registry
	prefix string
	labels []telemetry.Label

	byStatus [3]map[string]*telemetry.Counter // node goroutine only
	rejected [3]*telemetry.Counter
	inFlight *telemetry.Gauge
	limit    *telemetry.Gauge
}

// NewMetrics registers a driver's metrics in reg (nil: unregistered) with
// names starting with prefix ("ackflow_exporter_otlp_grpc") and the node's
// labels.
func NewMetrics(reg *telemetry.Registry, prefix string, labels []telemetry.Label) *Metrics {
	m := &Metrics{reg: reg, prefix: prefix, labels: labels}
	for _, s := range pdata.Signals() {
		m.byStatus[s] = map[string]*telemetry.Counter{}
		m.rejected[s] = reg.Counter(prefix+"_rejected_items_total",
			"Items a destination rejected in a partial success (the request itself was acked).",
			telemetry.With(labels, telemetry.Label{Name: "signal", Value: s.String()})...)
		m.requests(s, "ok")
	}
	m.inFlight = reg.Gauge(prefix+"_requests_in_flight", "Exports awaiting an answer.", labels...)
	m.limit = reg.Gauge(prefix+"_in_flight_limit",
		"The adaptive limit on exports at once: halved on timeouts, grown while answers come in well within the timeout.", labels...)
	return m
}

// requests returns the counter of exports of signal s that ended with
// status, registering it on first use (statuses form a closed set, but
// most never occur).
func (m *Metrics) requests(s pdata.Signal, status string) *telemetry.Counter {
	c, ok := m.byStatus[s][status]
	if !ok {
		c = m.reg.Counter(m.prefix+"_requests_total", "Exports by outcome: ok, or the status of the failure.",
			telemetry.With(m.labels,
				telemetry.Label{Name: "signal", Value: s.String()},
				telemetry.Label{Name: "status", Value: status})...)
		m.byStatus[s][status] = c
	}
	return c
}

// Requests returns the count of exports of signal s that ended with status.
func (m *Metrics) Requests(s pdata.Signal, status string) uint64 {
	return m.requests(s, status).Value()
}

// Rejected returns the items of signal s rejected in partial successes.
func (m *Metrics) Rejected(s pdata.Signal) uint64 { return m.rejected[s].Value() }

// Limit returns the current adaptive in-flight limit.
func (m *Metrics) Limit() int64 { return m.limit.Value() }

// InFlight returns the exports in flight.
func (m *Metrics) InFlight() int64 { return m.inFlight.Value() }
