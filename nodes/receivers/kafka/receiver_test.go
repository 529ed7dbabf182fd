package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// Every signal, both encodings: records produced with kgo reach the
// pipeline as one message each, with their items (otlp_proto as the bytes
// received, otlp_json decoded), and once acked their offsets are committed.
func TestRoundTripEverySignal(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1, "metrics_json": 1, "otlp_spans": 1})
	f := c.start(`
metrics: {topics: [metrics_json], encoding: otlp_json}
traces: {}
`) // traces keeps the Collector's default topic, otlp_spans
	metricsJSON, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(pdatatest.MetricsData("m", 4))
	if err != nil {
		t.Fatal(err)
	}
	traces, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(pdatatest.TracesData("s", 2))
	if err != nil {
		t.Fatal(err)
	}
	c.produce("logs", 0, pdatatest.LogsBytes("l", 3, 0, 8))
	c.produce("metrics_json", 0, metricsJSON)
	c.produce("otlp_spans", 0, traces)

	want := map[pdata.Signal]struct {
		items int
		form  pdata.Form
	}{
		pdata.Logs:    {3, pdata.FormOTLP},
		pdata.Metrics: {4, pdata.FormDecoded},
		pdata.Traces:  {2, pdata.FormOTLP},
	}
	for range 3 {
		m := f.next()
		p := m.Payload()
		w, ok := want[p.Signal()]
		if !ok {
			t.Fatalf("a second %s message", p.Signal())
		}
		delete(want, p.Signal())
		if p.Items() != w.items || p.Form() != w.form {
			t.Errorf("%s: %d items in form %s, want %d in %s", p.Signal(), p.Items(), p.Form(), w.items, w.form)
		}
		f.ack(m)
	}
	for _, topic := range []string{"logs", "metrics_json", "otlp_spans"} {
		c.waitCommitted(topic, 0, 1)
	}
	if n := f.metric("ackflow_receiver_kafka_items_total", "signal", "metrics"); n != 4 {
		t.Errorf("metrics items = %v, want 4", n)
	}
	if n := f.metric("ackflow_receiver_kafka_acked_records_total"); n != 3 {
		t.Errorf("acked records = %v, want 3", n)
	}
	f.waitMetric(0, "ackflow_receiver_kafka_lag")
}

// A transient nack of record 1 while 0 and 2..4 are acked: the commit
// stays at 1, the partition pauses (a new record is not fetched), and
// record 1 comes again after the backoff, from memory, as often as it
// fails; once it is acked the commit moves past every record and fetching
// resumes.
func TestTransientNackHoldsTheCommit(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	f := c.start("")
	c.produce("logs", 0, logRecords("r", 5)...)
	ms := make([]*pdata.Message, 5)
	for i := range ms {
		ms[i] = f.next()
		if got := bodies(t, ms[i]); !slices.Equal(got, []string{body(fmt.Sprint("r", i))}) {
			t.Fatalf("message %d holds %v", i, got)
		}
	}
	f.nack(ms[1], false)
	f.ack(ms[0])
	for _, m := range ms[2:] {
		f.ack(m)
	}
	c.waitCommitted("logs", 0, 1)
	if n := f.metric("ackflow_receiver_kafka_paused_partitions"); n != 1 {
		t.Fatalf("paused partitions = %v, want 1", n)
	}
	c.produce("logs", 0, logRecord("r5"))
	f.none() // the partition is paused
	if got := c.committed("logs", 0); got != 1 {
		t.Fatalf("committed %d after acks of 2..4, want 1", got)
	}

	// The backoff (1s, then 2s) runs on the fake clock.
	for i, backoff := range []time.Duration{time.Second, 2 * time.Second} {
		c.clock.WaitTimers(1)
		c.clock.Advance(backoff)
		again := f.next()
		if got := bodies(t, again); !slices.Equal(got, []string{body("r1")}) {
			t.Fatalf("redelivery %d holds %v, want record 1", i+1, got)
		}
		if got := c.committed("logs", 0); got != 1 {
			t.Fatalf("committed %d before the redelivery's outcome", got)
		}
		if i == 0 {
			f.nack(again, false)
			continue
		}
		f.ack(again)
	}
	c.waitCommitted("logs", 0, 5)
	m5 := f.next() // resumed
	if got := bodies(t, m5); !slices.Equal(got, []string{body("r5")}) {
		t.Fatalf("after the resume: %v, want record 5", got)
	}
	f.ack(m5)
	c.waitCommitted("logs", 0, 6)
	if n := f.metric("ackflow_receiver_kafka_redelivered_records_total"); n != 2 {
		t.Errorf("redelivered = %v, want 2", n)
	}
	if n := f.metric("ackflow_receiver_kafka_nacked_records_total", "kind", "transient"); n != 2 {
		t.Errorf("transient nacks = %v, want 2", n)
	}
	if n := f.metric("ackflow_receiver_kafka_paused_partitions"); n != 0 {
		t.Errorf("paused partitions = %v, want 0", n)
	}
}

