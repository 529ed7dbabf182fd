package kafka

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// prefix names every series of the exporter, the driver's included.
const prefix = "ackflow_exporter_kafka"

// Metrics are the exporter's Kafka series, besides the driver's
// (exportdriver.Metrics: requests_total{signal,status},
// requests_in_flight, in_flight_limit, rejected_items_total) under the same
// prefix. All carry the node's labels and signal:
//
//	ackflow_exporter_kafka_records_produced_total{topic}   {record} records the broker acknowledged
//	ackflow_exporter_kafka_produced_bytes_total{topic}     By       their values' bytes (before compression)
//	ackflow_exporter_kafka_records_failed_total{class}     {record} records that failed, by class (timeout, network, message_too_large, ...)
//	ackflow_exporter_kafka_payloads_split_total            {payload} payloads (or one key's share of one) over max_message_bytes, sent as several records
//	ackflow_exporter_kafka_duplicate_records_total         {record} records the broker acknowledged for payloads that were nacked: sent again if upstream retries
//
// Every series is registered up front (a signal's topic is fixed by the
// config), so promises update them without a lock.
type Metrics struct {
	produced [3]*telemetry.Counter
	bytes    [3]*telemetry.Counter
	failed   [3][numClasses]*telemetry.Counter
	split    [3]*telemetry.Counter
	dups     [3]*telemetry.Counter
}

// NewMetrics registers the series in reg (nil: unregistered) with the
// node's labels; topics are the signals' topics, by pdata.Signal.
func NewMetrics(reg *telemetry.Registry, labels []telemetry.Label, topics [3]string) *Metrics {
	m := &Metrics{}
	for _, s := range pdata.Signals() {
		ls := telemetry.With(labels, telemetry.Label{Name: "signal", Value: s.String()})
		lt := telemetry.With(ls, telemetry.Label{Name: "topic", Value: topics[s]})
		m.produced[s] = reg.Counter(prefix+"_records_produced_total", "Records the broker acknowledged, by topic.", lt...)
		m.bytes[s] = reg.Counter(prefix+"_produced_bytes_total", "Bytes of the values of the records the broker acknowledged, before compression.", lt...)
		for c := range numClasses {
			m.failed[s][c] = reg.Counter(prefix+"_records_failed_total", "Records that failed, by class of error.",
				telemetry.With(ls, telemetry.Label{Name: "class", Value: c.String()})...)
		}
		m.split[s] = reg.Counter(prefix+"_payloads_split_total",
			"Payloads over max_message_bytes (whole, or one key's share) sent as several records, cut between resources and scopes.", ls...)
		m.dups[s] = reg.Counter(prefix+"_duplicate_records_total",
			"Records the broker acknowledged for payloads that were nacked: they are sent again if upstream retries (at-least-once).", ls...)
	}
	return m
}

// Produced returns the records of signal s the broker acknowledged.
func (m *Metrics) Produced(s pdata.Signal) uint64 { return m.produced[s].Value() }

// ProducedBytes returns the value bytes of those records.
func (m *Metrics) ProducedBytes(s pdata.Signal) uint64 { return m.bytes[s].Value() }

// Failed returns the records of signal s that failed with class ("timeout",
// "message_too_large", ...).
func (m *Metrics) Failed(s pdata.Signal, class string) uint64 {
	for c, n := range classNames {
		if n == class {
			return m.failed[s][c].Value()
		}
	}
	return 0
}

// Split returns the payloads of signal s cut into several records for size.
func (m *Metrics) Split(s pdata.Signal) uint64 { return m.split[s].Value() }

// Duplicates returns the acknowledged records of nacked payloads of signal s.
func (m *Metrics) Duplicates(s pdata.Signal) uint64 { return m.dups[s].Value() }
