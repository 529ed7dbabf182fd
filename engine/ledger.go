package engine

import (
	"log/slog"
	"sync"
	"time"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// Flow is a snapshot of a pipeline's item accounting (all copies), for one
// signal or all of them: admitted = delivered + nacked + dropped + in
// flight. The counters are read one after the other while traffic flows,
// so in flight is exact only at rest (see ledger.check for what is
// checked while it flows).
type Flow struct {
	Admitted, Delivered, Nacked, Dropped uint64
	// Persisted is the part of Delivered that a node (a durable buffer,
	// see Persister) acked upstream once stored and still holds.
	Persisted uint64
	// OldestInFlight is a lower bound of how long ago the oldest item in
	// flight was admitted: 0 when none is, or when it is younger than the
	// accounting's resolution (268 ms up to 68.7 s, 68.7 s beyond).
	OldestInFlight time.Duration
}

// InFlight is what was admitted and has no final outcome yet. A message
// settled downstream before its receiver's send returned (and counted it
// as admitted) can make it lag for an instant; it is never negative.
func (f Flow) InFlight() uint64 {
	done := f.Delivered + f.Nacked + f.Dropped
	if done > f.Admitted {
		return 0
	}
	return f.Admitted - done
}

func (f *Flow) add(o Flow) {
	f.Admitted += o.Admitted
	f.Delivered += o.Delivered
	f.Nacked += o.Nacked
	f.Dropped += o.Dropped
	f.Persisted += o.Persisted
	f.OldestInFlight = max(f.OldestInFlight, o.OldestInFlight)
}

// SignalFlow is the accounting of one signal.
type SignalFlow struct {
	Signal pdata.Signal
	Flow
}

// Mismatch kinds, the `check` of a logged accounting mismatch.
const (
	// mismatchSlot: an admission-time slot settled more items than it
	// admitted: an item settled twice, or settled without being admitted.
	mismatchSlot = "outcome_without_admission"
	// mismatchExit: the pipeline stopped and admitted != delivered +
	// nacked + dropped: items lost without an outcome (or settled twice).
	mismatchExit = "unbalanced_at_exit"
)

// ledger is the item accounting of one configured pipeline, every copy
// together: the exported counters, per signal, and the conservation check
// (see Engine.Status and docs/OPERATIONS-status.md). The counters are
// incremented on the hot path (flowCounters); everything else here runs
// when the status is read.
type ledger struct {
	name   string
	clock  *coarseClock // admission stamps count from its base time
	log    *slog.Logger
	flow   [numSignals]flowCounters
	copies []*pipeline

	mu       sync.Mutex
	reported [numSignals]map[string]uint64 // check -> largest amount already reported
}

// flowCounters are a pipeline's exported item accounting for one signal:
// ackflow_signal_<what>_items_total{pipeline,signal} and
// ackflow_accounting_mismatch_total{pipeline,signal}. The totals over
// signals are ackflow_pipeline_<what>_items_total{pipeline}.
type flowCounters struct {
	admitted   *telemetry.Counter // {item} items receivers admitted
	delivered  *telemetry.Counter // {item} admitted items whose final outcome was an ack
	nacked     *telemetry.Counter // {item} admitted items whose final outcome was a nack
	dropped    *telemetry.Counter // {item} admitted items a node discarded on purpose
	mismatches *telemetry.Counter // {mismatch} distinct conservation-check failures
}

func newLedger(reg *telemetry.Registry, name string, clk *coarseClock, log *slog.Logger) *ledger {
	l := &ledger{name: name, clock: clk, log: log}
	for _, s := range pdata.Signals() {
		ls := telemetry.Labels("pipeline", name, "signal", s.String())
		l.flow[s] = flowCounters{
			admitted:  reg.Counter("ackflow_signal_admitted_items_total", "Items of the signal receivers admitted into the pipeline.", ls...),
			delivered: reg.Counter("ackflow_signal_delivered_items_total", "Admitted items of the signal whose final outcome was an ack.", ls...),
			nacked:    reg.Counter("ackflow_signal_nacked_items_total", "Admitted items of the signal whose final outcome was a nack.", ls...),
			dropped:   reg.Counter("ackflow_signal_dropped_items_total", "Admitted items of the signal discarded on purpose by a node.", ls...),
			mismatches: reg.Counter("ackflow_accounting_mismatch_total",
				"Distinct failures of the conservation check (admitted = delivered + nacked + dropped + in flight); each is logged once.", ls...),
		}
		l.reported[s] = map[string]uint64{}
	}
	pl := telemetry.Labels("pipeline", name)
	total := func(pick func(*flowCounters) *telemetry.Counter) func() uint64 {
		return func() uint64 {
			var n uint64
			for s := range l.flow {
				n += pick(&l.flow[s]).Value()
			}
			return n
		}
	}
	reg.CounterFunc("ackflow_pipeline_admitted_items_total", "Items receivers admitted into the pipeline.",
		total(func(c *flowCounters) *telemetry.Counter { return c.admitted }), pl...)
	reg.CounterFunc("ackflow_pipeline_delivered_items_total", "Admitted items whose final outcome was an ack.",
		total(func(c *flowCounters) *telemetry.Counter { return c.delivered }), pl...)
	reg.CounterFunc("ackflow_pipeline_nacked_items_total", "Admitted items whose final outcome was a nack.",
		total(func(c *flowCounters) *telemetry.Counter { return c.nacked }), pl...)
	reg.CounterFunc("ackflow_pipeline_dropped_items_total", "Admitted items discarded on purpose by a node.",
		total(func(c *flowCounters) *telemetry.Counter { return c.dropped }), pl...)
	return l
}

// now is the current time in stamp units, read from the clock.
func (l *ledger) now() int64 { return int64(l.clock.clock.Now().Sub(l.clock.base)) }

// stampTime is the coarse time admissions are stamped with.
func (l *ledger) stampTime() int64 { return l.clock.ns.Load() }

// stopped reports whether every copy has stopped: nothing can settle any
// more, so the accounting must balance exactly.
func (l *ledger) stopped() bool {
	for _, p := range l.copies {
		if !isClosed(p.doneC) {
			return false
		}
	}
	return true
}

// read takes a snapshot of every signal's accounting and checks it; see
// check for the rules.
func (l *ledger) read() [numSignals]SignalFlow {
	final := l.stopped()
	now := l.now()
	var out [numSignals]SignalFlow
	for _, s := range pdata.Signals() {
		out[s] = l.readSignal(s, now, final)
	}
	return out
}

// readSignal reads one signal: outcomes before admissions, and each ring
// slot's settlements before its admissions (see ringDiff.accumulate).
func (l *ledger) readSignal(s pdata.Signal, now int64, final bool) SignalFlow {
	c := &l.flow[s]
	f := Flow{Delivered: c.delivered.Value(), Nacked: c.nacked.Value(), Dropped: c.dropped.Value()}
	f.Admitted = c.admitted.Value()
	var rings ringDiff
	var overdrawn uint64
	for _, p := range l.copies {
		for _, n := range p.recvs {
			overdrawn += rings.accumulate(&n.adm[s])
		}
		for _, n := range p.nodes {
			if ps, ok := n.impl().(Persister); ok {
				f.Persisted += uint64(max(ps.PersistedItems(s), 0))
			}
		}
	}
	f.OldestInFlight = rings.oldest(now)
	l.check(s, f, overdrawn, rings.inFlight(), final)
	return SignalFlow{Signal: s, Flow: f}
}

// check is the conservation check of one signal.
//
// While the pipeline runs it cannot false-alarm: every item is added to
// its receiver's admission ring before it is sent, and to the settlement
// ring of its admission time when its final outcome arrives (or its send
// fails), and the rings are read settlements first. A slot that settled
// more than it admitted has seen an item settled twice, or settled without
// an admission. (The counters alone cannot be checked while traffic
// flows: a receiver counts an item as admitted after its send returned,
// by when it may already be delivered.)
//
// Once every copy stopped nothing can be in flight: admitted must equal
// delivered + nacked + dropped exactly, and the rings must be empty.
func (l *ledger) check(s pdata.Signal, f Flow, overdrawn uint64, ringInFlight int64, final bool) {
	if overdrawn > 0 {
		l.mismatch(s, mismatchSlot, overdrawn, f, ringInFlight)
	}
	if !final {
		return
	}
	done := f.Delivered + f.Nacked + f.Dropped
	var diff uint64
	switch {
	case f.Admitted > done:
		diff = f.Admitted - done
	case done > f.Admitted:
		diff = done - f.Admitted
	}
	diff += uint64(abs(ringInFlight))
	if diff > 0 {
		l.mismatch(s, mismatchExit, diff, f, ringInFlight)
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// mismatch counts and logs a failed check once per distinct mismatch: a
// check that fails again with the same or a smaller amount (the status is
// read every second while it lasts) is the same mismatch; a larger amount
// is a new one.
func (l *ledger) mismatch(s pdata.Signal, check string, amount uint64, f Flow, ringInFlight int64) {
	l.mu.Lock()
	if amount <= l.reported[s][check] {
		l.mu.Unlock()
		return
	}
	l.reported[s][check] = amount
	l.mu.Unlock()
	l.flow[s].mismatches.Inc()
	l.log.Error("accounting mismatch: admitted items are not all accounted for (a bug: please report it with this line)",
		"pipeline", l.name, "signal", s.String(), "check", check, "amount", amount,
		"admitted", f.Admitted, "delivered", f.Delivered, "nacked", f.Nacked, "dropped", f.Dropped,
		"in_flight", f.InFlight(), "in_flight_by_admission_time", ringInFlight)
}

// mismatches is the number of distinct mismatches counted so far.
func (l *ledger) mismatches() uint64 {
	var n uint64
	for s := range l.flow {
		n += l.flow[s].mismatches.Value()
	}
	return n
}
