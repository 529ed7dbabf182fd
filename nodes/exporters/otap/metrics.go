package otap

import (
	"strings"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// prefix names every series of the exporter, the driver's included.
const prefix = "ackflow_exporter_otap"

// Metrics are the exporter's stream series, besides the driver's
// (exportdriver.Metrics: requests_total{signal,status}, requests_in_flight,
// in_flight_limit, rejected_items_total) under the same prefix. All carry
// the node's labels and signal:
//
//	ackflow_exporter_otap_streams_opened_total            {stream} streams opened
//	ackflow_exporter_otap_streams_ended_total{reason}     {stream} streams ended: max_lifetime, broken, server_closed, encode_error, shutdown
//	ackflow_exporter_otap_stream_open_failures_total      {stream} stream opens that failed (each waits a backoff)
//	ackflow_exporter_otap_streams_open                    {stream} streams taking batches now (gauge)
//	ackflow_exporter_otap_queued_batches                  {batch}  batches waiting for their stream (gauge)
//	ackflow_exporter_otap_queue_full_total                {export} exports that found their stream's queue full and waited (backpressure)
//	ackflow_exporter_otap_batches_encoded_total{form}     {batch}  batches encoded, by the payload's form: otap (sent as it is), otlp or decoded (converted)
//	ackflow_exporter_otap_batches_sent_total              {batch}  BatchArrowRecords handed to gRPC to send
//	ackflow_exporter_otap_sent_bytes_total                By       their protobuf size, before gRPC compression
//	ackflow_exporter_otap_statuses_total{code}            {status} BatchStatus answers by code (ok, unavailable, ..., other)
//	ackflow_exporter_otap_unmatched_statuses_total        {status} answers naming no batch in flight on their stream
//	ackflow_exporter_otap_late_statuses_total             {status} answers for a batch whose export had already ended (timeout, shutdown)
//
// Every series is registered up front, so the counters are touched from
// the stream goroutines without a lock.
type Metrics struct {
	opened       [3]*telemetry.Counter
	ended        [3][numEndReasons]*telemetry.Counter
	openFailures [3]*telemetry.Counter
	open         [3]*telemetry.Gauge
	queued       [3]*telemetry.Gauge
	queueFull    [3]*telemetry.Counter
	encoded      [3][3]*telemetry.Counter // by pdata.Form
	sent         [3]*telemetry.Counter
	sentBytes    [3]*telemetry.Counter
	statuses     [3][numStatusLabels]*telemetry.Counter // by statusIndex; the last is "other"
	unmatched    [3]*telemetry.Counter
	late         [3]*telemetry.Counter
}

// endReason is why a stream stopped taking batches.
type endReason uint8

const (
	endLifetime     endReason = iota // arrow.max_stream_lifetime reached
	endBroken                        // a Send or Recv error
	endServerClosed                  // the server ended the stream with OK while it was in use
	endEncodeError                   // the encoder failed: its state is discarded with the stream
	endShutdown                      // the exporter closed
	numEndReasons
)

var endReasonNames = [numEndReasons]string{"max_lifetime", "broken", "server_closed", "encode_error", "shutdown"}

func (r endReason) String() string { return endReasonNames[r] }

// statusCodes are the BatchStatus codes the protocol defines, in the
// order of their label index; any other value counts as "other".
var statusCodes = [...]arrowpb.StatusCode{
	arrowpb.StatusCode_OK, arrowpb.StatusCode_CANCELED, arrowpb.StatusCode_INVALID_ARGUMENT,
	arrowpb.StatusCode_DEADLINE_EXCEEDED, arrowpb.StatusCode_PERMISSION_DENIED, arrowpb.StatusCode_RESOURCE_EXHAUSTED,
	arrowpb.StatusCode_ABORTED, arrowpb.StatusCode_INTERNAL, arrowpb.StatusCode_UNAVAILABLE,
	arrowpb.StatusCode_UNAUTHENTICATED,
}

// numStatusLabels is len(statusCodes) plus "other".
const numStatusLabels = len(statusCodes) + 1

// statusIndex returns the label index of code.
func statusIndex(code arrowpb.StatusCode) int {
	for i, c := range statusCodes {
		if c == code {
			return i
		}
	}
	return len(statusCodes)
}

// statusLabel is the code label of index i: "ok", "unavailable", ...
func statusLabel(i int) string {
	if i == len(statusCodes) {
		return "other"
	}
	return strings.ToLower(statusCodes[i].String())
}

// NewMetrics registers the series in reg (nil: unregistered) with the
// node's labels.
func NewMetrics(reg *telemetry.Registry, labels []telemetry.Label) *Metrics {
	m := &Metrics{}
	for _, s := range pdata.Signals() {
		ls := telemetry.With(labels, telemetry.Label{Name: "signal", Value: s.String()})
		with := func(name, value string) []telemetry.Label {
			return telemetry.With(ls, telemetry.Label{Name: name, Value: value})
		}
		m.opened[s] = reg.Counter(prefix+"_streams_opened_total", "OTAP streams opened.", ls...)
		for r := range numEndReasons {
			m.ended[s][r] = reg.Counter(prefix+"_streams_ended_total",
				"OTAP streams that stopped taking batches, by reason.", with("reason", r.String())...)
		}
		m.openFailures[s] = reg.Counter(prefix+"_stream_open_failures_total",
			"OTAP stream opens that failed; the batches waiting for them are nacked and the next open waits a backoff.", ls...)
		m.open[s] = reg.Gauge(prefix+"_streams_open", "OTAP streams taking batches.", ls...)
		m.queued[s] = reg.Gauge(prefix+"_queued_batches", "Batches waiting for their stream (bounded by stream_queue_capacity per stream).", ls...)
		m.queueFull[s] = reg.Counter(prefix+"_queue_full_total",
			"Exports that found their stream's queue full and waited for room (backpressure).", ls...)
		for _, f := range []pdata.Form{pdata.FormOTLP, pdata.FormDecoded, pdata.FormOTAP} {
			m.encoded[s][f] = reg.Counter(prefix+"_batches_encoded_total",
				"Batches encoded, by the payload's form: otap is sent as it is, otlp and decoded are converted.", with("form", f.String())...)
		}
		m.sent[s] = reg.Counter(prefix+"_batches_sent_total", "BatchArrowRecords sent.", ls...)
		m.sentBytes[s] = reg.Counter(prefix+"_sent_bytes_total", "Protobuf size of the BatchArrowRecords sent, before gRPC compression.", ls...)
		for i := range m.statuses[s] {
			m.statuses[s][i] = reg.Counter(prefix+"_statuses_total", "BatchStatus answers, by code.", with("code", statusLabel(i))...)
		}
		m.unmatched[s] = reg.Counter(prefix+"_unmatched_statuses_total",
			"BatchStatus answers naming no batch in flight on their stream: ignored.", ls...)
		m.late[s] = reg.Counter(prefix+"_late_statuses_total",
			"BatchStatus answers for a batch whose export had already ended (timeout or shutdown): ignored.", ls...)
	}
	return m
}

// StreamsOpened returns the streams of signal s opened so far.
func (m *Metrics) StreamsOpened(s pdata.Signal) uint64 { return m.opened[s].Value() }

// StreamsEnded returns the streams of signal s that ended for reason
// ("max_lifetime", "broken", ...).
func (m *Metrics) StreamsEnded(s pdata.Signal, reason string) uint64 {
	for r, n := range endReasonNames {
		if n == reason {
			return m.ended[s][r].Value()
		}
	}
	return 0
}

// OpenFailures returns the failed stream opens of signal s.
func (m *Metrics) OpenFailures(s pdata.Signal) uint64 { return m.openFailures[s].Value() }

// StreamsOpen returns the streams of signal s taking batches.
func (m *Metrics) StreamsOpen(s pdata.Signal) int64 { return m.open[s].Value() }

// Queued returns the batches of signal s waiting for their stream.
func (m *Metrics) Queued(s pdata.Signal) int64 { return m.queued[s].Value() }

// QueueFull returns the exports of signal s that waited for queue room.
func (m *Metrics) QueueFull(s pdata.Signal) uint64 { return m.queueFull[s].Value() }

// Encoded returns the batches of signal s encoded from payloads of form f.
func (m *Metrics) Encoded(s pdata.Signal, f pdata.Form) uint64 { return m.encoded[s][f].Value() }

// BatchesSent returns the BatchArrowRecords of signal s sent.
func (m *Metrics) BatchesSent(s pdata.Signal) uint64 { return m.sent[s].Value() }

// SentBytes returns the protobuf bytes of signal s sent.
func (m *Metrics) SentBytes(s pdata.Signal) uint64 { return m.sentBytes[s].Value() }

// Statuses returns the answers of signal s with code label code ("ok",
// "unavailable", ..., "other").
func (m *Metrics) Statuses(s pdata.Signal, code string) uint64 {
	for i, c := range m.statuses[s] {
		if statusLabel(i) == code {
			return c.Value()
		}
	}
	return 0
}

// Unmatched returns the answers of signal s that named no batch in flight.
func (m *Metrics) Unmatched(s pdata.Signal) uint64 { return m.unmatched[s].Value() }

// Late returns the answers of signal s that came after their export ended.
func (m *Metrics) Late(s pdata.Signal) uint64 { return m.late[s].Value() }
