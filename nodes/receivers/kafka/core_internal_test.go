package kafka

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

// The core is stepped like raft's state machine: records in, outcomes in,
// effects (jobs, pauses, committable offsets) checked. No Kafka, no clock.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// recorder is the core's hooks, recording what it asked for.
type recorder struct {
	events  []string // "pause logs/0", "resume logs/0"
	commits int
	retries int
	rooms   int
}

func (h *recorder) pause(t tp)      { h.events = append(h.events, "pause "+t.String()) }
func (h *recorder) resume(t tp)     { h.events = append(h.events, "resume "+t.String()) }
func (h *recorder) commitReady()    { h.commits++ }
func (h *recorder) retryScheduled() { h.retries++ }
func (h *recorder) room()           { h.rooms++ }
func (h *recorder) take() []string  { e := h.events; h.events = nil; return e }
func routeAll(string) (route, bool) { return route{signal: pdata.Logs}, true }
func kr(t tp, off int64) *kgo.Record {
	return &kgo.Record{Topic: t.topic, Partition: t.partition, Offset: off, Value: []byte("v")}
}

type harness struct {
	t   *testing.T
	c   *core
	h   *recorder
	reg *telemetry.Registry
	now time.Time
}

func newHarness(t *testing.T, lim limits, dlq string, auto bool) *harness {
	reg := telemetry.NewRegistry()
	h := &recorder{}
	b := backoffPolicy{initial: time.Second, max: 8 * time.Second, multiplier: 2}
	c := newCore(lim, auto, dlq, b, rand.New(rand.NewPCG(1, 2)), routeAll, h, newMetrics(reg, nil))
	return &harness{t: t, c: c, h: h, reg: reg, now: t0}
}

var bigLimits = limits{recPart: 1000, recTotal: 10000, bytesPart: 1 << 20, bytesTotal: 1 << 30}

// deliver admits offsets [from, to) of t and sends each: it returns the
// send jobs, whose records are awaiting their outcomes.
func (h *harness) deliver(t tp, from, to int64) []job {
	h.t.Helper()
	var krs []*kgo.Record
	for o := from; o < to; o++ {
		krs = append(krs, kr(t, o))
	}
	var sends []job
	for _, j := range h.c.admit(t, krs, to) {
		if j.kind != jobDecode {
			h.t.Fatalf("admit returned a %v job", j.kind)
		}
		s, ok := h.c.decoded(j.r, pdatatest.Logs(1))
		if !ok || s.kind != jobSend {
			h.t.Fatalf("record %d not claimed for sending", j.r.offset)
		}
		sends = append(sends, s)
	}
	return sends
}

func (h *harness) ack(j job) {
	h.t.Helper()
	if _, ok := h.c.outcome(j.r.id, j.attempt, true, pdata.Nack{}, h.now); ok {
		h.t.Fatal("an ack started a dead-letter produce")
	}
}

func (h *harness) nack(j job, permanent bool) (job, bool) {
	return h.c.outcome(j.r.id, j.attempt, false, pdata.Nack{Reason: "down", Permanent: permanent}, h.now)
}

// committable returns t's committable offset, -1 when there is none.
func (h *harness) committable(t tp) int64 {
	p := h.c.parts[t]
	if p == nil {
		return -1
	}
	off, ok := h.c.committable(p)
	if !ok {
		return -1
	}
	return off
}

func (h *harness) value(name string, labels ...string) float64 {
	h.t.Helper()
	var sum float64
next:
	for _, s := range h.reg.Snapshot() {
		if s.Name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.Contains(s.Labels, telemetry.Label{Name: labels[i], Value: labels[i+1]}) {
				continue next
			}
		}
		sum += s.Value
	}
	return sum
}

var p0 = tp{"logs", 0}

