package logsampling

import "github.com/ackflow/ackflow/telemetry"

// metrics are the node's own series, on top of the received/sent/acked/
// nacked/dropped items every node gets from the engine.
type metrics struct {
	kept    *telemetry.Counter // {item} log records the policy let through
	dropped *telemetry.Counter // {item} log records the policy dropped, whole messages and parts
	errors  *telemetry.Counter // {message} logs messages that could not be cut (nacked permanent)
}

// newMetrics registers the series in r under the node's labels; a nil r
// gives working, unregistered metrics. The copies of a pipeline share the
// series.
func newMetrics(r *telemetry.Registry, labels []telemetry.Label) *metrics {
	const prefix = "ackflow_processor_log_sampling_"
	return &metrics{
		kept: r.Counter(prefix+"kept_items_total",
			"Log records the sampling policy let through.", labels...),
		dropped: r.Counter(prefix+"dropped_items_total",
			"Log records the sampling policy dropped, from whole messages and from messages forwarded in part.", labels...),
		errors: r.Counter(prefix+"errors_total",
			"Logs messages that could not be cut to the records kept (decode failures), nacked permanently.", labels...),
	}
}
