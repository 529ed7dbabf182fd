package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/receivers/kafka"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiverNode is the id the fake effects give the receiver's frames.
const receiverNode pdata.NodeID = 7

// wait bounds every wait for something the receiver, kgo or kfake do on
// their own goroutines (never a timing assertion).
const wait = 20 * time.Second

// quiet is how long a test watches for a message that must not come:
// long enough for kfake and kgo to deliver a record that was not held
// back (milliseconds), short enough for the suite.
const quiet = 300 * time.Millisecond

// group is the consumer group of every test receiver.
const group = "ackflow-test"

// fakeFx captures what the receiver sends; the test settles captured
// messages with the receiver's OnOutcome.
type fakeFx struct {
	clock   *clock.Fake
	sent    chan *pdata.Message
	aborted chan struct{}
}

var _ engine.ReceiverEffects = (*fakeFx)(nil)

func newFakeFx(clk *clock.Fake) *fakeFx {
	return &fakeFx{clock: clk, sent: make(chan *pdata.Message, 4096), aborted: make(chan struct{})}
}

func (f *fakeFx) Now() time.Time { return f.clock.Now() }

func (f *fakeFx) Send(ctx context.Context, m *pdata.Message) error {
	select {
	case f.sent <- m:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-f.aborted:
		return engine.ErrAborted
	}
}

func (f *fakeFx) SendTo(ctx context.Context, _ string, m *pdata.Message) error { return f.Send(ctx, m) }

func (f *fakeFx) TrySend(m *pdata.Message) error {
	select {
	case f.sent <- m:
		return nil
	default:
		return engine.ErrFull
	}
}

func (f *fakeFx) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(receiverNode, in, cd)
}

func (f *fakeFx) Listen(context.Context, string, string) (net.Listener, error) {
	return nil, fmt.Errorf("receiver:kafka listens on nothing")
}

func (f *fakeFx) Aborted() <-chan struct{}    { return f.aborted }
func (f *fakeFx) Drop(*pdata.Message, string) {}
func (f *fakeFx) Ports() []string             { return []string{"default"} }

// cluster is an in-process Kafka (kfake) on 127.0.0.1 with a client that
// produces, consumes and administers for the test.
type cluster struct {
	t     testing.TB
	kf    *kfake.Cluster
	addr  string
	cl    *kgo.Client
	adm   *kadm.Client
	clock *clock.Fake // shared by the test's receivers
}

// newCluster starts a cluster with the topics (name: partitions).
func newCluster(t testing.TB, topics map[string]int32) *cluster {
	return newClusterWith(t, topics, nil, nil)
}

// newClusterWith is newCluster with more cluster options, and client
// options for the test's own client.
func newClusterWith(t testing.TB, topics map[string]int32, kfOpts []kfake.Opt, clOpts []kgo.Opt) *cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	kf, err := kfake.NewCluster(append(opts, kfOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	addr := kf.ListenAddrs()[0]
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner())}, clOpts...)...)
	if err != nil {
		kf.Close()
		t.Fatal(err)
	}
	c := &cluster{t: t, kf: kf, addr: addr, cl: cl, adm: kadm.NewClient(cl), clock: clock.NewFake(nodetest.Start)}
	t.Cleanup(func() { cl.Close(); kf.Close() })
	return c
}

// produce writes values to partition p of topic, in order.
func (c *cluster) produce(topic string, p int32, values ...[]byte) {
	c.t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: p, Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		c.t.Fatalf("produce to %s/%d: %v", topic, p, err)
	}
}

// committed returns the group's committed offset of topic/p, -1 if none.
func (c *cluster) committed(topic string, p int32) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	offs, err := c.adm.FetchOffsets(ctx, group)
	if err != nil {
		c.t.Fatalf("fetch offsets: %v", err)
	}
	o, ok := offs.Lookup(topic, p)
	if !ok || o.Err != nil {
		return -1
	}
	return o.At
}

