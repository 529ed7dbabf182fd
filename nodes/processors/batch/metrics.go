package batch

import (
	"strconv"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// trigger is why a buffer was flushed: the closed set of the `trigger`
// label of flushes_total.
type trigger uint8

const (
	triggerSize     trigger = iota // the pending size reached the lower limit (every input in split-only mode)
	triggerTimer                   // the batch reached max_batch_duration
	triggerLimit                   // every held input was pending: nothing could join the batch until it was sent
	triggerShutdown                // the node is shutting down
	triggerIdle                    // nothing more was ready for the node (flush_when_idle)
	triggerCount
)

var triggerNames = [triggerCount]string{"size", "timer", "limit", "shutdown", "idle"}

func (t trigger) String() string {
	if t < triggerCount {
		return triggerNames[t]
	}
	return "trigger(" + strconv.Itoa(int(t)) + ")"
}

// bufMetrics are the series of one (signal, form) buffer. The telemetry
// registry has no histogram, so per-flush quantities are counted as sums
// (divide by flushes_total for the mean) and durations are exported as the
// value of the latest flush.
type bufMetrics struct {
	flushes       [triggerCount]*telemetry.Counter // {flush} flushes by trigger
	pendingInputs *telemetry.Counter               // {message} inputs pending at flush, summed over flushes
	pendingItems  *telemetry.Counter               // {item} items pending at flush, summed over flushes
	pendingBytes  *telemetry.Counter               // By bytes pending at flush, summed over flushes (OTLP only)
	age           *telemetry.FloatGauge            // s first arrival to flush, latest flush
	lateness      *telemetry.FloatGauge            // s flush time minus the batch's deadline, latest timer flush
	outputs       *telemetry.Counter               // {message} batches cut
	outputItems   *telemetry.Counter               // {item} items in the batches cut
	outputBytes   *telemetry.Counter               // By bytes in the batches cut (OTLP only)
	inflight      *telemetry.Gauge                 // {message} batches sent, outcome not yet received
	held          *telemetry.Gauge                 // {message} batches cut, waiting for outbound room
	inputs        *telemetry.Gauge                 // {message} inputs held: pending or awaiting their batches' outcomes
}

// metrics are the node's own series, on top of the received/sent/acked/
// nacked/dropped items every node gets from the engine. Gauges are moved
// with Add, never Set: the copies of a pipeline share the series.
type metrics struct {
	buf [numBuffers]*bufMetrics // nil for an inactive form

	acked          *telemetry.Counter             // {message} inputs acked upstream
	nacked         [causeCount]*telemetry.Counter // {message} inputs nacked upstream, by cause
	empty          *telemetry.Counter             // {message} inputs without items, acked at once
	converted      [2]*telemetry.Counter          // {message} inputs converted to the other form, by target form
	entrySplits    *telemetry.Counter             // {entry} oversize resource entries decoded and split by records
	fragments      *telemetry.Counter             // {message} fragments those splits produced
	splitFallbacks *telemetry.Counter             // {entry} oversize entries sent whole because a split budget was exceeded
	oversize       *telemetry.Counter             // {message} batches over max_size (one indivisible entry or record)
	staleWakeups   *telemetry.Counter             // {wakeup} wakeups ignored: batch gone, too young, or unknown slot
	lateOutcomes   *telemetry.Counter             // {message} outcomes for batches no longer tracked, ignored
	skipped        *telemetry.Counter             // {message} held batches not sent because all their inputs were already nacked
	rebuilt        *telemetry.Counter             // {message} held batches rebuilt without the data of inputs nacked meanwhile
	throttled      *telemetry.Gauge               // 1 while AcceptPData is false (per copy, summed)
}

// causeCount is the size of the closed set pdata.Causes().
const causeCount = 6

// newMetrics registers the families in r under the node's labels, with
// per-buffer series only for the active forms. A nil r gives working,
// unregistered metrics.
func newMetrics(r *telemetry.Registry, labels []telemetry.Label, active [numBuffers]bool) *metrics {
	const prefix = "ackflow_processor_batch_"
	m := &metrics{
		acked: r.Counter(prefix+"inputs_acked_total",
			"Inputs acked upstream: every batch holding their data was acked.", labels...),
		empty: r.Counter(prefix+"inputs_empty_total",
			"Inputs without items, acked at once and not forwarded.", labels...),
		entrySplits: r.Counter(prefix+"entry_splits_total",
			"Resource entries larger than max_size decoded and split by records.", labels...),
		fragments: r.Counter(prefix+"split_fragments_total",
			"Fragments produced by splitting oversize resource entries.", labels...),
		splitFallbacks: r.Counter(prefix+"split_budget_fallbacks_total",
			"Oversize resource entries sent whole because a split budget was exceeded.", labels...),
		oversize: r.Counter(prefix+"oversize_batches_total",
			"Batches larger than max_size: one resource entry or record that cannot be split further.", labels...),
		staleWakeups: r.Counter(prefix+"stale_wakeups_total",
			"Wakeups ignored: the batch they were for was already flushed, is younger than max_batch_duration, or the slot is unknown.", labels...),
		lateOutcomes: r.Counter(prefix+"late_outcomes_total",
			"Acks and nacks for batches the node no longer tracks (after a forced shutdown, or not its own), ignored.", labels...),
		skipped: r.Counter(prefix+"batches_skipped_total",
			"Held batches not sent because every input they carried was already nacked.", labels...),
		rebuilt: r.Counter(prefix+"batches_rebuilt_total",
			"Held batches rebuilt without the data of inputs that were nacked while they waited.", labels...),
		throttled: r.Gauge(prefix+"throttled",
			"1 per pipeline copy while the node refuses data because an inbound_request_limit is reached.", labels...),
	}
	for _, c := range pdata.Causes() {
		m.nacked[c] = r.Counter(prefix+"inputs_nacked_total",
			"Inputs nacked upstream, by cause.", telemetry.With(labels, telemetry.Label{Name: "cause", Value: c.String()})...)
	}
	for _, f := range []pdata.Form{pdata.FormOTLP, pdata.FormDecoded} {
		m.converted[f] = r.Counter(prefix+"inputs_converted_total",
			"Inputs converted to the form the node batches in, by target form.",
			telemetry.With(labels, telemetry.Label{Name: "to", Value: formName(f)})...)
	}
	for k := range bufKey(numBuffers) {
		if !active[k] {
			continue
		}
		ls := telemetry.With(labels,
			telemetry.Label{Name: "signal", Value: k.signal().String()},
			telemetry.Label{Name: "form", Value: formName(k.form())})
		b := &bufMetrics{
			pendingInputs: r.Counter(prefix+"flush_pending_inputs_total",
				"Inputs pending at each flush, summed over flushes.", ls...),
			pendingItems: r.Counter(prefix+"flush_pending_items_total",
				"Items pending at each flush, summed over flushes.", ls...),
			age: r.FloatGauge(prefix+"flush_age_seconds",
				"Age of the batch (since its first input arrived) at the latest flush.", ls...),
			lateness: r.FloatGauge(prefix+"timer_lateness_seconds",
				"Delay between a batch's deadline and its timer flush, at the latest timer flush.", ls...),
			outputs: r.Counter(prefix+"flush_outputs_total",
				"Batches cut by flushes.", ls...),
			outputItems: r.Counter(prefix+"output_items_total",
				"Items in the batches cut.", ls...),
			inflight: r.Gauge(prefix+"batches_in_flight",
				"Batches sent whose outcome has not come back.", ls...),
			held: r.Gauge(prefix+"batches_held",
				"Batches cut and waiting for room under outbound_request_limit.", ls...),
			inputs: r.Gauge(prefix+"inputs_held",
				"Inputs held (pending or awaiting the outcome of their batches), counted against inbound_request_limit.", ls...),
		}
		if k.form() == pdata.FormOTLP {
			b.pendingBytes = r.Counter(prefix+"flush_pending_bytes_total",
				"Bytes pending at each flush, summed over flushes.", ls...)
			b.outputBytes = r.Counter(prefix+"output_bytes_total",
				"Bytes in the batches cut.", ls...)
		}
		for t := range triggerCount {
			b.flushes[t] = r.Counter(prefix+"flushes_total",
				"Flushes, by trigger.", telemetry.With(ls, telemetry.Label{Name: "trigger", Value: t.String()})...)
		}
		m.buf[k] = b
	}
	return m
}

// formName is the `form` label value of a payload form.
func formName(f pdata.Form) string {
	if f == pdata.FormOTLP {
		return "otlp"
	}
	return "decoded"
}
