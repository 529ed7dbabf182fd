package retry

import (
	"strconv"

	"github.com/ackflow/ackflow/telemetry"
)

// retryBuckets is the number of values of the `retry` label: "1" to "9",
// then "10+" for every later retry, so the family stays bounded whatever
// max_retries is.
const retryBuckets = 10

// giveUp is why a message was answered upstream with a nack: the closed set
// of the `reason` label of gave_up_total.
type giveUp uint8

const (
	giveUpPermanent  giveUp = iota // downstream said do not retry: passed through
	giveUpMaxRetries               // max_retries reached
	giveUpMaxElapsed               // the next retry would start after max_elapsed_time
	giveUpShutdown                 // shutting down: the retry would come after the deadline, or the deadline came
	giveUpNoPayload                // the nack came back without the data to resend
	giveUpSendFailed               // the node's own send failed (output full or closed)
	giveUpCount
)

var giveUpNames = [giveUpCount]string{
	"permanent", "max_retries", "max_elapsed_time", "shutdown", "no_payload", "send_failed",
}

func (g giveUp) String() string {
	if g < giveUpCount {
		return giveUpNames[g]
	}
	return "give_up(" + strconv.Itoa(int(g)) + ")"
}

// metrics are the node's own series, on top of the received/sent/acked/
// nacked/dropped items every node gets from the engine. Counts are in
// messages, not items: the retry decision is per message.
type metrics struct {
	retries          [retryBuckets]*telemetry.Counter // {message} retries scheduled, by retry number
	gaveUp           [giveUpCount]*telemetry.Counter  // {message} nacks passed upstream, by reason
	resumed          *telemetry.Counter               // {message} messages re-sent after their backoff
	recovered        *telemetry.Counter               // {message} acks of data that needed at least one retry
	inFlight         *telemetry.Gauge                 // {message} sent, outcome not yet received
	parked           *telemetry.Gauge                 // {message} held by the node for their retry
	maxParked        *telemetry.Gauge                 // {message} configured max_parked
	throttled        *telemetry.Gauge                 // 1 while intake is paused at max_parked
	throttleEpisodes *telemetry.Counter               // {episode} times intake paused at max_parked
}

// newMetrics registers the families in r under the node's labels. A nil r
// gives working, unregistered metrics. Gauges that count are moved with
// Add, never Set: the copies of a pipeline share the series (max_parked is
// the same in every copy).
func newMetrics(r *telemetry.Registry, labels []telemetry.Label, maxParked int) *metrics {
	const prefix = "ackflow_processor_retry_"
	m := &metrics{
		resumed: r.Counter(prefix+"resumed_total",
			"Messages sent again after their backoff.", labels...),
		recovered: r.Counter(prefix+"recovered_total",
			"Messages acked downstream after at least one retry.", labels...),
		inFlight: r.Gauge(prefix+"in_flight",
			"Messages sent downstream whose ack or nack has not come back.", labels...),
		parked: r.Gauge(prefix+"parked",
			"Messages held by the node, waiting for their next retry.", labels...),
		maxParked: r.Gauge(prefix+"max_parked",
			"Configured max_parked: the most messages admitted at once (in flight plus parked).", labels...),
		throttled: r.Gauge(prefix+"throttled",
			"1 while the node refuses new pdata because in flight plus parked reached max_parked.", labels...),
		throttleEpisodes: r.Counter(prefix+"throttle_episodes_total",
			"Times the node started refusing new pdata at max_parked.", labels...),
	}
	m.maxParked.Set(int64(maxParked))
	for i := range m.retries {
		m.retries[i] = r.Counter(prefix+"retries_total",
			"Retries scheduled after a transient nack, by retry number (10+ for the tenth and later).",
			telemetry.With(labels, telemetry.Label{Name: "retry", Value: retryLabel(uint64(i + 1))})...)
	}
	for g := range giveUpCount {
		m.gaveUp[g] = r.Counter(prefix+"gave_up_total",
			"Messages nacked upstream without a further retry, by reason.",
			telemetry.With(labels, telemetry.Label{Name: "reason", Value: g.String()})...)
	}
	return m
}

// retryLabel is the `retry` label value of retry n.
func retryLabel(n uint64) string {
	if n >= retryBuckets {
		return strconv.Itoa(retryBuckets) + "+"
	}
	return strconv.FormatUint(n, 10)
}

// retry counts retry n (1 for the first retry).
func (m *metrics) retry(n uint64) {
	m.retries[min(max(n, 1), retryBuckets)-1].Inc()
}