// The commit rule: out-of-order acks never move the commit past the lowest
// unsettled record; a transient nack holds it (and pauses the partition)
// until the redelivered record is acked.
func TestCommitStopsAtTheLowestUnsettledRecord(t *testing.T) {
	h := newHarness(t, bigLimits, "", false)
	h.c.assign([]tp{p0})
	if got := h.committable(p0); got != -1 {
		t.Fatalf("committable before any record = %d", got)
	}
	js := h.deliver(p0, 0, 5)
	h.ack(js[3])
	h.ack(js[4])
	if got := h.committable(p0); got != 0 {
		t.Fatalf("acks of 3 and 4 moved the commit to %d, want 0", got)
	}
	h.ack(js[0])
	if got := h.committable(p0); got != 1 {
		t.Fatalf("after the ack of 0: committable %d, want 1", got)
	}
	if _, ok := h.nack(js[1], false); ok {
		t.Fatal("a transient nack started a dead-letter produce")
	}
	if got := h.h.take(); !slices.Equal(got, []string{"pause logs/0"}) {
		t.Fatalf("hooks after a transient nack: %v, want the partition paused", got)
	}
	h.ack(js[2])
	if got := h.committable(p0); got != 1 {
		t.Fatalf("a transient nack let the commit pass offset 1: %d", got)
	}

	// Nothing is due before the backoff (1s) ends.
	jobs, next := h.c.due(t0.Add(999 * time.Millisecond))
	if len(jobs) != 0 || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("due before the backoff: %d jobs, next %v", len(jobs), next)
	}
	jobs, _ = h.c.due(t0.Add(time.Second))
	if len(jobs) != 1 || jobs[0].kind != jobSend || jobs[0].r.offset != 1 || jobs[0].attempt != 2 {
		t.Fatalf("due at the backoff: %+v, want offset 1's second attempt", jobs)
	}
	// The first attempt's outcome, coming late, is ignored.
	h.ack(js[1])
	if got := h.value(prefix + "late_outcomes_total"); got != 1 {
		t.Fatalf("late outcomes = %v, want 1", got)
	}
	if got := h.committable(p0); got != 1 {
		t.Fatalf("a stale ack moved the commit to %d", got)
	}
	// A second transient nack doubles the backoff.
	h.now = t0.Add(time.Second)
	h.nack(jobs[0], false)
	if _, next := h.c.due(h.now); !next.Equal(h.now.Add(2 * time.Second)) {
		t.Fatalf("second backoff ends at %v, want +2s", next)
	}
	jobs, _ = h.c.due(h.now.Add(2 * time.Second))
	h.ack(jobs[0])
	if got := h.committable(p0); got != 5 {
		t.Fatalf("after the redelivery's ack: committable %d, want 5", got)
	}
	if got := h.h.take(); !slices.Equal(got, []string{"resume logs/0"}) {
		t.Fatalf("hooks after the redelivery's ack: %v, want the partition resumed", got)
	}
	if got := h.value(prefix + "redelivered_records_total"); got != 2 {
		t.Errorf("redelivered = %v, want 2", got)
	}
	if got := h.value(prefix+"nacked_records_total", "kind", "transient"); got != 2 {
		t.Errorf("transient nacks = %v, want 2", got)
	}
}

// toCommit and committed: a partition is committed once per move, and a
// failed commit is tried again.
func TestToCommitOncePerMove(t *testing.T) {
	h := newHarness(t, bigLimits, "", false)
	h.c.assign([]tp{p0})
	js := h.deliver(p0, 10, 12)
	// The start position is committed before anything settles, so that a
	// restart does not reset (auto_offset_reset: latest) past records
	// fetched and not yet delivered.
	offs := h.c.toCommit(nil)
	if len(offs) != 1 || offs[0].offset != 10 {
		t.Fatalf("to commit before any outcome: %+v, want the start position 10", offs)
	}
	h.c.committed(offs, nil)
	h.ack(js[0])
	offs = h.c.toCommit(nil)
	if len(offs) != 1 || offs[0].offset != 11 {
		t.Fatalf("to commit: %+v, want logs/0 at 11", offs)
	}
	h.c.committed(offs, map[tp]bool{p0: true}) // failed
	if again := h.c.toCommit(nil); len(again) != 1 {
		t.Fatal("a failed commit is not tried again")
	}
	h.c.committed(offs, nil)
	if again := h.c.toCommit(nil); len(again) != 0 {
		t.Fatalf("a committed offset is committed again: %+v", again)
	}
	if got := h.value(prefix+"committed_offset", "topic", "logs", "partition", "0"); got != 11 {
		t.Errorf("committed_offset gauge = %v, want 11", got)
	}
	if got := h.value(prefix+"lag", "topic", "logs", "partition", "0"); got != 1 {
		t.Errorf("lag gauge = %v, want 1 (high watermark 12)", got)
	}
}