// waitCommitted waits until the group's committed offset of topic/p is
// want, and fails if it goes past it.
func (c *cluster) waitCommitted(topic string, p int32, want int64) {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got := c.committed(topic, p)
		if got == want {
			return
		}
		if got > want {
			c.t.Fatalf("%s/%d committed at %d, past %d", topic, p, got, want)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s/%d committed at %d after %s, want %d", topic, p, got, wait, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// read consumes n records of topic from the start (its own client, no
// group).
func (c *cluster) read(topic string, n int) []*kgo.Record {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			c.t.Fatalf("read %d records of %s: got %d: %v", n, topic, len(out), err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// config is the YAML block of a test receiver: the cluster, the group,
// fast group timings, reading from the start, a jitter-free backoff of
// 1s doubling to 8s, and cfg (which may override any of it).
func (c *cluster) config(cfg string) string {
	base := map[string]string{
		"brokers":               fmt.Sprintf("[%q]", c.addr),
		"group_id":              group,
		"auto_offset_reset":     "earliest",
		"session_timeout_ms":    "3000",
		"heartbeat_interval_ms": "100",
		"max_fetch_wait_ms":     "50",
		"retry":                 "{initial_interval: 1s, max_interval: 8s, multiplier: 2, randomization_factor: 0}",
		"logs":                  "{topics: [logs]}",
		"metrics":               "{topics: []}",
		"traces":                "{topics: []}",
	}
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimSpace(cfg), "\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
			delete(base, strings.TrimSpace(k))
		}
	}
	keys := make([]string, 0, len(base))
	for k := range base {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, base[k])
	}
	b.WriteString(cfg)
	return b.String()
}

// fixture is one running receiver.
type fixture struct {
	t      testing.TB
	c      *cluster
	fx     *fakeFx
	r      *kafka.Receiver
	reg    *telemetry.Registry
	cancel context.CancelFunc
	done   chan error
}

// start runs a receiver with config(cfg) in the test's group.
func (c *cluster) start(cfg string) *fixture {
	c.t.Helper()
	n, err := nodetest.NodeConfig(kafka.Type, c.config(cfg), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	fac := kafka.NewFactory()
	if err := fac.Validate(n); err != nil {
		c.t.Fatalf("config rejected: %v", err)
	}
	reg := telemetry.NewRegistry()
	rcv, err := fac.NewReceiver(engine.NodeContext{
		Node: n, Pipeline: "test/main", Clock: c.clock, Copies: 1, Logger: testLogger(),
		Metrics: reg, Labels: telemetry.Labels("pipeline", "test/main", "node", "in"),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{t: c.t, c: c, fx: newFakeFx(c.clock), r: rcv.(*kafka.Receiver), reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- f.r.Run(ctx, f.fx) }()
	c.t.Cleanup(f.abort)
	return f
}

// stop begins the drain; wait for Run with stopped.
func (f *fixture) stop() {
	if f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
}

// stopped waits for Run to return.
func (f *fixture) stopped() {
	f.t.Helper()
	select {
	case err := <-f.done:
		if err != nil {
			f.t.Errorf("Run: %v", err)
		}
		f.done = nil
	case <-time.After(wait):
		f.t.Fatalf("Run did not return within %s", wait)
	}
}

// abort stops the receiver at once (the shutdown deadline), if it runs.
func (f *fixture) abort() {
	if f.done == nil {
		return
	}
	f.stop()
	select {
	case <-f.fx.aborted:
	default:
		close(f.fx.aborted)
	}
	f.stopped()
}

// next returns the next message the receiver sent into the pipeline.
func (f *fixture) next() *pdata.Message {
	f.t.Helper()
	select {
	case m := <-f.fx.sent:
		return m
	case <-time.After(wait):
		f.t.Fatalf("no message reached the pipeline within %s", wait)
		return nil
	}
}

// none checks that no message reaches the pipeline for a while.
func (f *fixture) none() {
	f.t.Helper()
	select {
	case m := <-f.fx.sent:
		f.t.Fatalf("unexpected message in the pipeline: %v", bodies(f.t, m))
	case <-time.After(quiet):
	}
}

func (f *fixture) ack(m *pdata.Message) { f.outcome(m, engine.KindAck, pdata.Nack{}) }

func (f *fixture) nack(m *pdata.Message, permanent bool) {
	f.outcome(m, engine.KindNack, pdata.Nack{Reason: "exporter says no", Permanent: permanent})
}

func (f *fixture) outcome(m *pdata.Message, k engine.ControlKind, n pdata.Nack) {
	f.t.Helper()
	fr, ok := m.Unwind(pdata.AcksAndNacks)
	if !ok || fr.Node != receiverNode {
		f.t.Fatalf("message carries no frame of the receiver")
	}
	f.r.OnOutcome(engine.Control{Kind: k, CallData: fr.CallData, Nack: n})
}

// metric sums the receiver's series name whose labels include labels.
func (f *fixture) metric(name string, labels ...string) float64 {
	f.t.Helper()
	var sum float64
	found := false
next:
	for _, s := range f.reg.Snapshot() {
		if s.Name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.Contains(s.Labels, telemetry.Label{Name: labels[i], Value: labels[i+1]}) {
				continue next
			}
		}
		sum += s.Value
		found = true
	}
	if !found {
		f.t.Fatalf("no series %s%v", name, labels)
	}
	return sum
}

// waitMetric polls a metric until it is want.
func (f *fixture) waitMetric(want float64, name string, labels ...string) {
	f.t.Helper()
	deadline := time.Now().Add(wait)
	for f.metric(name, labels...) != want {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s%v = %v after %s, want %v", name, labels, f.metric(name, labels...), wait, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logRecord is an OTLP logs request of one record whose body is body.
func logRecord(body string) []byte { return pdatatest.LogsBytes(body, 1, 0, 0) }

// logRecords are n one-record requests, bodies log-<tag><i>-0.
func logRecords(tag string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = logRecord(fmt.Sprintf("%s%d", tag, i))
	}
	return out
}

// body is the body of request logRecord(tag) as pdatatest writes it.
func body(tag string) string { return "log-" + tag + "-0" }

// bodies returns a logs message's record bodies.
func bodies(t testing.TB, m *pdata.Message) []string {
	t.Helper()
	if m.Payload().Signal() != pdata.Logs {
		return []string{m.Payload().Signal().String()}
	}
	return pdatatest.LogBodies(t, m.Payload())
}

// acker acks every message a receiver sends, recording the bodies, until
// stopped.
type acker struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func (f *fixture) autoAck(seen map[string]int, mu *sync.Mutex, delay time.Duration) *acker {
	a := &acker{done: make(chan struct{})}
	a.wg.Go(func() {
		for {
			select {
			case m := <-f.fx.sent:
				time.Sleep(delay) // a slow pipeline: records stay in flight
				bs := bodies(f.t, m)
				mu.Lock()
				for _, b := range bs {
					seen[b]++
				}
				mu.Unlock()
				f.ack(m)
			case <-a.done:
				return
			}
		}
	})
	return a
}

func (a *acker) stop() {
	close(a.done)
	a.wg.Wait()
}

func testLogger() *slog.Logger {
	if os.Getenv("KAFKA_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
