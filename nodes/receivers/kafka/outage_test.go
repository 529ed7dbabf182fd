package kafka_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ackflow/ackflow/pdata"
)

// The broker goes away mid-stream and comes back: kfake keeps its log and
// the group's offsets in a data directory, and a new cluster is started on
// the same port from it (a broker restart, as far as the client can tell:
// connections refused, then the same address answering with the same
// data).
//
// franz-go ends the group session at the first heartbeat that fails, so
// the receiver loses its partitions soon after the broker goes: the
// records in the pipeline are abandoned, and their outcomes, coming during
// the outage, are late. Once the broker is back the group is joined again
// from the committed offsets. Nothing acked is lost, the offsets committed
// before the outage hold (no record below them is delivered again), no
// commit ever passes a record before its ack, and every record, old and
// new, is delivered at least once; each duplicate delivery is accounted
// for by the receiver's own counters.
func TestBrokerOutage(t *testing.T) {
	t.Run("group_kept", func(t *testing.T) { testBrokerOutage(t, false) })
	t.Run("group_forgotten", func(t *testing.T) { testBrokerOutage(t, true) })
}

// testBrokerOutage is TestBrokerOutage; with forget the broker comes back
// without the group's members (as if their sessions had ended while it was
// down): the member joins again as a new one.
func testBrokerOutage(t *testing.T, forget bool) {
	const parts, perRound, committedBefore = 2, 10, 6
	c := newDurableCluster(t, map[string]int32{"logs": parts})
	f := c.start("timeout: 2s")
	led := newLedger()
	mon := c.watchCommits(led, "logs", parts)

	// Before the outage: records 0..5 of each partition acked and
	// committed, 6, 7 and 9 in the pipeline, 8 in a backoff after a
	// transient nack.
	led.produce(c.cluster, "logs", parts, 0, perRound)
	held := map[string]*pdata.Message{}
	for range parts * perRound {
		m := f.next()
		b := led.delivered(t, m)
		switch i := led.index(b); {
		case i < committedBefore:
			led.ack(f, b, m)
		case i == 8:
			f.nack(m, false)
		default:
			held[b] = m
		}
	}
	for p := range int32(parts) {
		c.waitCommitted("logs", p, committedBefore)
	}

	c.stopBroker()
	if _, err := c.tryCommitted("logs", 0); err == nil {
		t.Fatal("the broker still answers after it stopped")
	}
	f.waitMetric(parts, "ackflow_receiver_kafka_partition_events_total", "event", "lost")
	for _, m := range held { // outcomes during the outage: late, so not in the ledger
		f.ack(m)
	}
	if n := f.metric("ackflow_receiver_kafka_late_outcomes_total"); n != float64(len(held)) {
		t.Errorf("late outcomes = %v, want %d (the acks of the lost partitions' records)", n, len(held))
	}

	if forget {
		c.forgetMembers()
	}
	c.startBroker()
	led.produce(c.cluster, "logs", parts, perRound, 2*perRound)
	waitFor(t, "every partition committed to its end", func() bool {
		select {
		case m := <-f.fx.sent:
			led.ack(f, led.delivered(t, m), m)
			return false
		default:
		}
		if c.clock.Timers() > 0 {
			c.clock.Advance(time.Second) // a failed commit's retry
		}
		for p := range int32(parts) {
			if o, err := c.tryCommitted("logs", p); err != nil || o != 2*perRound {
				return false
			}
		}
		return true
	})
	mon.stop()

	// No acked record lost, every record delivered, nothing committed
	// delivered twice.
	for b := range led.where {
		if led.deliveries[b] == 0 {
			t.Errorf("record %s was never delivered", b)
		}
		if led.ackSeq[b] == 0 {
			t.Errorf("record %s was never acked", b)
		}
		if led.index(b) < committedBefore && led.deliveries[b] != 1 {
			t.Errorf("record %s, committed before the outage, was delivered %d times", b, led.deliveries[b])
		}
	}
	// No commit passed a record before its ack; offsets never went back.
	mon.check(t, c.read("logs", 2*parts*perRound), led)

	// Every duplicate delivery is one the receiver counted: a redelivery
	// after a transient nack, a record abandoned unsettled, or one settled
	// but not committed when its partition was lost.
	redelivered := f.metric("ackflow_receiver_kafka_redelivered_records_total")
	abandoned := f.metric("ackflow_receiver_kafka_abandoned_records_total")
	uncommitted := f.metric("ackflow_receiver_kafka_duplicate_records_total")
	dups := led.duplicates()
	t.Logf("%d duplicate deliveries: %v redelivered after a transient nack, %v abandoned unsettled, %v settled but uncommitted; %v commits failed; %v partitions lost",
		dups, redelivered, abandoned, uncommitted, f.metric("ackflow_receiver_kafka_commits_total", "outcome", "failure"),
		f.metric("ackflow_receiver_kafka_partition_events_total", "event", "lost"))
	if abandoned < float64(parts*(perRound-committedBefore)) {
		t.Errorf("abandoned = %v, want at least %d (records 6..9 of each partition, unsettled when it was lost)",
			abandoned, parts*(perRound-committedBefore))
	}
	if dups < parts*(perRound-committedBefore) {
		t.Errorf("%d duplicate deliveries, want at least %d (records 6..9 of each partition, delivered before and after)",
			dups, parts*(perRound-committedBefore))
	}
	if float64(dups) > redelivered+abandoned+uncommitted {
		t.Errorf("%d duplicate deliveries, more than the receiver counted (%v redelivered, %v abandoned, %v settled but uncommitted)",
			dups, redelivered, abandoned, uncommitted)
	}
	f.stop()
	f.stopped()
}

