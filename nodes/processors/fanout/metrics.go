package fanout

import (
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
	"sync/atomic"
)

// skipReason says why a copy was never sent to a destination.
type skipReason uint8

const (
	// skipOriginAcked: a fallback not needed, its chain succeeded.
	skipOriginAcked skipReason = iota
	// skipRequestFailed: await_ack: all failed fast; nothing more is sent.
	skipRequestFailed
	// skipShutdown: the node shut down first (an answered input at
	// Shutdown, any input at the forced Shutdown).
	skipShutdown
	// skipTrailingLimit: the input was answered and abandoned beyond
	// max_trailing.
	skipTrailingLimit
	numSkipReasons
)

var skipReasonNames = [numSkipReasons]string{"origin_acked", "request_failed", "shutdown", "trailing_limit"}

func (r skipReason) String() string {
	if r < numSkipReasons {
		return skipReasonNames[r]
	}
	return "skip(?)"
}

// dropReason says why the node stopped tracking a request before every
// copy resolved: the closed set of the `reason` label of abandoned_total.
type dropReason uint8

const (
	// dropTrailingLimit: answered upstream, and the oldest beyond
	// max_trailing.
	dropTrailingLimit dropReason = iota
	// dropShutdown: answered upstream when Shutdown came, or any request
	// at the forced Shutdown.
	dropShutdown
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"trailing_limit", "shutdown"}

func (r dropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return "drop(?)"
}

// skip is the skipped_total reason of a copy never sent because its
// request was dropped for r.
func (r dropReason) skip() skipReason {
	if r == dropTrailingLimit {
		return skipTrailingLimit
	}
	return skipShutdown
}

// destMetrics are one destination's series, labelled destination=<port>.
type destMetrics struct {
	sent     *telemetry.Counter // {message} copies accepted by the output
	acked    *telemetry.Counter // {message} acks from the destination
	nacked   *telemetry.Counter // {message} nacks from the destination, and sends its closed output refused
	timedOut *telemetry.Counter // {message} copies without an outcome within the timeout
	late     *telemetry.Counter // {message} outcomes that came after the copy stopped being awaited, ignored
	skipped  [numSkipReasons]*telemetry.Counter
	// abandoned: {message} copies sent whose outcome the node stopped
	// awaiting because their request was dropped, by reason.
	abandoned [numDropReasons]*telemetry.Counter
	queued    *telemetry.Gauge // {message} copies waiting for room on the output
	// failStreak is the destination's failures (nacks, refused sends,
	// timeouts) since its last ack, for the status's health; written by
	// the node goroutine, read by status readers.
	failStreak atomic.Int64
}

// succeeded records an ack from the destination.
func (dm *destMetrics) succeeded() {
	dm.acked.Inc()
	dm.failStreak.Store(0)
}

// failed records a failure of the destination, counted on c.
func (dm *destMetrics) failed(c *telemetry.Counter) {
	c.Inc()
	dm.failStreak.Add(1)
}

// metrics are the processor's series. Exported as
// ackflow_processor_fanout_<name>{pipeline,node[,destination|cause|reason]}.
type metrics struct {
	dests            []destMetrics
	upstreamAcks     *telemetry.Counter   // {message} inputs acked upstream
	upstreamNacks    []*telemetry.Counter // {message} inputs nacked upstream, by cause
	active           *telemetry.Gauge     // {request} inputs whose sender waits for the answer (count toward max_inflight)
	trailing         *telemetry.Gauge     // {request} inputs answered upstream whose copies are still tracked
	maxInflight      *telemetry.Gauge     // {request} configured max_inflight
	maxTrailing      *telemetry.Gauge     // {request} configured max_trailing
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
		active:           r.Gauge(metricPrefix+"active_requests", "Inputs whose sender still waits for the answer; they count toward max_inflight.", labels...),
		trailing:         r.Gauge(metricPrefix+"trailing_requests", "Inputs answered upstream whose remaining copies are still tracked (bounded by max_trailing).", labels...),
		maxInflight:      r.Gauge(metricPrefix+"max_inflight", "Configured limit of inputs awaiting their answer and of copies waiting for room.", labels...),
		maxTrailing:      r.Gauge(metricPrefix+"max_trailing", "Configured limit of answered inputs whose copies are still tracked.", labels...),
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
		for k := range numDropReasons {
			dm.abandoned[k] = r.Counter(metricPrefix+"abandoned_total",
				"Copies sent to the destination whose outcome the node stopped awaiting because it dropped their request, by reason; a later outcome counts as a late answer.",
				telemetry.With(ls, telemetry.Label{Name: "reason", Value: k.String()})...)
		}
	}
	m.maxInflight.Set(int64(pl.maxInflight))
	m.maxTrailing.Set(int64(pl.maxTrailing))
	return m
}

// upstreamNack counts one nack sent upstream.
func (m *metrics) upstreamNack(c pdata.Cause) {
	if int(c) >= len(m.upstreamNacks) {
		c = pdata.CauseUnspecified // a cause newer than this build: still counted
	}
	m.upstreamNacks[c].Inc()
}