// A permanent nack with a dead-letter topic: the record is produced there
// with its origin in headers, and the commit passes it only once the
// produce succeeded; a failed produce is retried like a transient nack.
func TestPermanentNackGoesToTheDeadLetterTopic(t *testing.T) {
	h := newHarness(t, bigLimits, "dlq", false)
	h.c.assign([]tp{p0})
	js := h.deliver(p0, 0, 2)
	h.ack(js[1])
	dj, ok := h.nack(js[0], true)
	if !ok || dj.kind != jobDeadLetter || dj.dlq.Topic != "dlq" {
		t.Fatalf("permanent nack: job %+v, want a dead-letter produce", dj)
	}
	headers := map[string]string{}
	for _, hd := range dj.dlq.Headers {
		headers[hd.Key] = string(hd.Value)
	}
	if headers["ackflow.dlq.reason"] != "permanent nack: down" || headers["ackflow.dlq.topic"] != "logs" || headers["ackflow.dlq.offset"] != "0" {
		t.Errorf("dead-letter headers %v", headers)
	}
	if got := h.committable(p0); got != 0 {
		t.Fatalf("the commit passed a record before its dead-letter produce succeeded: %d", got)
	}
	h.c.deadLettered(dj.r, errors.New("broker down"), h.now)
	if got := h.committable(p0); got != 0 {
		t.Fatalf("a failed dead-letter produce moved the commit: %d", got)
	}
	jobs, _ := h.c.due(h.now.Add(time.Second))
	if len(jobs) != 1 || jobs[0].kind != jobDeadLetter {
		t.Fatalf("after the backoff: %+v, want the dead-letter produce again", jobs)
	}
	h.c.deadLettered(jobs[0].r, nil, h.now)
	if got := h.committable(p0); got != 2 {
		t.Fatalf("after the dead-letter ack: committable %d, want 2", got)
	}
	if got := h.value(prefix+"dead_lettered_records_total", "reason", "permanent_nack"); got != 1 {
		t.Errorf("dead-lettered = %v", got)
	}
	if got := h.value(prefix + "dead_letter_failures_total"); got != 1 {
		t.Errorf("dead-letter failures = %v", got)
	}
}

// Without a dead-letter topic a permanent nack drops the record (counted),
// and invalid and empty records settle at once.
func TestRecordsThatCanNeverSucceedSettle(t *testing.T) {
	h := newHarness(t, bigLimits, "", false)
	h.c.assign([]tp{p0})
	js := h.deliver(p0, 0, 1)
	if _, ok := h.nack(js[0], true); ok {
		t.Fatal("a permanent nack without a dead-letter topic started a produce")
	}
	jobs := h.c.admit(p0, []*kgo.Record{kr(p0, 1), kr(p0, 2)}, 3)
	if _, ok := h.c.invalid(jobs[0].r, "garbage"); ok {
		t.Fatal("an invalid record without a dead-letter topic started a produce")
	}
	if _, ok := h.c.decoded(jobs[1].r, pdatatest.Logs(0)); ok {
		t.Fatal("an empty request was sent")
	}
	if got := h.committable(p0); got != 3 {
		t.Fatalf("committable %d, want 3", got)
	}
	for reason, want := range map[string]float64{"permanent_nack": 1, "malformed": 1, "empty": 1} {
		if got := h.value(prefix+"dropped_records_total", "reason", reason); got != want {
			t.Errorf("dropped %s = %v, want %v", reason, got, want)
		}
	}
	if got := h.value(prefix+"dropped_items_total", "reason", "permanent_nack"); got != 1 {
		t.Errorf("dropped items of the permanent nack = %v, want 1", got)
	}
}

// The limits: a poll never takes more than a partition has room for, nor
// more than half its limit; a partition pauses at its limit and resumes
// under half of it; the total limit stops polling.
func TestInFlightLimits(t *testing.T) {
	h := newHarness(t, limits{recPart: 4, recTotal: 6, bytesPart: 1 << 20, bytesTotal: 1 << 20}, "", false)
	a, b := tp{"logs", 0}, tp{"logs", 1}
	h.c.assign([]tp{a, b})
	if n, ok := h.c.pollSize(); !ok || n != 2 {
		t.Fatalf("pollSize = %d %v, want 2 (half of per_partition 4)", n, ok)
	}
	ja := h.deliver(a, 0, 3)
	if n, _ := h.c.pollSize(); n != 1 {
		t.Fatalf("pollSize with a at 3 of 4 = %d, want 1", n)
	}
	ja = append(ja, h.deliver(a, 3, 4)...)
	if got := h.h.take(); !slices.Equal(got, []string{"pause logs/0"}) {
		t.Fatalf("at the limit: %v, want logs/0 paused", got)
	}
	if n, _ := h.c.pollSize(); n != 2 {
		t.Fatalf("pollSize with a paused = %d, want 2 (b's half)", n)
	}
	jb := h.deliver(b, 0, 2)
	if n, ok := h.c.pollSize(); ok {
		t.Fatalf("pollSize at the total limit = %d, want none", n)
	}
	h.ack(ja[0])
	if got := h.h.take(); len(got) != 0 {
		t.Fatalf("resumed above half its limit: %v", got)
	}
	h.ack(ja[1])
	if got := h.h.take(); !slices.Equal(got, []string{"resume logs/0"}) {
		t.Fatalf("at half its limit: %v, want logs/0 resumed", got)
	}
	if n, ok := h.c.pollSize(); !ok || n != 2 {
		t.Fatalf("pollSize = %d %v, want 2", n, ok)
	}
	_ = jb
	if got := h.value(prefix + "in_flight_records"); got != 4 {
		t.Errorf("in-flight gauge = %v, want 4", got)
	}
}

