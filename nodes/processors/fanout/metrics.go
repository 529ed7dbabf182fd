package fanout

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// skipReason says why a copy was never sent to a destination.
type skipReason uint8

const (
	// skipOriginAcked: a fallback not needed, its chain succeeded.
	skipOriginAcked skipReason = iota
	// skipRequestFailed: await_ack: all failed fast; nothing more is sent.
	skipRequestFailed
	// skipShutdown: the forced shutdown came first.
	skipShutdown
	numSkipReasons
)

var skipReasonNames = [numSkipReasons]string{"origin_acked", "request_failed", "shutdown"}

func (r skipReason) String() string {
	if r < numSkipReasons {
		return skipReasonNames[r]
	}
	return "skip(?)"
}

// destMetrics are one destination's series, labelled destination=<port>.
type destMetrics struct {
	sent     *telemetry.Counter // {message} copies accepted by the output
	acked    *telemetry.Counter // {message} acks from the destination
	nacked   *telemetry.Counter // {message} nacks from the destination, and sends its closed output refused
	timedOut *telemetry.Counter // {message} copies without an outcome within the timeout
	late     *telemetry.Counter // {message} outcomes that came after the copy stopped being awaited, ignored
	skipped  [numSkipReasons]*telemetry.Counter
	queued   *telemetry.Gauge // {message} copies waiting for room on the output
}

// metrics are the processor's series. Exported as
// ackflow_processor_fanout_<name>{pipeline,node[,destination|cause|reason]}.
type metrics struct {
	dests            []destMetrics
	upstreamAcks     *telemetry.Counter   // {message} inputs acked upstream
	upstreamNacks    []*telemetry.Counter // {message} inputs nacked upstream, by cause
	active           *telemetry.Gauge     // {request} inputs tracked now
	maxInflight      *telemetry.Gauge     // {request} configured max_inflight (0 = unlimited)
	throttled        *telemetry.Gauge     // 1 while AcceptPData is false
	throttleEpisodes *telemetry.Counter   // {episode} times intake paused at a limit
}

const metricPrefix = "ackflow_processor_fanout_"

// newMetrics registers the processor's series in r (nil: unregistered)
// with the node's labels.
func newMetrics(r *telemetry.Registry, labels []telemetry.Label, pl *plan) *metrics {
	m := &metrics{
		dests:            make([]destMetrics, len(pl.dests)),
		upstreamAcks:     r.Counter(metricPrefix+"upstream_acks_total", "Inputs acked upstream.", labels...),
		active:           r.Gauge(metricPrefix+"active_requests", "Inputs tracked now: awaiting an outcome or with copies still to resolve.", labels...),
		maxInflight:      r.Gauge(metricPrefix+"max_inflight", "Configured limit of tracked inputs (0 = unlimited).", labels...),
		throttled:        r.Gauge(metricPrefix+"throttled", "1 while the node refuses new pdata because a limit is reached.", labels...),
		throttleEpisodes: r.Counter(metricPrefix+"throttle_episodes_total", "Times the node started refusing new pdata at a limit.", labels...),
	}
	for _, c := range pdata.Causes() {
		m.upstreamNacks = append(m.upstreamNacks, r.Counter(metricPrefix+"upstream_nacks_total",
			"Inputs nacked upstream, by cause.", telemetry.With(labels, telemetry.Label{Name: "cause", Value: c.String()})...))
	}
	for i, d := range pl.dests {
		ls := telemetry.With(labels, telemetry.Label{Name: "destination", Value: d.port})
		dm := &m.dests[i]
		dm.sent = r.Counter(metricPrefix+"sent_total", "Copies accepted by the destination's output.", ls...)
		dm.acked = r.Counter(metricPrefix+"acked_total", "Acks received from the destination.", ls...)
		dm.nacked = r.Counter(metricPrefix+"nacked_total", "Nacks received from the destination, and sends refused by its closed output.", ls...)
		dm.timedOut = r.Counter(metricPrefix+"timed_out_total", "Copies that got no outcome within the destination's timeout.", ls...)
		dm.late = r.Counter(metricPrefix+"late_answers_total", "Outcomes that arrived after the copy stopped being awaited (timed out, or the request was gone); ignored.", ls...)
		dm.queued = r.Gauge(metricPrefix+"queued", "Copies waiting for room on the destination's output.", ls...)
		for k := range numSkipReasons {
			dm.skipped[k] = r.Counter(metricPrefix+"skipped_total", "Copies never sent to the destination, by reason.",
				telemetry.With(ls, telemetry.Label{Name: "reason", Value: k.String()})...)
		}
	}
	m.maxInflight.Set(int64(pl.maxInflight))
	return m
}

// upstreamNack counts one nack sent upstream.
func (m *metrics) upstreamNack(c pdata.Cause) {
	if int(c) >= len(m.upstreamNacks) {
		c = pdata.CauseUnspecified // a cause newer than this build: still counted
	}
	m.upstreamNacks[c].Inc()
}
