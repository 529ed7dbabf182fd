package guarantee

import "strings"

// ReportVersion is the version of the JSON report's shape. Fields are only
// ever added within a version; a removal or a change of meaning bumps it.
const ReportVersion = 1

// Promise is what a client's OK means on one path, a closed set of names
// that tools may switch on.
type Promise string

// Promises, strongest first.
const (
	// PromiseDelivered: the client is answered after the exporter's
	// destination confirmed the data; a failure reaches the client, which
	// resends: at least once.
	PromiseDelivered Promise = "delivered"
	// PromiseDurable: the client is answered once a durable buffer stored
	// the data; the buffer delivers it from then on.
	PromiseDurable Promise = "durable"
	// PromiseBestEffort: a node on the path answers before delivery (a
	// fan-out that does not await this copy): failures below it are
	// counted, not reported to the client.
	PromiseBestEffort Promise = "best_effort"
	// PromiseAckedBeforeDelivery: the receiver answers on admission
	// (wait_for_result: false).
	PromiseAckedBeforeDelivery Promise = "acked_before_delivery"
	// PromiseDiscarded: the path ends at an exporter that acks and
	// delivers nothing (exporter:noop, exporter:console).
	PromiseDiscarded Promise = "discarded"
	// PromiseNoClient: the receiver answers nobody (a traffic generator
	// without enable_ack_nack).
	PromiseNoClient Promise = "no_client"
	// PromiseNoRoute: the path ends at an output port that is not
	// connected: sends there fail.
	PromiseNoRoute Promise = "no_route"
	// PromiseUnknown: a node on the path declares no guarantee, so
	// nothing can be said past it.
	PromiseUnknown Promise = "unknown"
)

// Warning codes: a closed set that tools may switch on.
const (
	// WarnEarlyAnswerBeforeDurable: a node answers the client before the
	// data reaches a durable buffer (wait_for_result: false, await_ack:
	// none), so the buffer's storage promises the client nothing.
	WarnEarlyAnswerBeforeDurable = "early_answer_before_durable"
	// WarnAwaitNoneSingleExporter: a fan-out with await_ack: none feeds a
	// single exporter: it only removes the guarantee.
	WarnAwaitNoneSingleExporter = "await_none_single_exporter"
	// WarnRetryBehindUnawaited: a retry sits behind a fan-out branch whose
	// outcome the fan-out does not await: its retries cannot change the
	// client's answer and its data is held in memory only.
	WarnRetryBehindUnawaited = "retry_behind_unawaited"
	// WarnFallbackNeverFires: a fan-out fallback stands in for a
	// destination that can never fail (no timeout, and only nodes below
	// it that ack everything).
	WarnFallbackNeverFires = "fallback_never_fires"
	// WarnTimeoutExceedsReceiver: a node before the client's answer may
	// wait longer than the receiver's timeout, so the client gives up (and
	// may resend) while the work goes on.
	WarnTimeoutExceedsReceiver = "timeout_exceeds_receiver"
	// WarnPortNotConnected: a node sends on a port with no connection:
	// those sends fail.
	WarnPortNotConnected = "port_not_connected"
	// WarnCycle: the connections form a cycle (a validated document has
	// none; the analysis stops at it rather than loop).
	WarnCycle = "cycle"
)

// Report is what a configuration promises, per pipeline.
type Report struct {
	// Version is ReportVersion.
	Version int `json:"version"`
	// Pipelines in document order.
	Pipelines []PipelineReport `json:"pipelines"`
}

// Warnings counts the warnings of every pipeline.
func (r *Report) Warnings() int {
	n := 0
	for _, p := range r.Pipelines {
		n += len(p.Warnings)
	}
	return n
}