// A permanent nack with dead_letter_topic: the record is produced to the
// dead-letter topic (its value, and headers saying why and from where),
// then the offset moves past it.
func TestPermanentNackWithDeadLetterTopic(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1, "dlq": 1})
	f := c.start("dead_letter_topic: dlq")
	c.produce("logs", 0, logRecords("p", 2)...)
	m0, m1 := f.next(), f.next()
	f.ack(m1)
	f.nack(m0, true)
	c.waitCommitted("logs", 0, 2)
	recs := c.read("dlq", 1)
	if got := string(recs[0].Value); got != string(logRecord("p0")) {
		t.Errorf("dead letter value differs from the record's")
	}
	headers := map[string]string{}
	for _, h := range recs[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	orig := c.read("logs", 1)[0]
	if headers["ackflow.dlq.reason"] != "permanent nack: exporter says no" || headers["ackflow.dlq.topic"] != "logs" ||
		headers["ackflow.dlq.partition"] != "0" || headers["ackflow.dlq.offset"] != "0" ||
		headers["ackflow.dlq.timestamp"] != fmt.Sprint(orig.Timestamp.UnixMilli()) {
		t.Errorf("dead letter headers %v", headers)
	}
	if n := f.metric("ackflow_receiver_kafka_dead_lettered_records_total", "reason", "permanent_nack"); n != 1 {
		t.Errorf("dead-lettered = %v, want 1", n)
	}
}

// A permanent nack without dead_letter_topic: the record is dropped and
// counted, and the offset moves past it.
func TestPermanentNackWithoutDeadLetterTopic(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	f := c.start("")
	c.produce("logs", 0, logRecords("p", 2)...)
	m0, m1 := f.next(), f.next()
	f.nack(m0, true)
	c.waitCommitted("logs", 0, 1)
	f.ack(m1)
	c.waitCommitted("logs", 0, 2)
	if n := f.metric("ackflow_receiver_kafka_dropped_records_total", "reason", "permanent_nack"); n != 1 {
		t.Errorf("dropped = %v, want 1", n)
	}
	if n := f.metric("ackflow_receiver_kafka_dropped_items_total", "reason", "permanent_nack"); n != 1 {
		t.Errorf("dropped items = %v, want 1", n)
	}
}