// durableCluster is a cluster whose broker keeps its log, topics and group
// offsets in a directory, so that it can be stopped and started again on
// the same address.
type durableCluster struct {
	*cluster
	dir  string
	port int
}

func newDurableCluster(t testing.TB, topics map[string]int32) *durableCluster {
	t.Helper()
	dir := t.TempDir()
	c := newClusterWith(t, topics, []kfake.Opt{kfake.DataDir(dir)}, nil)
	_, portText, err := net.SplitHostPort(c.addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	return &durableCluster{cluster: c, dir: dir, port: port}
}

// stopBroker closes the cluster: its state is saved to the directory, its
// connections close and new ones are refused.
func (d *durableCluster) stopBroker() { d.kf.Close() }

// forgetMembers removes the stopped broker's saved group members (kfake
// restores them, with their sessions, from session_state.json), so that
// the members of the group are unknown when it starts again; the group's
// committed offsets stay.
func (d *durableCluster) forgetMembers() {
	d.t.Helper()
	if err := os.Remove(filepath.Join(d.dir, "session_state.json")); err != nil {
		d.t.Fatalf("forget the group's members: %v", err)
	}
}

// startBroker starts the cluster again from the directory on the same
// port. It retries the bind for a while: between the close and the start
// the kernel may lend the port to an outgoing connection.
func (d *durableCluster) startBroker() {
	d.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond),
			kfake.Ports(d.port), kfake.DataDir(d.dir))
		if err == nil {
			d.kf = kf
			d.t.Cleanup(kf.Close)
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("restart the broker on port %d: %v", d.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tryCommitted is committed without failing the test when the broker does
// not answer (it is down): -1 if the group has no offset for topic/p.
func (c *cluster) tryCommitted(topic string, p int32) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	offs, err := c.adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	o, ok := offs.Lookup(topic, p)
	if !ok {
		return -1, nil
	}
	if o.Err != nil {
		return 0, o.Err
	}
	return o.At, nil
}

// ledger records what a test produced, what the receiver delivered and
// when each record was first acked, in one sequence with the commit
// samples.
type ledger struct {
	mu         sync.Mutex
	seq        uint64
	where      map[string][2]int // body: partition, index (= offset)
	deliveries map[string]int
	ackSeq     map[string]uint64 // body: seq of its first ack (0: none)
	byValue    map[string]string // a record's value: its body
}

func newLedger() *ledger {
	return &ledger{where: map[string][2]int{}, deliveries: map[string]int{}, ackSeq: map[string]uint64{}, byValue: map[string]string{}}
}

// produce writes records from..to-1 to each partition, one request of one
// log each; record i of partition p has the body of tag "o<p>-<i>".
func (l *ledger) produce(c *cluster, topic string, parts, from, to int) {
	for p := range parts {
		vals := make([][]byte, 0, to-from)
		for i := from; i < to; i++ {
			tag := fmt.Sprintf("o%d-%d", p, i)
			l.mu.Lock()
			v := logRecord(tag)
			l.where[body(tag)] = [2]int{p, i}
			l.byValue[string(v)] = body(tag)
			l.mu.Unlock()
			vals = append(vals, v)
		}
		c.produce(topic, int32(p), vals...)
	}
}

func (l *ledger) index(b string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.where[b][1]
}

// delivered records a message the receiver sent and returns its body.
func (l *ledger) delivered(t *testing.T, m *pdata.Message) string {
	t.Helper()
	bs := bodies(t, m)
	if len(bs) != 1 {
		t.Fatalf("a message of %d records, want 1", len(bs))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.where[bs[0]]; !ok {
		t.Fatalf("the receiver sent %q, which was never produced", bs[0])
	}
	l.deliveries[bs[0]]++
	return bs[0]
}

// ack records b's ack, then acks m.
func (l *ledger) ack(f *fixture, b string, m *pdata.Message) {
	l.mu.Lock()
	l.seq++
	if l.ackSeq[b] == 0 {
		l.ackSeq[b] = l.seq
	}
	l.mu.Unlock()
	f.ack(m)
}

// now returns the next sequence number.
func (l *ledger) now() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return l.seq
}

// duplicates returns the deliveries beyond each record's first.
func (l *ledger) duplicates() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, d := range l.deliveries {
		if d > 1 {
			n += d - 1
		}
	}
	return n
}

