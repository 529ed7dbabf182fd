package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ackflow/ackflow/internal/testsink"
)

// The Kafka tier through the built binary: instance A (the edge) takes
// OTLP and produces it to Kafka (exporter:kafka); instance B (the gateway)
// consumes it as a group member (receiver:kafka) and exports OTLP to a
// test sink. The broker is kfake, in this test's process.

// kafkaWait bounds every wait on the two processes and the broker.
const kafkaWait = 30 * time.Second

// kafkaGroup is the gateway's consumer group.
const kafkaGroup = "ackflow-gateway"

// kafkaTopics are the exporter's and receiver's default topics (the
// Collector's) and the gateway's dead-letter topic.
var kafkaTopics = map[string]string{
	testsink.SignalLogs: "otlp_logs", testsink.SignalMetrics: "otlp_metrics", testsink.SignalTraces: "otlp_spans",
}

const deadLetterTopic = "otlp_dead_letters"

// kafkaEdgeConfig is instance A: receiver:otlp → exporter:kafka.
func kafkaEdgeConfig(broker string) string {
	return configHead + fmt.Sprintf(`      edge:
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          kafka:
            type: exporter:kafka
            config: { brokers: [%q], timeout: 20s }
        connections:
          - { from: in, to: kafka }
`, broker)
}

// kafkaGatewayConfig is instance B: receiver:kafka → exporter:otlp_grpc.
// Fast group timings (the test broker allows sessions of 100ms and more);
// permanent refusals of the sink go to the dead-letter topic.
func kafkaGatewayConfig(broker, sink string) string {
	return configHead + fmt.Sprintf(`      gateway:
        nodes:
          kafka:
            type: receiver:kafka
            config:
              brokers: [%q]
              group_id: %s
              auto_offset_reset: earliest
              session_timeout_ms: 3000
              heartbeat_interval_ms: 100
              max_fetch_wait_ms: 50
              dead_letter_topic: %s
              retry: { initial_interval: 100ms, max_interval: 1s }
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: %q, timeout: 10s }
        connections:
          - { from: kafka, to: out }
`, broker, kafkaGroup, deadLetterTopic, sink)
}

// kafkaBroker is a one-broker kfake cluster on 127.0.0.1 with the topics,
// and a client of the test's own.
type kafkaBroker struct {
	kf   *kfake.Cluster
	addr string
	cl   *kgo.Client
	adm  *kadm.Client
}

func newKafkaBroker(t *testing.T) *kafkaBroker {
	t.Helper()
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond),
		kfake.SeedTopics(2, "otlp_logs", "otlp_metrics", "otlp_spans"), kfake.SeedTopics(1, deadLetterTopic))
	if err != nil {
		t.Fatal(err)
	}
	addr := kf.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableClientMetrics())
	if err != nil {
		kf.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); kf.Close() })
	return &kafkaBroker{kf: kf, addr: addr, cl: cl, adm: kadm.NewClient(cl)}
}

// records returns how many records topic holds (end offsets, summed).
func (k *kafkaBroker) records(t *testing.T, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	offs, err := k.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// committed returns the gateway group's committed offsets of topic,
// summed (partitions without one count 0).
func (k *kafkaBroker) committed(t *testing.T, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	offs, err := k.adm.FetchOffsets(ctx, kafkaGroup)
	if err != nil {
		t.Fatalf("committed offsets: %v", err)
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At > 0 {
			n += o.At
		}
	})
	return n
}

// read consumes n records of topic from its start, with no group.
func (k *kafkaBroker) read(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr), kgo.DisableClientMetrics(),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s within %s", len(out), n, topic, kafkaWait)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// holdNextProduce makes the broker sit on the next produce request until
// release is closed; held is closed when it arrives. Other requests are
// served meanwhile (franz-go produces on a connection of its own).
func (k *kafkaBroker) holdNextProduce(held, release chan struct{}) {
	var once atomic.Bool
	k.kf.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		k.kf.DropControl()
		if once.CompareAndSwap(false, true) {
			close(held)
			k.kf.SleepControl(func() { <-release })
		}
		return nil, nil, false // then handled as usual
	})
}