// A dead-letter produce that fails is tried again after the backoff, like
// a transient nack, and the offset waits for it.
func TestFailingDeadLetterProduceIsRetried(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	f := c.start("dead_letter_topic: dlq\ntimeout: 1s") // dlq does not exist yet
	c.produce("logs", 0, logRecord("d0"))
	f.nack(f.next(), true)
	f.waitMetric(1, "ackflow_receiver_kafka_dead_letter_failures_total")
	if got := c.committed("logs", 0); got != 0 {
		t.Fatalf("committed %d after a failed dead-letter produce, want 0", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := c.adm.CreateTopic(ctx, 1, 1, nil, "dlq"); err != nil {
		t.Fatal(err)
	}
	// kgo may still see the topic as unknown for a while (its metadata
	// is refreshed at most every few seconds): each failure waits for its
	// backoff, on the fake clock, and the produce is tried again.
	waitFor(t, "the dead-letter produce to succeed", func() bool {
		if c.committed("logs", 0) == 1 {
			return true
		}
		if c.clock.Timers() > 0 {
			c.clock.Advance(8 * time.Second) // max_interval
		}
		return false
	})
	if recs := c.read("dlq", 1); string(recs[0].Value) != string(logRecord("d0")) {
		t.Error("the dead letter is not the record")
	}
}

// A record that is not a valid request never reaches the pipeline: it is
// dropped (reason malformed) and the offset moves past it, or, with
// dead_letter_topic, it is dead-lettered first.
func TestInvalidRecord(t *testing.T) {
	garbage := []byte{0x0a, 0xff, 0xff, 0xff} // a length that runs past the end
	t.Run("dropped", func(t *testing.T) {
		c := newCluster(t, map[string]int32{"logs": 1})
		f := c.start("")
		c.produce("logs", 0, garbage, logRecord("ok"))
		m := f.next()
		if got := bodies(t, m); !slices.Equal(got, []string{body("ok")}) {
			t.Fatalf("first message %v, want the valid record", got)
		}
		f.ack(m)
		c.waitCommitted("logs", 0, 2)
		if n := f.metric("ackflow_receiver_kafka_dropped_records_total", "reason", "malformed"); n != 1 {
			t.Errorf("dropped malformed = %v, want 1", n)
		}
	})
	t.Run("dead_lettered", func(t *testing.T) {
		c := newCluster(t, map[string]int32{"logs": 1, "dlq": 1})
		f := c.start("dead_letter_topic: dlq\nlogs: {topics: [logs], encoding: otlp_json}")
		c.produce("logs", 0, []byte(`{"resourceLogs": [`))
		c.waitCommitted("logs", 0, 1)
		recs := c.read("dlq", 1)
		var reason string
		for _, h := range recs[0].Headers {
			if h.Key == "ackflow.dlq.reason" {
				reason = string(h.Value)
			}
		}
		if !strings.Contains(reason, "not a valid OTLP export request") {
			t.Errorf("dead letter reason %q", reason)
		}
		if n := f.metric("ackflow_receiver_kafka_dead_lettered_records_total", "reason", "malformed"); n != 1 {
			t.Errorf("dead-lettered malformed = %v, want 1", n)
		}
		f.none()
	})
}

// A consumer that stops without every outcome (the shutdown deadline: a
// crash, as far as the offsets know) commits what was settled; the next
// one resumes from there: the unacked records come again, nothing is
// lost, nothing acked is read twice.
func TestRestartResumesFromTheCommittedOffset(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	first := c.start("")
	c.produce("logs", 0, logRecords("r", 10)...)
	for i := range 10 {
		m := first.next()
		if i < 6 {
			first.ack(m)
		}
	}
	c.waitCommitted("logs", 0, 6)
	first.abort() // records 6..9 are in the pipeline, unsettled
	if got := c.committed("logs", 0); got != 6 {
		t.Fatalf("committed %d after the abort, want 6", got)
	}

	second := c.start("")
	for i := 6; i < 10; i++ {
		m := second.next()
		if got := bodies(t, m); !slices.Equal(got, []string{body(fmt.Sprint("r", i))}) {
			t.Fatalf("after the restart: %v, want record %d", got, i)
		}
		second.ack(m)
	}
	c.waitCommitted("logs", 0, 10)
	second.none()
}

// A drain waits for the outcomes of what is in the pipeline, commits them
// and leaves the group.
func TestDrainWaitsForOutcomes(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	f := c.start("")
	c.produce("logs", 0, logRecords("d", 3)...)
	ms := []*pdata.Message{f.next(), f.next(), f.next()}
	f.ack(ms[0])
	f.stop()
	f.waitMetric(2, "ackflow_receiver_kafka_in_flight_records") // draining, not returned
	select {
	case <-f.done:
		t.Fatal("Run returned with records in the pipeline")
	default:
	}
	f.ack(ms[1])
	f.ack(ms[2])
	f.stopped()
	if got := c.committed("logs", 0); got != 3 {
		t.Fatalf("committed %d after the drain, want 3", got)
	}
}

// Two receivers of one group, the second joining mid-stream: the
// partitions are rebalanced, the first commits what it settled on the
// revoked ones and gives the rest up, and every record is delivered (and
// acked) at least once.
func TestRebalanceMidStream(t *testing.T) {
	const parts, perPart = 4, 50
	c := newCluster(t, map[string]int32{"logs": parts})
	produce := func(round int) {
		for p := range int32(parts) {
			vals := make([][]byte, perPart/2)
			for i := range vals {
				vals[i] = logRecord(fmt.Sprintf("%d-%d-%d", round, p, i))
			}
			c.produce("logs", p, vals...)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	produce(0)
	a := c.start("")
	ackA := a.autoAck(seen, &mu, 2*time.Millisecond)
	defer ackA.stop()
	waitFor(t, "the first receiver to deliver", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= parts*perPart/8 })

	seenB := map[string]int{}
	var muB sync.Mutex
	b := c.start("")
	ackB := b.autoAck(seenB, &muB, 0)
	defer ackB.stop()
	waitFor(t, "the second receiver to own partitions", func() bool {
		return b.metric("ackflow_receiver_kafka_assigned_partitions") > 0
	})
	produce(1)

	waitFor(t, "every partition committed to its end", func() bool {
		for p := range int32(parts) {
			if c.committed("logs", p) != perPart {
				return false
			}
		}
		return true
	})
	mu.Lock()
	muB.Lock()
	defer mu.Unlock()
	defer muB.Unlock()
	for round := range 2 {
		for p := range parts {
			for i := range perPart / 2 {
				k := body(fmt.Sprintf("%d-%d-%d", round, p, i))
				if seen[k]+seenB[k] == 0 {
					t.Errorf("record %s was never delivered", k)
				}
			}
		}
	}
	if len(seenB) == 0 {
		t.Error("the second receiver got no partition: no rebalance happened")
	}
	if n := a.metric("ackflow_receiver_kafka_partition_events_total", "event", "revoked"); n == 0 {
		t.Error("the first receiver revoked no partition")
	}
}

// At max_in_flight_records for a partition the receiver stops fetching it:
// no more than the limit is ever held, and fetching resumes as records
// settle.
func TestInFlightLimitPausesFetching(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	f := c.start("max_in_flight_records: {per_partition: 3, total: 100}")
	c.produce("logs", 0, logRecords("l", 10)...)
	var held []*pdata.Message
	for range 3 {
		held = append(held, f.next())
	}
	f.none()
	if n := f.metric("ackflow_receiver_kafka_paused_partitions"); n != 1 {
		t.Errorf("paused partitions at the limit = %v, want 1", n)
	}
	if n := f.metric("ackflow_receiver_kafka_in_flight_records"); n != 3 {
		t.Errorf("in-flight records = %v, want 3", n)
	}
	got := 3
	for got < 10 {
		// Two settle: the partition is back at half its limit and resumes.
		f.ack(held[0])
		f.ack(held[1])
		held = held[2:]
		for len(held) < 3 && got < 10 {
			held = append(held, f.next())
			got++
		}
		if len(held) == 3 {
			f.none() // at the limit again
		}
	}
	for _, m := range held {
		f.ack(m)
	}
	c.waitCommitted("logs", 0, 10)
}

// The total limit holds every partition back.
func TestTotalInFlightLimit(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 2})
	f := c.start("max_in_flight_records: {per_partition: 3, total: 4}")
	c.produce("logs", 0, logRecords("a", 5)...)
	c.produce("logs", 1, logRecords("b", 5)...)
	var held []*pdata.Message
	for range 4 {
		held = append(held, f.next())
	}
	f.none()
	for _, m := range held {
		f.ack(m)
	}
	for range 6 {
		f.ack(f.next())
	}
	c.waitCommitted("logs", 0, 5)
	c.waitCommitted("logs", 1, 5)
}

// A revoked partition whose outcomes do not come within the timeout: the
// first owner commits what is settled and gives the rest up; the next
// owner reads the unsettled record again (and the settled ones after it:
// bounded duplicates). Nothing is lost.
func TestRevokeWaitsAtMostTheTimeout(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 2})
	a := c.start("timeout: 5s")
	for p := range int32(2) {
		c.produce("logs", p, logRecords(fmt.Sprintf("p%d-", p), 3)...)
	}
	// Hold each partition's record 1; ack the others.
	held := map[string]*pdata.Message{}
	for range 6 {
		m := a.next()
		b := bodies(t, m)[0]
		if strings.HasSuffix(b, "-1-0") {
			held[b] = m
			continue
		}
		a.ack(m)
	}
	c.waitCommitted("logs", 0, 1)
	c.waitCommitted("logs", 1, 1)

	b := c.start("timeout: 5s")
	c.clock.WaitTimers(1) // the first receiver waits for the revoked partition's outcome
	c.clock.Advance(5 * time.Second)
	waitFor(t, "the second receiver to own a partition", func() bool {
		return b.metric("ackflow_receiver_kafka_assigned_partitions") == 1
	})
	// The second receiver reads the revoked partition from offset 1.
	m1, m2 := b.next(), b.next()
	moved := strings.TrimSuffix(bodies(t, m1)[0], "1-0")
	if got := bodies(t, m2)[0]; got != moved+"2-0" {
		t.Fatalf("the new owner read %v then %v, want records 1 and 2 of one partition", bodies(t, m1), got)
	}
	b.ack(m1)
	b.ack(m2)
	for body, m := range held {
		a.ack(m) // the revoked partition's is late: ignored
		_ = body
	}
	c.waitCommitted("logs", 0, 3)
	c.waitCommitted("logs", 1, 3)
	if n := a.metric("ackflow_receiver_kafka_late_outcomes_total"); n != 1 {
		t.Errorf("late outcomes = %v, want 1 (the revoked partition's held record)", n)
	}
}

