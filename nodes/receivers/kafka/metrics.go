package kafka

import (
	"strconv"
	"sync"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// dropReason says why a record settled without being delivered: the
// reason label of the dropped and dead-lettered series.
type dropReason uint8

const (
	reasonMalformed     dropReason = iota // not a valid request of its topic's signal and encoding
	reasonEmpty                           // a valid request with no item: nothing to deliver
	reasonPermanentNack                   // the pipeline refused it for good
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"malformed", "empty", "permanent_nack"}

func (r dropReason) String() string { return dropReasonNames[r] }

// abandonReason says why records were left unsettled for the partition's
// next owner (or the next run) to deliver again.
type abandonReason uint8

const (
	abandonRevoked abandonReason = iota // the partition was revoked (rebalance)
	abandonLost                         // the partition was lost (session expired, fatal group error)
	abandonDrain                        // the receiver stopped
	numAbandonReasons
)

var abandonReasonNames = [numAbandonReasons]string{"revoked", "lost", "drain"}

func (r abandonReason) String() string { return abandonReasonNames[r] }

// metrics are the receiver's series, each with the node's labels:
//
//	ackflow_receiver_kafka_records_total{signal}                   {record} records fetched and admitted
//	ackflow_receiver_kafka_record_bytes_total{signal}              By       their values
//	ackflow_receiver_kafka_items_total{signal}                     {item}   items of the valid records sent into the pipeline
//	ackflow_receiver_kafka_acked_records_total{signal}             {record} records acked by the pipeline
//	ackflow_receiver_kafka_nacked_records_total{signal,kind}       {record} nacks, kind transient or permanent
//	ackflow_receiver_kafka_redelivered_records_total{signal}       {record} records sent again after a transient nack
//	ackflow_receiver_kafka_dead_lettered_records_total{signal,reason} {record} records produced to dead_letter_topic (malformed, permanent_nack)
//	ackflow_receiver_kafka_dead_letter_failures_total{signal}      {record} dead-letter produces that failed (tried again)
//	ackflow_receiver_kafka_dropped_records_total{signal,reason}    {record} records settled undelivered (malformed, empty, permanent_nack)
//	ackflow_receiver_kafka_dropped_items_total{signal,reason}      {item}   their items, where known
//	ackflow_receiver_kafka_abandoned_records_total{reason}         {record} records left unsettled for redelivery (revoked, lost, drain)
//	ackflow_receiver_kafka_duplicate_records_total{reason}         {record} records settled but not committed when their partition was given up: read again
//	ackflow_receiver_kafka_late_outcomes_total                     {outcome} acks and nacks of records no longer tracked; ignored
//	ackflow_receiver_kafka_commits_total{outcome}                  {commit} offset commits (success, failure)
//	ackflow_receiver_kafka_fetch_errors_total                      {error}  errors reported by fetches
//	ackflow_receiver_kafka_partition_events_total{event}           {partition} assigned, revoked, lost
//	ackflow_receiver_kafka_assigned_partitions                     {partition} partitions owned
//	ackflow_receiver_kafka_paused_partitions                       {partition} partitions whose fetching is paused (in-flight limit, retry)
//	ackflow_receiver_kafka_in_flight_records                       {record} records held, fetch to settlement
//	ackflow_receiver_kafka_in_flight_bytes                         By       their values
//	ackflow_receiver_kafka_committed_offset{topic,partition}       {offset} the last offset committed (the next to read)
//	ackflow_receiver_kafka_lag{topic,partition}                    {record} high watermark minus the committed offset
//
// The topic and partition labels are bounded by the configured topics.
type metrics struct {
	reg    *telemetry.Registry
	labels []telemetry.Label

	records      [3]*telemetry.Counter
	recordBytes  [3]*telemetry.Counter
	items        [3]*telemetry.Counter
	acked        [3]*telemetry.Counter
	nacked       [3][2]*telemetry.Counter // [signal][permanent]
	redelivered  [3]*telemetry.Counter
	deadLettered [3][numDropReasons]*telemetry.Counter
	dlqFailures  [3]*telemetry.Counter
	dropped      [3][numDropReasons]*telemetry.Counter
	droppedItems [3][numDropReasons]*telemetry.Counter
	abandoned    [numAbandonReasons]*telemetry.Counter
	duplicates   [numAbandonReasons]*telemetry.Counter
	late         *telemetry.Counter
	commits      [2]*telemetry.Counter // [failed]
	fetchErrors  *telemetry.Counter
	partEvents   [3]*telemetry.Counter // assigned, revoked, lost
	assigned     *telemetry.Gauge
	paused       *telemetry.Gauge
	inFlight     *telemetry.Gauge
	inFlightSize *telemetry.Gauge

	mu    sync.Mutex
	parts map[tp]*partMetrics
}

// Partition events.
const (
	eventAssigned = iota
	eventRevoked
	eventLost
)

// partMetrics are the gauges of one partition.
type partMetrics struct {
	committed *telemetry.Gauge
	lag       *telemetry.Gauge
}

const prefix = "ackflow_receiver_kafka_"

func newMetrics(reg *telemetry.Registry, labels []telemetry.Label) *metrics {
	l := func(more ...string) []telemetry.Label {
		out := labels
		for i := 0; i+1 < len(more); i += 2 {
			out = telemetry.With(out, telemetry.Label{Name: more[i], Value: more[i+1]})
		}
		return out
	}
	m := &metrics{reg: reg, labels: labels, parts: map[tp]*partMetrics{}}
	for _, s := range pdata.Signals() {
		sig := s.String()
		m.records[s] = reg.Counter(prefix+"records_total", "Records fetched and admitted.", l("signal", sig)...)
		m.recordBytes[s] = reg.Counter(prefix+"record_bytes_total", "Bytes of the values of the records admitted.", l("signal", sig)...)
		m.items[s] = reg.Counter(prefix+"items_total", "Items of the valid records sent into the pipeline (first delivery).", l("signal", sig)...)
		m.acked[s] = reg.Counter(prefix+"acked_records_total", "Records acked by the pipeline.", l("signal", sig)...)
		m.nacked[s][0] = reg.Counter(prefix+"nacked_records_total", "Records nacked by the pipeline, by kind.", l("signal", sig, "kind", "transient")...)
		m.nacked[s][1] = reg.Counter(prefix+"nacked_records_total", "Records nacked by the pipeline, by kind.", l("signal", sig, "kind", "permanent")...)
		m.redelivered[s] = reg.Counter(prefix+"redelivered_records_total", "Records sent into the pipeline again after a transient nack.", l("signal", sig)...)
		m.dlqFailures[s] = reg.Counter(prefix+"dead_letter_failures_total", "Dead-letter produces that failed and are tried again.", l("signal", sig)...)
		for r := range numDropReasons {
			m.dropped[s][r] = reg.Counter(prefix+"dropped_records_total", "Records settled without delivery, by reason.", l("signal", sig, "reason", r.String())...)
			m.droppedItems[s][r] = reg.Counter(prefix+"dropped_items_total", "Items of the records settled without delivery, where known.", l("signal", sig, "reason", r.String())...)
			if r != reasonEmpty {
				m.deadLettered[s][r] = reg.Counter(prefix+"dead_lettered_records_total", "Records produced to dead_letter_topic, by reason.", l("signal", sig, "reason", r.String())...)
			}
		}
	}
	for r := range numAbandonReasons {
		m.abandoned[r] = reg.Counter(prefix+"abandoned_records_total", "Records left unsettled, so not committed, for redelivery, by reason.", l("reason", r.String())...)
		m.duplicates[r] = reg.Counter(prefix+"duplicate_records_total", "Records settled but not committed when their partition was given up: its next owner delivers them again, by reason.", l("reason", r.String())...)
	}
	m.late = reg.Counter(prefix+"late_outcomes_total", "Acks and nacks of records no longer tracked (revoked, lost, drained); ignored.", labels...)
	m.commits[0] = reg.Counter(prefix+"commits_total", "Offset commits, by outcome.", l("outcome", "success")...)
	m.commits[1] = reg.Counter(prefix+"commits_total", "Offset commits, by outcome.", l("outcome", "failure")...)
	m.fetchErrors = reg.Counter(prefix+"fetch_errors_total", "Errors reported by fetches.", labels...)
	for i, e := range []string{"assigned", "revoked", "lost"} {
		m.partEvents[i] = reg.Counter(prefix+"partition_events_total", "Partitions assigned, revoked and lost.", l("event", e)...)
	}
	m.assigned = reg.Gauge(prefix+"assigned_partitions", "Partitions owned.", labels...)
	m.paused = reg.Gauge(prefix+"paused_partitions", "Partitions whose fetching is paused (in-flight limit, retry).", labels...)
	m.inFlight = reg.Gauge(prefix+"in_flight_records", "Records held from fetch to settlement.", labels...)
	m.inFlightSize = reg.Gauge(prefix+"in_flight_bytes", "Bytes of the values of the records held.", labels...)
	return m
}

// partition returns the gauges of t, registering them on first use.
func (m *metrics) partition(t tp) *partMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	pm := m.parts[t]
	if pm == nil {
		ls := telemetry.With(m.labels, telemetry.Label{Name: "topic", Value: t.topic},
			telemetry.Label{Name: "partition", Value: strconv.Itoa(int(t.partition))})
		pm = &partMetrics{
			committed: m.reg.Gauge(prefix+"committed_offset", "The last offset committed: the next record a new owner reads.", ls...),
			lag:       m.reg.Gauge(prefix+"lag", "The partition's high watermark minus its committed offset.", ls...),
		}
		m.parts[t] = pm
	}
	return pm
}
