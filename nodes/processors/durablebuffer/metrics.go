package durablebuffer

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// lossReason is why stored data was given up: the closed set of the
// `reason` label of lost_items_total.
type lossReason uint8

const (
	lossDropOldest lossReason = iota // size_cap_policy drop_oldest made room
	lossExpired                      // older than max_age
	lossPermanent                    // downstream refused it for good
	lossCorrupt                      // unreadable on disk
	lossCount
)

var lossNames = [lossCount]string{"drop_oldest", "expired", "permanent", "corrupt"}

func (r lossReason) String() string { return lossNames[r] }

// metrics are the buffer's own series, on top of the received/sent/acked/
// nacked/dropped items every node gets from the engine. Each copy of a
// pipeline has its own series (label copy): the gauges describe one
// directory.
type metrics struct {
	in       [3]*telemetry.Counter         // {item} persisted and acked upstream, by signal
	out      [3]*telemetry.Counter         // {item} sent downstream (retries included), by signal
	acked    [3]*telemetry.Counter         // {item} acked downstream: done, by signal
	requeued [3]*telemetry.Counter         // {item} transiently nacked, to be retried, by signal
	lost     [lossCount]*telemetry.Counter // {item} given up, by reason
	queued   [3]*telemetry.Gauge           // {item} stored and not yet delivered, by signal

	retries        *telemetry.Counter    // {bundle} retries scheduled
	staleWakeups   *telemetry.Counter    // {wakeup} wakeups of an older arming, ignored
	ingestFailures *telemetry.Counter    // {message} inputs nacked because they could not be persisted
	inFlight       *telemetry.Gauge      // {bundle} in the delivery window (sent or backing off)
	bytesUsed      *telemetry.Gauge      // By disk used by the log
	bytesCap       *telemetry.Gauge      // By this copy's share of retention_size_cap
	utilisation    *telemetry.FloatGauge // 1 bytes used / cap
	oldestAge      *telemetry.FloatGauge // s age of the oldest stored undelivered segment
	recovery       *telemetry.FloatGauge // s time to open the log at start
	quarantined    *telemetry.Gauge      // {segment} corrupt segments moved to quarantine/
	throttled      *telemetry.Gauge      // 1 while intake is paused by the size cap
}

func newMetrics(r *telemetry.Registry, labels []telemetry.Label) *metrics {
	const p = "ackflow_processor_durable_buffer_"
	m := &metrics{
		retries:        r.Counter(p+"retries_scheduled_total", "Bundles scheduled for a retry after a transient nack.", labels...),
		staleWakeups:   r.Counter(p+"stale_wakeups_total", "Retry wakeups of an older arming, ignored (nothing is lost).", labels...),
		ingestFailures: r.Counter(p+"ingest_failures_total", "Inputs nacked upstream because they could not be persisted.", labels...),
		inFlight:       r.Gauge(p+"in_flight_bundles", "Bundles sent downstream and not yet acked, including those waiting out a backoff.", labels...),
		bytesUsed:      r.Gauge(p+"storage_bytes", "Bytes on disk.", labels...),
		bytesCap:       r.Gauge(p+"storage_cap_bytes", "This copy's share of retention_size_cap.", labels...),
		utilisation:    r.FloatGauge(p+"storage_utilization_ratio", "Bytes on disk over the cap.", labels...),
		oldestAge:      r.FloatGauge(p+"oldest_item_age_seconds", "Age of the oldest segment holding undelivered data.", labels...),
		recovery:       r.FloatGauge(p+"recovery_duration_seconds", "Time taken to open and recover the log at start.", labels...),
		quarantined:    r.Gauge(p+"quarantined_segments", "Corrupt segments moved to quarantine/ at start.", labels...),
		throttled:      r.Gauge(p+"throttled", "1 while intake is paused because the buffer is at its size cap.", labels...),
	}
	for _, s := range pdata.Signals() {
		ls := telemetry.With(labels, telemetry.Label{Name: "signal", Value: s.String()})
		m.in[s] = r.Counter(p+"in_items_total", "Items persisted and acked upstream.", ls...)
		m.out[s] = r.Counter(p+"out_items_total", "Items sent downstream, retries included.", ls...)
		m.acked[s] = r.Counter(p+"acked_items_total", "Items acked downstream.", ls...)
		m.requeued[s] = r.Counter(p+"requeued_items_total", "Items nacked transiently downstream, to be retried.", ls...)
		m.queued[s] = r.Gauge(p+"queued_items", "Items stored and not yet delivered.", ls...)
	}
	for i := range lossCount {
		ls := telemetry.With(labels, telemetry.Label{Name: "reason", Value: i.String()})
		m.lost[i] = r.Counter(p+"lost_items_total", "Stored items given up, by reason.", ls...)
	}
	return m
}