// PipelineReport is one pipeline's nodes, edges, paths and warnings.
type PipelineReport struct {
	// Name is "GROUP/PIPELINE", as in /api/v1/status.
	Name     string `json:"name"`
	Group    string `json:"group"`
	Pipeline string `json:"pipeline"`
	// Nodes in document order, each with its declared line.
	Nodes []NodeReport `json:"nodes"`
	// Edges are the connections, one per (source port, destination).
	Edges []Edge `json:"edges"`
	// Paths from each receiver (intake) to an exporter or a dead end.
	Paths []Path `json:"paths"`
	// PathsOmitted counts paths beyond MaxPaths that were not analysed.
	PathsOmitted int `json:"paths_omitted"`
	// Warnings are contradictions found in the configuration.
	Warnings []Warning `json:"warnings"`
}

// NodeReport is one node and its declaration.
type NodeReport struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Kind is receiver, processor or exporter.
	Kind string `json:"kind"`
	// Declared is false when the node type declares no guarantee.
	Declared bool `json:"declared"`
	// Effect is the declaration's Effect name ("pass", "persist", ...).
	Effect string `json:"effect"`
	// Guarantee is the declaration's line.
	Guarantee string `json:"guarantee"`
	// Warnings counts the warnings about this node.
	Warnings int `json:"warnings"`
}

// Edge is one connection from a node's output port to a destination.
type Edge struct {
	From string `json:"from"`
	Port string `json:"port"`
	To   string `json:"to"`
	// Competing is true when the port feeds several destinations that
	// compete for its messages (a list in `to`).
	Competing bool `json:"competing"`
	// Awaited is true when From's answer upstream waits for the outcome
	// of what it sends on this edge.
	Awaited bool `json:"awaited"`
}

// Hop is one node on a path.
type Hop struct {
	Node string `json:"node"`
	Type string `json:"type"`
	// Port is the output the path leaves the node by: "" on an exporter,
	// the unconnected port on the last hop of a no_route path.
	Port string `json:"port,omitempty"`
	// Intake is the receiver's intake ("grpc", "http") when its intakes
	// differ; only on the first hop.
	Intake string `json:"intake,omitempty"`
}

// Path is one route from a receiver to an exporter (or a dead end), with
// what the client's answer means on it.
type Path struct {
	Hops []Hop `json:"hops"`
	// Text is the route as "otlp → batch → fan[primary] → out_a".
	Text string `json:"text"`
	// Promise is the class of the client's answer.
	Promise Promise `json:"promise"`
	// AnsweredAt is the node whose outcome or decision answers the
	// client ("" when none does: no client, unknown, no route).
	AnsweredAt string `json:"answered_at"`
	// Summary says what the client's OK means, in words.
	Summary string `json:"summary"`
	// After says what happens to the data after the client's answer, when
	// the answer comes before the end of the path.
	After string `json:"after,omitempty"`
	// Notes are further facts on the path: holds, retries, drops on
	// purpose, competing destinations.
	Notes []string `json:"notes"`
}

// Line returns the path's summary and, if any, what happens after.
func (p Path) Line() string {
	if p.After == "" {
		return p.Summary
	}
	return p.Summary + "; " + p.After
}

// Warning is a contradiction in the configuration.
type Warning struct {
	// Code is one of the Warn* constants.
	Code string `json:"code"`
	// Node is the node to change.
	Node string `json:"node"`
	// Path is the YAML path of the setting to change.
	Path string `json:"path"`
	// Message says what is wrong and what it costs.
	Message string `json:"message"`
	// Hint says how to fix it.
	Hint string `json:"hint"`
}

// hopText renders hops as "otlp (grpc) → fan[a] → out".
func hopText(hops []Hop) string {
	var b strings.Builder
	for i, h := range hops {
		if i > 0 {
			b.WriteString(" → ")
		}
		b.WriteString(h.Node)
		if h.Intake != "" {
			b.WriteString(" (" + h.Intake + ")")
		}
		if h.Port != "" && h.Port != "default" {
			b.WriteString("[" + h.Port + "]")
		}
	}
	return b.String()
}