// commitWatch samples the group's committed offsets until stopped. A
// sample is taken from the broker, then stamped with the ledger's
// sequence: a record whose ack has a lower stamp was acked before the
// commit was read.
type commitWatch struct {
	samples []commitSample
	failed  int // samples the broker did not answer
	mu      sync.Mutex
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

type commitSample struct {
	partition int
	offset    int64
	seq       uint64
}

func (c *cluster) watchCommits(l *ledger, topic string, parts int) *commitWatch {
	w := &commitWatch{done: make(chan struct{})}
	w.wg.Go(func() {
		for {
			for p := range parts {
				o, err := c.tryCommitted(topic, int32(p))
				seq := l.now()
				w.mu.Lock()
				if err != nil {
					w.failed++
				} else {
					w.samples = append(w.samples, commitSample{p, o, seq})
				}
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	c.t.Cleanup(w.stop)
	return w
}

// stop ends the sampling and waits for it. Idempotent.
func (w *commitWatch) stop() {
	w.once.Do(func() { close(w.done) })
	w.wg.Wait()
}

// check verifies every sample against the records of the topic: each
// record below a committed offset was acked before the sample was read,
// and a partition's committed offset never went back.
func (w *commitWatch) check(t *testing.T, recs []*kgo.Record, l *ledger) {
	t.Helper()
	at := map[[2]int64]string{} // partition, offset: body
	for _, r := range recs {
		b, ok := l.byValue[string(r.Value)]
		if !ok {
			t.Fatalf("%s/%d@%d holds a record the test did not produce", r.Topic, r.Partition, r.Offset)
		}
		at[[2]int64{int64(r.Partition), r.Offset}] = b
	}
	last := map[int]int64{}
	for _, s := range w.samples {
		if prev, ok := last[s.partition]; ok && s.offset < prev {
			t.Errorf("partition %d: committed offset went back from %d to %d", s.partition, last[s.partition], s.offset)
		}
		last[s.partition] = s.offset
		for o := int64(0); o < s.offset; o++ {
			b, ok := at[[2]int64{int64(s.partition), o}]
			if !ok {
				t.Fatalf("partition %d: committed %d, but offset %d holds no record", s.partition, s.offset, o)
			}
			if a := l.ackSeq[b]; a == 0 || a > s.seq {
				t.Fatalf("partition %d: committed %d before record %s at offset %d was acked", s.partition, s.offset, b, o)
			}
		}
	}
	if len(w.samples) == 0 {
		t.Fatal("no commit sample was read")
	}
}
