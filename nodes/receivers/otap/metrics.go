package otap

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// verdict is how a batch is answered; metrics name it with String.
type verdict uint8

const (
	vOK            verdict = iota // delivered (or admitted, without wait_for_result)
	vMalformed                    // not valid OTAP: the stream ends
	vTooLarge                     // over the decoding limits: the stream ends
	vBusy                         // over max_concurrent_requests
	vBudget                       // over max_in_flight_bytes
	vMemory                       // the process is near its memory limit
	vBackpressure                 // the pipeline stayed full until the timeout
	vNackTransient                // the pipeline nacked; retrying may work
	vNackPermanent                // the pipeline nacked; retrying cannot work
	vTimeout                      // admitted, no outcome within the timeout
	vShutdown                     // the receiver is draining or was aborted
	vUnroutable                   // the pipeline refused the message (no output port)
	numVerdicts
)

var verdictNames = [numVerdicts]string{
	"ok", "malformed", "too_large", "busy", "budget", "memory", "backpressure",
	"nack_transient", "nack_permanent", "timeout", "shutdown", "unroutable",
}

func (v verdict) String() string { return verdictNames[v] }

// refusesItems reports whether a batch answered with v had been decoded,
// so that its items are known and were refused.
func (v verdict) refusesItems() bool { return v != vOK && v != vMalformed && v != vTooLarge }

// endReason is why a stream ended.
type endReason uint8

const (
	endClosed       endReason = iota // the client half-closed it and every batch was answered
	endClientGone                    // the client went away or the connection broke
	endMalformed                     // a message that is not valid OTAP
	endTooLarge                      // a batch over the decoding limits
	endDecompress                    // a message whose decompression failed or did not fit
	endRepliesStuck                  // the client did not read its replies within the timeout
	endDraining                      // the receiver drained: every batch answered, then ended
	endAborted                       // the shutdown deadline
	endTooMany                       // refused at its start: max_streams reached
	numEndReasons
)

var endReasonNames = [numEndReasons]string{
	"closed", "client_gone", "malformed", "too_large", "decompress", "replies_not_read", "draining", "aborted", "too_many_streams",
}

func (e endReason) String() string { return endReasonNames[e] }

// metrics are the receiver's series. Every series carries the node's
// labels and the signal:
//
//	ackflow_receiver_otap_batches_total{outcome}        {batch}  batches by how they were answered (verdict names)
//	ackflow_receiver_otap_items_received_total          {item}   items admitted into the pipeline
//	ackflow_receiver_otap_items_refused_total{reason}   {item}   items of decoded batches answered with a failure
//	ackflow_receiver_otap_batch_bytes_total             {By}     BatchArrowRecords messages, after gRPC decompression
//	ackflow_receiver_otap_streams                       {stream} streams open
//	ackflow_receiver_otap_streams_ended_total{reason}   {stream} streams ended, by reason (endReason names)
//	ackflow_receiver_otap_late_outcomes_total           {outcome} acks and nacks that came after their batch was answered
//
// and, without the signal label:
//
//	ackflow_receiver_otap_batches_in_flight   {batch} batches admitted and not yet settled (max_concurrent_requests)
//	ackflow_receiver_otap_in_flight_bytes     By      their decoded size (max_in_flight_bytes)
type metrics struct {
	batches  [3][numVerdicts]*telemetry.Counter
	items    [3]*telemetry.Counter
	refused  [3][numVerdicts]*telemetry.Counter // nil where the items are unknown
	bytes    [3]*telemetry.Counter
	streams  [3]*telemetry.Gauge
	ended    [3][numEndReasons]*telemetry.Counter
	late     [3]*telemetry.Counter
	inFlight *telemetry.Gauge
	held     *telemetry.Gauge
}

func newMetrics(reg *telemetry.Registry, labels []telemetry.Label) *metrics {
	const p = "ackflow_receiver_otap_"
	m := &metrics{
		inFlight: reg.Gauge(p+"batches_in_flight", "Batches admitted into the pipeline and not yet settled.", labels...),
		held:     reg.Gauge(p+"in_flight_bytes", "Decoded size of the batches admitted and not yet settled.", labels...),
	}
	for _, s := range pdata.Signals() {
		ls := telemetry.With(labels, telemetry.Label{Name: "signal", Value: s.String()})
		for v := range numVerdicts {
			m.batches[s][v] = reg.Counter(p+"batches_total", "OTAP batches by how they were answered.",
				telemetry.With(ls, telemetry.Label{Name: "outcome", Value: v.String()})...)
			if v.refusesItems() {
				m.refused[s][v] = reg.Counter(p+"items_refused_total",
					"Items of decoded batches that were answered with a failure, by reason.",
					telemetry.With(ls, telemetry.Label{Name: "reason", Value: v.String()})...)
			}
		}
		for r := range numEndReasons {
			m.ended[s][r] = reg.Counter(p+"streams_ended_total", "OTAP streams ended, by reason.",
				telemetry.With(ls, telemetry.Label{Name: "reason", Value: r.String()})...)
		}
		m.items[s] = reg.Counter(p+"items_received_total", "Items admitted into the pipeline.", ls...)
		m.bytes[s] = reg.Counter(p+"batch_bytes_total", "BatchArrowRecords messages received, in bytes after gRPC decompression.", ls...)
		m.streams[s] = reg.Gauge(p+"streams", "OTAP streams open.", ls...)
		m.late[s] = reg.Counter(p+"late_outcomes_total",
			"Acks and nacks that arrived after their batch was answered (timeout, stream gone); ignored.", ls...)
	}
	return m
}

// answered counts a batch answered with v; items is its item count, or -1
// when it was never decoded.
func (m *metrics) answered(s pdata.Signal, v verdict, items int) {
	m.batches[s][v].Inc()
	if c := m.refused[s][v]; c != nil && items > 0 {
		c.Add(uint64(items))
	}
}
