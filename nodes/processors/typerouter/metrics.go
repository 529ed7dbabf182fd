package typerouter

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// decision is the terminal routing result of one message: the closed set
// of (outcome, reason) label pairs of the decision counter, as in the
// reference engine's processor.type_router.signals.decision.
type decision uint8

const (
	decNamed    decision = iota // success: sent on the signal's own port
	decDefault                  // success: sent on the default output, the signal's port being unconnected
	decFull                     // refused: the selected output was full (nacked, transient)
	decClosed                   // refused: the selected output was closed (nacked, transient)
	decNoRoute                  // failure: neither the signal's port nor a default output (nacked, permanent)
	decShutdown                 // failure: still parked at the shutdown deadline (nacked, node_shutdown)
	numDecisions
)

var decisionLabels = [numDecisions]struct{ outcome, reason string }{
	{"success", "named_route"},
	{"success", "default_route_unwired"},
	{"refused", "route_full"},
	{"refused", "route_closed"},
	{"failure", "no_available_route"},
	{"failure", "node_shutdown"},
}

// success is the decision of a message the route's port accepted.
func (k routeKind) success() decision {
	if k == routeDefault {
		return decDefault
	}
	return decNamed
}

// metrics are the node's own series, on top of the received/sent/acked/
// nacked items every node gets from the engine.
type metrics struct {
	decisions [3][numDecisions]*telemetry.Counter // {message} by pdata.Signal and decision
	parked    *telemetry.Gauge                    // {message} held for a full output (backpressure)
}

// newMetrics registers the series in r under the node's labels; a nil r
// gives working, unregistered metrics. The copies of a pipeline share the
// series, so the gauge moves with Add only.
func newMetrics(r *telemetry.Registry, labels []telemetry.Label) *metrics {
	const prefix = "ackflow_processor_type_router_"
	m := &metrics{
		parked: r.Gauge(prefix+"parked",
			"Messages held for a full output under admission_policy.on_full: backpressure.", labels...),
	}
	for _, s := range pdata.Signals() {
		for d := range numDecisions {
			l := decisionLabels[d]
			m.decisions[s][d] = r.Counter(prefix+"signals_decision_total",
				"Messages by signal and routing result (outcome success, refused or failure, and its reason).",
				telemetry.With(labels,
					telemetry.Label{Name: "signal", Value: s.String()},
					telemetry.Label{Name: "outcome", Value: l.outcome},
					telemetry.Label{Name: "reason", Value: l.reason})...)
		}
	}
	return m
}

// record counts one message of signal s with result d.
func (m *metrics) record(s pdata.Signal, d decision) { m.decisions[s][d].Inc() }