// Byte limits size polls by the largest record seen.
func TestByteLimitsSizePolls(t *testing.T) {
	h := newHarness(t, limits{recPart: 1000, recTotal: 1000, bytesPart: 100, bytesTotal: 1000}, "", false)
	h.c.assign([]tp{p0})
	big := &kgo.Record{Topic: "logs", Offset: 0, Value: make([]byte, 10)}
	h.c.admit(p0, []*kgo.Record{big}, 1)
	if n, _ := h.c.pollSize(); n != 5 {
		t.Fatalf("pollSize = %d, want 5 (half of 100 bytes in 10-byte records)", n)
	}
}

// A revoke abandons what waits (queued, in a backoff), waits for what is
// in the pipeline, and the commit stops before the first abandoned record;
// outcomes after the removal are late.
func TestRevokeWaitsThenForgets(t *testing.T) {
	h := newHarness(t, bigLimits, "", false)
	h.c.assign([]tp{p0})
	js := h.deliver(p0, 0, 3)
	h.nack(js[1], false) // in a backoff
	queued := h.c.admit(p0, []*kgo.Record{kr(p0, 3)}, 4)
	h.c.revoke([]tp{p0})
	idle := h.c.waitIdle([]tp{p0})
	select {
	case <-idle:
		t.Fatal("idle with records 0 and 2 in the pipeline")
	default:
	}
	if _, ok := h.c.decoded(queued[0].r, pdatatest.Logs(1)); ok {
		t.Fatal("a record of a revoked partition was sent")
	}
	h.ack(js[0])
	h.ack(js[2])
	select {
	case <-idle:
	default:
		t.Fatal("not idle after every outcome came")
	}
	offs := h.c.toCommit([]tp{p0})
	if len(offs) != 1 || offs[0].offset != 1 {
		t.Fatalf("to commit after the revoke: %+v, want 1 (record 1 was abandoned)", offs)
	}
	h.c.remove([]tp{p0}, abandonRevoked)
	if jobs, _ := h.c.due(t0.Add(time.Hour)); len(jobs) != 0 {
		t.Fatal("a removed partition's record was retried")
	}
	if got := h.value(prefix+"abandoned_records_total", "reason", "revoked"); got != 2 {
		t.Errorf("abandoned = %v, want 2 (the backoff and the queued record)", got)
	}
	if got := h.value(prefix + "in_flight_records"); got != 0 {
		t.Errorf("in flight after the removal = %v", got)
	}
}

// The drain abandons what waits and waits for the pipeline's outcomes;
// a transient nack during the drain abandons its record.
func TestDrainWaitsForEveryOutcome(t *testing.T) {
	h := newHarness(t, bigLimits, "", false)
	a, b := tp{"logs", 0}, tp{"logs", 1}
	h.c.assign([]tp{a, b})
	ja, jb := h.deliver(a, 0, 2), h.deliver(b, 0, 1)
	h.c.drain()
	if jobs := h.c.admit(a, []*kgo.Record{kr(a, 2)}, 3); len(jobs) != 0 {
		t.Fatal("records admitted during the drain")
	}
	idle := h.c.waitIdle(nil)
	h.ack(ja[0])
	h.nack(ja[1], false)
	select {
	case <-idle:
		t.Fatal("idle with b's record in the pipeline")
	default:
	}
	h.ack(jb[0])
	<-idle
	if got := h.committable(a); got != 1 {
		t.Errorf("a committable %d, want 1", got)
	}
	if got := h.committable(b); got != 1 {
		t.Errorf("b committable %d, want 1", got)
	}
}

// commit.mode auto commits what was fetched, whatever its outcome.
func TestAutoModeCommitsWhatWasFetched(t *testing.T) {
	h := newHarness(t, bigLimits, "", true)
	h.c.assign([]tp{p0})
	h.deliver(p0, 0, 3)
	if got := h.committable(p0); got != 3 {
		t.Fatalf("auto: committable %d, want 3", got)
	}
}