// gateway is a running instance B.
type gateway struct {
	*process
	admin string
}

func startGateway(t *testing.T, k *kafkaBroker, sink *testsink.Sink) *gateway {
	t.Helper()
	p, admin := started(t, writeConfig(t, kafkaGatewayConfig(k.addr, sink.Endpoint())))
	return &gateway{process: p, admin: admin}
}

// stop drains the gateway with SIGINT and checks it exits 0.
func (g *gateway) stop(t *testing.T) {
	t.Helper()
	if err := g.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, g.process); code != exitOK {
		t.Fatalf("the gateway exited %d after SIGINT, want 0:\n%s", code, g.process)
	}
}

// TestKafkaTierEndToEnd: OTLP → A → Kafka → B → sink, every signal. A's
// client is answered OK only once the broker has the records (a held
// produce holds the client's answer); B delivers every item, content
// equal; a permanent refusal at B's sink sends the record to the
// dead-letter topic and the offset moves on; B stopped and started again
// resumes from its committed offset: nothing is delivered twice, nothing
// produced meanwhile is missed.
func TestKafkaTierEndToEnd(t *testing.T) {
	requireComponent(t, "exporter:kafka")
	requireComponent(t, "receiver:kafka")
	k := newKafkaBroker(t)
	sink := testsink.New(t)
	edge := startHostile(t, kafkaEdgeConfig(k.addr), 0)
	cc, err := grpc.NewClient(edge.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The client's OK waits for the broker: while the broker sits on the
	// produce the export is unanswered and the topic empty.
	first := testsink.NewRequest(testsink.SignalLogs, "kafka-held", 6)
	held, release := make(chan struct{}), make(chan struct{})
	var released sync.Once
	releaseProduce := func() { released.Do(func() { close(release) }) }
	t.Cleanup(releaseProduce) // a failure below must not leave the broker's sleeper behind
	k.holdNextProduce(held, release)
	answered := make(chan error, 1)
	go func() { answered <- first.Export(ctx, cc) }()
	select {
	case <-held:
	case err := <-answered:
		t.Fatalf("the export was answered (%v) before the broker saw a produce", err)
	case <-time.After(kafkaWait):
		t.Fatalf("no produce reached the broker:\n%s", edge.process)
	}
	select {
	case err := <-answered:
		t.Fatalf("the client was answered (%v) while the broker held the records", err)
	case <-time.After(300 * time.Millisecond):
	}
	if n := k.records(t, "otlp_logs"); n != 0 {
		t.Fatalf("otlp_logs holds %d records while the produce is held", n)
	}
	releaseProduce()
	if err := <-answered; err != nil {
		t.Fatalf("export after the broker answered: %v\n%s", err, edge.process)
	}
	if n := k.records(t, "otlp_logs"); n != 1 {
		t.Fatalf("otlp_logs holds %d records after the client's OK, want 1", n)
	}

	// Every signal: each OK means the record is at the broker.
	keys := slices.Clone(first.Keys)
	sent := map[string]int64{"otlp_logs": 1}
	for i, sig := range []string{testsink.SignalLogs, testsink.SignalMetrics, testsink.SignalTraces} {
		for j := range 3 {
			req := testsink.NewRequest(sig, fmt.Sprintf("kafka-%d-%d", i, j), 8+j)
			if err := req.Export(ctx, cc); err != nil {
				t.Fatalf("%s request %d: %v\n%s", sig, j, err, edge.process)
			}
			topic := kafkaTopics[sig]
			sent[topic]++
			if n := k.records(t, topic); n != sent[topic] {
				t.Fatalf("after OK of %s request %d: %s holds %d records, want %d", sig, j, topic, n, sent[topic])
			}
			keys = append(keys, req.Keys...)
		}
	}

	// B delivers all of it, each item once, content equal (a key covers
	// every field of its item, its resource and scope).
	gw := startGateway(t, k, sink)
	if err := sink.WaitKeys(keys, kafkaWait); err != nil {
		t.Fatalf("%v\ngateway:\n%s", err, gw.process)
	}
	sink.RequireExactly(t, keys)
	for topic, n := range sent {
		waitKafka(t, fmt.Sprintf("%s committed to its end (%d)", topic, n), func() bool { return k.committed(t, topic) == n })
	}

	// A permanent refusal at the sink: B dead-letters the record, with
	// its bytes as A produced them, and commits past it.
	sink.SetMode(testsink.Permanent)
	refused := testsink.NewRequest(testsink.SignalLogs, "kafka-refused", 5)
	if err := refused.Export(ctx, cc); err != nil {
		t.Fatalf("export of the record the sink will refuse: %v", err)
	}
	sent["otlp_logs"]++
	dead := k.read(t, deadLetterTopic, 1)[0]
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(dead.Value); err != nil {
		t.Fatalf("the dead letter is not an OTLP logs request: %v", err)
	}
	if got := testsink.LogKeys(req.Logs()); !slices.Equal(got, refused.Keys) {
		t.Fatalf("the dead letter holds %d items, not the refused request's %d", len(got), len(refused.Keys))
	}
	if r := kafkaHeader(dead, "ackflow.dlq.reason"); r == "" || kafkaHeader(dead, "ackflow.dlq.topic") != "otlp_logs" {
		t.Errorf("dead letter headers: reason %q, topic %q", r, kafkaHeader(dead, "ackflow.dlq.topic"))
	}
	waitKafka(t, "otlp_logs committed past the dead letter", func() bool { return k.committed(t, "otlp_logs") == sent["otlp_logs"] })
	sink.SetMode(testsink.OK)
	if body := get(t, gw.admin+"/metrics", http.StatusOK); !containsAll(body,
		`ackflow_receiver_kafka_dead_lettered_records_total{pipeline="g/gateway",node="kafka",signal="logs",reason="permanent_nack"} 1`) {
		t.Errorf("the gateway's metrics do not count the dead letter:\n%.3000s", body)
	}

	// B stops (drain: commit, leave the group); A goes on; B starts
	// again and resumes from its commit: only the new records come.
	gw.stop(t)
	var later []string
	for j := range 3 {
		req := testsink.NewRequest(testsink.SignalTraces, fmt.Sprintf("kafka-later-%d", j), 4)
		if err := req.Export(ctx, cc); err != nil {
			t.Fatalf("export while the gateway is down: %v", err)
		}
		sent["otlp_spans"]++
		later = append(later, req.Keys...)
	}
	gw = startGateway(t, k, sink)
	if err := sink.WaitKeys(later, kafkaWait); err != nil {
		t.Fatalf("after the restart: %v\ngateway:\n%s", err, gw.process)
	}
	waitKafka(t, "otlp_spans committed to its end after the restart", func() bool { return k.committed(t, "otlp_spans") == sent["otlp_spans"] })
	sink.RequireExactly(t, append(keys, later...)) // nothing before the commit came twice
	gw.stop(t)
	edge.requireAlive(t)
}

// TestScalingExamplesValidate runs `ackflow validate` on every full
// configuration of docs/SCALING.md (each ```yaml block that starts with
// version:), so that the page's examples stay valid.
func TestScalingExamplesValidate(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "SCALING.md"))
	if err != nil {
		t.Fatal(err)
	}
	var configs []string
	for _, block := range strings.Split(string(doc), "```yaml\n")[1:] {
		body, _, ok := strings.Cut(block, "```")
		if ok && strings.HasPrefix(body, "version:") {
			configs = append(configs, body)
		}
	}
	if len(configs) < 2 {
		t.Fatalf("docs/SCALING.md has %d full configurations, want the edge's and the gateway's", len(configs))
	}
	for i, cfg := range configs {
		stdout, stderr, code := runBinary(t, "validate", "--config", writeConfig(t, cfg))
		if code != exitOK {
			t.Errorf("configuration %d of docs/SCALING.md: exit %d\n%s%s", i+1, code, stdout, stderr)
		}
	}
}

// waitKafka polls cond (state of the broker, changed by the processes).
func waitKafka(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(kafkaWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, kafkaWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func kafkaHeader(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