// A partition lost (a fatal group error: here the coordinator forgets the
// member) is forgotten at once, without a commit: its unsettled records are
// read again once the group is joined again, and the old outcomes are late.
func TestLostPartition(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	f := c.start("")
	c.produce("logs", 0, logRecords("l", 3)...)
	old := []*pdata.Message{f.next(), f.next(), f.next()}
	f.ack(old[0])
	c.waitCommitted("logs", 0, 1)
	c.kf.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.Version = req.GetVersion()
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp, nil, true
	})
	f.waitMetric(1, "ackflow_receiver_kafka_partition_events_total", "event", "lost")
	for i := 1; i < 3; i++ {
		m := f.next()
		if got := bodies(t, m); !slices.Equal(got, []string{body(fmt.Sprint("l", i))}) {
			t.Fatalf("after the loss: %v, want record %d again", got, i)
		}
		f.ack(old[i]) // the lost generation's: late
		f.ack(m)
	}
	c.waitCommitted("logs", 0, 3)
	if n := f.metric("ackflow_receiver_kafka_late_outcomes_total"); n != 2 {
		t.Errorf("late outcomes = %v, want 2", n)
	}
	if n := f.metric("ackflow_receiver_kafka_abandoned_records_total", "reason", "lost"); n != 2 {
		t.Errorf("abandoned lost = %v, want 2", n)
	}
}

// commit.interval batches commits: an ack is committed at the next tick.
func TestCommitInterval(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 1})
	f := c.start("commit: {interval: 5s}")
	c.produce("logs", 0, logRecords("i", 2)...)
	f.ack(f.next())
	f.ack(f.next())
	time.Sleep(quiet)
	if got := c.committed("logs", 0); got != -1 {
		t.Fatalf("committed %d before the interval", got)
	}
	c.clock.WaitTimers(1)
	c.clock.Advance(5 * time.Second)
	c.waitCommitted("logs", 0, 2)
}

// SASL: the receiver authenticates with SCRAM-SHA-256.
func TestSASL(t *testing.T) {
	c := newClusterWith(t, map[string]int32{"logs": 1},
		[]kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "ackflow", "secret")},
		[]kgo.Opt{kgo.SASL(scram.Auth{User: "ackflow", Pass: "secret"}.AsSha256Mechanism())})
	f := c.start("auth: {sasl: {mechanism: SCRAM-SHA-256, username: ackflow, password: secret}}")
	c.produce("logs", 0, logRecord("s"))
	f.ack(f.next())
	c.waitCommitted("logs", 0, 1)
}

// waitFor polls cond (state reached on other goroutines).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