// The backoff grows by the multiplier and stops at max_interval; jitter
// stays within the randomization factor.
func TestBackoffDelay(t *testing.T) {
	b := backoffPolicy{initial: time.Second, max: 5 * time.Second, multiplier: 2}
	for n, want := range map[uint64]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 100: 5 * time.Second} {
		if got := b.delay(n, 0.5); got != want {
			t.Errorf("delay(%d) = %v, want %v", n, got, want)
		}
	}
	b.rf = 0.5
	for _, u := range []float64{0, 0.25, 0.999} {
		if got := b.delay(1, u); got < 500*time.Millisecond || got >= 1500*time.Millisecond {
			t.Errorf("delay with jitter u=%v: %v", u, got)
		}
	}
}

// Every state is named, for logs and test failures.
func TestStateNames(t *testing.T) {
	for s := recQueued; s <= recAbandoned; s++ {
		if s.String() == "" {
			t.Errorf("state %d has no name", s)
		}
	}
	_ = fmt.Sprint(p0)
}

// A send that fails is retried after a backoff, unless the receiver is
// stopping: then the record is abandoned, uncommitted, for the next run.
func TestSendFailure(t *testing.T) {
	h := newHarness(t, bigLimits, "", false)
	h.c.assign([]tp{p0})
	js := h.deliver(p0, 0, 2)
	h.c.sendFailed(js[0].r, js[0].attempt, false, h.now)
	if jobs, _ := h.c.due(h.now.Add(time.Second)); len(jobs) != 1 || jobs[0].r.offset != 0 {
		t.Fatalf("a failed send is not retried: %+v", jobs)
	}
	h.c.sendFailed(js[1].r, js[1].attempt, true, h.now)
	if got := h.value(prefix+"abandoned_records_total", "reason", "drain"); got != 1 {
		t.Errorf("abandoned = %v, want 1", got)
	}
	if got := h.committable(p0); got != 0 {
		t.Errorf("committable %d, want 0", got)
	}
}

// The per-partition record limit bounds the window from the lowest
// unsettled record: acks behind a slow record do not make room, so no more
// than the limit is ever read twice by a new owner.
func TestWindowLimit(t *testing.T) {
	h := newHarness(t, limits{recPart: 4, recTotal: 100, bytesPart: 1 << 20, bytesTotal: 1 << 20}, "", false)
	h.c.assign([]tp{p0})
	js := h.deliver(p0, 0, 4)
	h.h.take()
	for _, j := range js[1:] {
		h.ack(j)
	}
	if got := h.h.take(); len(got) != 0 {
		t.Fatalf("acks behind the slow record 0 resumed the partition: %v", got)
	}
	if n, _ := h.c.pollSize(); n != 2 {
		t.Fatalf("pollSize = %d, want 2 (half the limit; the partition is paused)", n)
	}
	h.ack(js[0])
	if got := h.h.take(); !slices.Equal(got, []string{"resume logs/0"}) {
		t.Fatalf("after the slow record's ack: %v, want logs/0 resumed", got)
	}
	if got := h.committable(p0); got != 4 {
		t.Fatalf("committable %d, want 4", got)
	}
}

// A partition given up reads again from its last commit: the records
// settled since (popped, or behind an unsettled one) are counted as
// duplicates, the unsettled ones as abandoned; a successful commit clears
// what it passed. In auto mode the commit passes every record fetched, so
// nothing is counted.
func TestDuplicatesOfAPartitionGivenUp(t *testing.T) {
	h := newHarness(t, bigLimits, "", false)
	h.c.assign([]tp{p0})
	js := h.deliver(p0, 0, 6)
	h.ack(js[0])
	h.ack(js[1])
	h.c.committed(h.c.toCommit(nil), nil) // 2 committed
	h.ack(js[2])
	offs := h.c.toCommit(nil)
	h.c.committed(offs, map[tp]bool{p0: true}) // commit of 3 failed
	h.ack(js[4])                               // behind the unsettled record 3
	h.c.remove([]tp{p0}, abandonLost)
	if got := h.value(prefix+"duplicate_records_total", "reason", "lost"); got != 2 {
		t.Errorf("duplicates = %v, want 2 (records 2 and 4: settled, not committed)", got)
	}
	if got := h.value(prefix+"abandoned_records_total", "reason", "lost"); got != 2 {
		t.Errorf("abandoned = %v, want 2 (records 3 and 5)", got)
	}

	auto := newHarness(t, bigLimits, "", true)
	auto.c.assign([]tp{p0})
	for _, j := range auto.deliver(p0, 0, 3) {
		auto.ack(j)
	}
	auto.c.remove([]tp{p0}, abandonRevoked)
	if got := auto.value(prefix + "duplicate_records_total"); got != 0 {
		t.Errorf("auto mode: duplicates = %v, want 0", got)
	}
}
