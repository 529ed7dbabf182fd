package otlp

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// protocol is the transport a request came in on.
type protocol uint8

const (
	protoGRPC protocol = iota
	protoHTTP
	numProtocols
)

var protocolNames = [numProtocols]string{"grpc", "http"}

func (p protocol) String() string { return protocolNames[p] }

// metrics are the receiver's series. Every series carries the node's
// labels plus protocol (grpc, http) and signal (logs, metrics, traces):
//
//	ackflow_receiver_otlp_requests_total{outcome}     {request} requests by how they were answered (verdict names)
//	ackflow_receiver_otlp_items_received_total        {item}    items admitted into the pipeline
//	ackflow_receiver_otlp_items_refused_total{reason} {item}    items of parsed requests answered with a failure
//	ackflow_receiver_otlp_request_bytes_total         {By}      request bodies, decompressed
//	ackflow_receiver_otlp_requests_in_flight          {request} requests admitted and awaiting their answer
//	ackflow_receiver_otlp_requests_reading            {request} requests whose body is being read (or waits for its connection's turn)
//	ackflow_receiver_otlp_late_outcomes_total         {outcome} acks and nacks that came after their request was answered
//
// and, without the signal label:
//
//	ackflow_receiver_otlp_connections{protocol}                  {connection} connections open
//	ackflow_receiver_otlp_connections_closed_total{protocol,reason} {connection} connections the receiver closed itself (connReason names)
//	ackflow_receiver_otlp_in_flight_bytes                        By  bytes reserved in max_in_flight_bytes (bodies being read, data in the pipeline)
//
// All series are registered up front, so the hot path is an array index
// and an atomic add.
type metrics struct {
	requests [numProtocols][3][numVerdicts]*telemetry.Counter
	items    [numProtocols][3]*telemetry.Counter
	refused  [numProtocols][3][numVerdicts]*telemetry.Counter // nil where the items are unknown
	bytes    [numProtocols][3]*telemetry.Counter
	inFlight [numProtocols][3]*telemetry.Gauge
	reading  [numProtocols][3]*telemetry.Gauge
	late     [numProtocols][3]*telemetry.Counter

	conns       [numProtocols]*telemetry.Gauge
	connsClosed [numProtocols][numConnReasons]*telemetry.Counter
	heldBytes   *telemetry.Gauge
}

// connReason is why the receiver closed a connection on its own.
type connReason uint8

const (
	connLimit   connReason = iota // a new connection over max_connections (or the process's share of file descriptors) while every other one was busy
	connEvicted                   // an idle connection closed to make room for a new one
	numConnReasons
)

var connReasonNames = [numConnReasons]string{"connection_limit", "idle_evicted"}

func (r connReason) String() string { return connReasonNames[r] }

func newMetrics(reg *telemetry.Registry, labels []telemetry.Label) *metrics {
	m := &metrics{}
	m.heldBytes = reg.Gauge("ackflow_receiver_otlp_in_flight_bytes",
		"Bytes reserved in max_in_flight_bytes: request bodies being read and data awaiting its outcome.", labels...)
	for p := range numProtocols {
		pl := telemetry.With(labels, telemetry.Label{Name: "protocol", Value: p.String()})
		m.conns[p] = reg.Gauge("ackflow_receiver_otlp_connections", "Connections open.", pl...)
		for r := range numConnReasons {
			m.connsClosed[p][r] = reg.Counter("ackflow_receiver_otlp_connections_closed_total",
				"Connections the receiver closed on its own, by reason.",
				telemetry.With(pl, telemetry.Label{Name: "reason", Value: r.String()})...)
		}
	}
	for p := range numProtocols {
		for _, s := range pdata.Signals() {
			ls := telemetry.With(labels,
				telemetry.Label{Name: "protocol", Value: p.String()},
				telemetry.Label{Name: "signal", Value: s.String()})
			for v := range numVerdicts {
				m.requests[p][s][v] = reg.Counter("ackflow_receiver_otlp_requests_total",
					"OTLP requests by how they were answered.",
					telemetry.With(ls, telemetry.Label{Name: "outcome", Value: v.String()})...)
				if v.refusesItems() {
					m.refused[p][s][v] = reg.Counter("ackflow_receiver_otlp_items_refused_total",
						"Items of well-formed requests that were answered with a failure, by reason.",
						telemetry.With(ls, telemetry.Label{Name: "reason", Value: v.String()})...)
				}
			}
			m.items[p][s] = reg.Counter("ackflow_receiver_otlp_items_received_total",
				"Items admitted into the pipeline.", ls...)
			m.bytes[p][s] = reg.Counter("ackflow_receiver_otlp_request_bytes_total",
				"Request bodies received, in bytes after decompression.", ls...)
			m.inFlight[p][s] = reg.Gauge("ackflow_receiver_otlp_requests_in_flight",
				"Requests admitted and awaiting their answer.", ls...)
			m.reading[p][s] = reg.Gauge("ackflow_receiver_otlp_requests_reading",
				"Requests whose body is being read; they hold no max_concurrent_requests slot yet.", ls...)
			m.late[p][s] = reg.Counter("ackflow_receiver_otlp_late_outcomes_total",
				"Acks and nacks that arrived after their request was answered (timeout, client gone); ignored.", ls...)
		}
	}
	return m
}

// answered counts a request answered with verdict v; items is the request's
// item count, or -1 when it was never parsed.
func (m *metrics) answered(p protocol, s pdata.Signal, v verdict, items int) {
	m.requests[p][s][v].Inc()
	if c := m.refused[p][s][v]; c != nil && items > 0 {
		c.Add(uint64(items))
	}
}
