package kafka_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/exporters/kafka"
	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

var topics = map[pdata.Signal]string{pdata.Logs: "otlp_logs", pdata.Metrics: "otlp_metrics", pdata.Traces: "otlp_spans"}

// newCluster starts an in-process Kafka of one broker with the default
// topics, closed when the test ends.
func newCluster(t testing.TB, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, "otlp_logs", "otlp_metrics", "otlp_spans")}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// brokersOf is the brokers key for c.
func brokersOf(c *kfake.Cluster) string {
	return "brokers: [" + strings.Join(c.ListenAddrs(), ", ") + "]\n"
}

func newExporter(t testing.TB, cfg string) (*nodetest.Harness, *kafka.Exporter) {
	t.Helper()
	h := nodetest.New(t, kafka.NewFactory(), cfg)
	return h, h.Node.(*kafka.Exporter)
}

// settle delivers completions until no export is in flight.
func settle(t testing.TB, h *nodetest.Harness) {
	t.Helper()
	for h.Pending() > 0 {
		if h.WaitAsync(otlptest.Wait) == 0 {
			t.Fatalf("%d exports still in flight after %s", h.Pending(), otlptest.Wait)
		}
	}
}

// export sends p and returns its outcome once the exporter has settled.
func export(t testing.TB, h *nodetest.Harness, p *pdata.Payload) nodetest.Outcome {
	t.Helper()
	h.SendPData(pdatatest.Msg(p))
	settle(t, h)
	out := h.TakeUpstream()
	if len(out) != 1 {
		t.Fatalf("%d outcomes upstream, want 1", len(out))
	}
	return out[0]
}

func requireAck(t testing.TB, o nodetest.Outcome) {
	t.Helper()
	if o.Kind != engine.KindAck {
		t.Fatalf("nacked: %v", o.Nack)
	}
}

func requireNack(t testing.TB, o nodetest.Outcome, permanent bool, reason ...string) pdata.Nack {
	t.Helper()
	if o.Kind != engine.KindNack {
		t.Fatal("acked, want a nack")
	}
	n := o.Nack
	t.Logf("nack: %v", n)
	if n.Permanent != permanent {
		t.Fatalf("nack %v, want permanent=%t", n, permanent)
	}
	for _, r := range reason {
		if !strings.Contains(n.Reason, r) {
			t.Fatalf("nack reason %q does not mention %q", n.Reason, r)
		}
	}
	return n
}

// endOffsets returns how many records each partition of topic holds (the
// idempotent producer writes contiguous offsets).
func endOffsets(t testing.TB, c *kfake.Cluster, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), otlptest.Wait)
	defer cancel()
	offs, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// count returns the records in topic.
func count(t testing.TB, c *kfake.Cluster, topic string) int64 {
	t.Helper()
	var n int64
	for _, o := range endOffsets(t, c, topic) {
		n += o
	}
	return n
}

// consume reads every record of topic (count says how many there are).
func consume(t testing.TB, c *kfake.Cluster, topic string, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	n := count(t, c, topic)
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...), kgo.DisableClientMetrics(),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), otlptest.Wait)
	defer cancel()
	var out []*kgo.Record
	for int64(len(out)) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s within %s", len(out), n, topic, otlptest.Wait)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestExportSendsBytesAsReceived(t *testing.T) {
	c := newCluster(t, 1)
	h, e := newExporter(t, brokersOf(c))
	defer h.Shutdown(h.Clock.Now())
	payloads := map[pdata.Signal]*pdata.Payload{
		pdata.Logs: pdatatest.LogsPayload("a", 50, 10, 40), pdata.Metrics: pdatatest.Metrics(7), pdata.Traces: pdatatest.Traces(9),
	}
	for _, s := range pdata.Signals() {
		requireAck(t, export(t, h, payloads[s]))
	}
	for _, s := range pdata.Signals() {
		recs := consume(t, c, topics[s])
		want, _ := payloads[s].AppendOTLP(nil)
		if len(recs) != 1 || !bytes.Equal(recs[0].Value, want) {
			t.Fatalf("%s: %d records, want one holding the request's bytes", s, len(recs))
		}
		if recs[0].Key != nil || header(recs[0], "MessageFormat") != "otlp" {
			t.Fatalf("%s: key %q, MessageFormat %q", s, recs[0].Key, header(recs[0], "MessageFormat"))
		}
		m := e.KafkaMetrics()
		if m.Produced(s) != 1 || m.ProducedBytes(s) != uint64(len(want)) || m.Split(s) != 0 || m.Duplicates(s) != 0 {
			t.Fatalf("%s: produced %d (%d bytes), split %d, duplicates %d", s, m.Produced(s), m.ProducedBytes(s), m.Split(s), m.Duplicates(s))
		}
		if got := e.Metrics().Requests(s, "ok"); got != 1 {
			t.Fatalf("%s: requests{status=ok} %d", s, got)
		}
	}
}

func TestExportConcatenatedRequestsAsOneRecord(t *testing.T) {
	c := newCluster(t, 1)
	h, _ := newExporter(t, brokersOf(c))
	defer h.Shutdown(h.Clock.Now())
	p, err := pdata.Concat(pdata.Logs, pdatatest.LogsPayload("a", 3, 0, 8), pdatatest.LogsPayload("b", 4, 0, 8))
	if err != nil {
		t.Fatal(err)
	}
	requireAck(t, export(t, h, p))
	recs := consume(t, c, "otlp_logs")
	want, _ := p.AppendOTLP(nil)
	if len(recs) != 1 || !bytes.Equal(recs[0].Value, want) {
		t.Fatalf("%d records, want one of both requests", len(recs))
	}
}

func TestExportJSON(t *testing.T) {
	c := newCluster(t, 1, kfake.AllowAutoTopicCreation())
	h, _ := newExporter(t, brokersOf(c)+"traces: {encoding: otlp_json}\nmetrics: {encoding: otlp_json}\nlogs: {encoding: otlp_json, topic: json_logs}\nmessage_format_header: fmt\n")
	defer h.Shutdown(h.Clock.Now())
	logs, metrics, traces := pdatatest.LogsPayload("j", 20, 5, 30), pdatatest.Metrics(6), pdatatest.Traces(4)
	for _, p := range []*pdata.Payload{logs, metrics, traces} {
		requireAck(t, export(t, h, p))
	}
	// The broker creates json_logs: allow_auto_create_topics is on.
	check := func(topic string, decode func([]byte) ([]byte, error), want *pdata.Payload) {
		t.Helper()
		recs := consume(t, c, topic)
		if len(recs) != 1 || header(recs[0], "fmt") != "otlp_json" {
			t.Fatalf("%s: %d records", topic, len(recs))
		}
		got, err := decode(recs[0].Value)
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		wantBytes, _ := want.AppendOTLP(nil)
		if !bytes.Equal(got, wantBytes) {
			t.Fatalf("%s: the JSON record does not decode to the payload", topic)
		}
	}
	check("json_logs", func(b []byte) ([]byte, error) {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(b)
		if err != nil {
			return nil, err
		}
		return (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	}, logs)
	check("otlp_metrics", func(b []byte) ([]byte, error) {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(b)
		if err != nil {
			return nil, err
		}
		return (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	}, metrics)
	check("otlp_spans", func(b []byte) ([]byte, error) {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			return nil, err
		}
		return (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	}, traces)
}

func TestSplitOverMaxMessageBytes(t *testing.T) {
	c := newCluster(t, 1)
	h, e := newExporter(t, brokersOf(c)+"max_message_bytes: 16KiB\n")
	defer h.Shutdown(h.Clock.Now())
	// 400 records of ~100 B in resources of 20: ~45 KB, cut between
	// resources; one resource of 3 scopes of 50 records also needs cuts
	// between its scopes.
	p := pdatatest.LogsPayload("s", 400, 20, 100)
	requireAck(t, export(t, h, p))
	recs := consume(t, c, "otlp_logs")
	if len(recs) < 3 {
		t.Fatalf("%d records for a %d-byte payload under a 16 KiB limit", len(recs), p.Bytes())
	}
	var got []string
	for i, r := range recs {
		if len(r.Value) > 16<<10 {
			t.Fatalf("record %d has %d bytes", i, len(r.Value))
		}
		q, err := pdata.FromOTLP(pdata.Logs, r.Value)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		got = append(got, pdatatest.LogBodies(t, q)...)
	}
	if want := pdatatest.LogBodies(t, p); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("records hold %d log records, want the payload's %d in order", len(got), len(want))
	}
	if m := e.KafkaMetrics(); m.Split(pdata.Logs) != 1 || m.Produced(pdata.Logs) != uint64(len(recs)) {
		t.Fatalf("split %d, produced %d", m.Split(pdata.Logs), m.Produced(pdata.Logs))
	}

	// One resource of one scope: no cut fits.
	big := pdatatest.LogsPayload("big", 400, 0, 100)
	n := requireNack(t, export(t, h, big), true, "kafka: ", "a scope needs a record value of", "bytes")
	if n.Cause != pdata.CauseUnspecified {
		t.Fatalf("cause %s", n.Cause)
	}
	if got := count(t, c, "otlp_logs"); got != int64(len(recs)) {
		t.Fatalf("%d records after the refused payload, want %d: nothing of it may be produced", got, len(recs))
	}
	if e.KafkaMetrics().Failed(pdata.Logs, "message_too_large") != 1 || e.Metrics().Requests(pdata.Logs, "message_too_large") != 1 {
		t.Fatal("the refusal is not counted")
	}
}

func TestBrokerRefusalsArePermanent(t *testing.T) {
	tests := []struct {
		err    *kerr.Error
		status string
	}{
		{kerr.MessageTooLarge, "message_too_large"},
		{kerr.TopicAuthorizationFailed, "authorization"},
		{kerr.InvalidTopicException, "invalid_topic"},
		{kerr.InvalidRecord, "invalid_record"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Message, func(t *testing.T) {
			c := newCluster(t, 1)
			h, e := newExporter(t, brokersOf(c))
			defer h.Shutdown(h.Clock.Now())
			f := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "otlp_logs", Err: tt.err, Count: -1})
			requireNack(t, export(t, h, pdatatest.Logs(3)), true, tt.err.Message)
			if e.Metrics().Requests(pdata.Logs, tt.status) != 1 || e.KafkaMetrics().Failed(pdata.Logs, tt.status) != 1 {
				t.Fatalf("not counted as %s", tt.status)
			}
			f.Remove()
			requireAck(t, export(t, h, pdatatest.Logs(3)))
		})
	}
}

func TestBrokerErrorThenRecovery(t *testing.T) {
	c := newCluster(t, 1)
	h, e := newExporter(t, brokersOf(c)+"timeout: 500ms\n")
	defer h.Shutdown(h.Clock.Now())
	requireAck(t, export(t, h, pdatatest.Logs(1)))
	// The partition has no leader: franz-go retries within the export's
	// deadline, then the export nacks, transient.
	f := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "otlp_logs", Err: kerr.NotLeaderForPartition, Count: -1})
	n := requireNack(t, export(t, h, pdatatest.Logs(2)), false, "no answer within 500ms")
	if n.Cause != pdata.CauseTimeout || e.Metrics().Requests(pdata.Logs, "timeout") != 1 {
		t.Fatalf("nack %v", n)
	}
	if f.Hits() == 0 {
		t.Fatal("the fault never answered")
	}
	f.Remove()
	recovers(t, h)
}

// recovers checks that exports are acked again after an outage. The first
// may still be nacked (transient): franz-go keeps a partition's records in
// order, and fails those buffered behind a record whose export timed out.
func recovers(t *testing.T, h *nodetest.Harness) {
	t.Helper()
	if o := export(t, h, pdatatest.Logs(3)); o.Kind != engine.KindAck {
		requireNack(t, o, false)
	}
	for range 3 {
		requireAck(t, export(t, h, pdatatest.Logs(3)))
	}
}

func TestClusterDownThenBack(t *testing.T) {
	dir := t.TempDir() // the broker's log: a restart keeps the topics and their ids
	c := newCluster(t, 1, kfake.DataDir(dir))
	addr := c.ListenAddrs()[0]
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	h, _ := newExporter(t, brokersOf(c)+"timeout: 500ms\n")
	defer h.Shutdown(h.Clock.Now())
	requireAck(t, export(t, h, pdatatest.Logs(1)))

	c.Close() // the whole cluster is gone: connections refused
	requireNack(t, export(t, h, pdatatest.Logs(2)), false)

	c2 := newCluster(t, 1, kfake.Ports(port), kfake.DataDir(dir))
	recovers(t, h)
	if got := count(t, c2, "otlp_logs"); got < 4 {
		t.Fatalf("%d records in the new cluster", got)
	}
}

func TestTimeoutWhenTheBrokerNeverAnswers(t *testing.T) {
	c := newCluster(t, 1)
	held := make(chan struct{}, 16)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case held <- struct{}{}:
		default:
		}
		return nil, nil, true // no answer, connection kept: the request hangs
	})
	h, e := newExporter(t, brokersOf(c)+"timeout: 300ms\n")
	defer h.Shutdown(h.Clock.Now())
	h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	otlptest.Recv(t, held, "a produce request at the broker")
	settle(t, h)
	n := requireNack(t, h.TakeUpstream()[0], false, "no answer within 300ms", "1 of 1 records unanswered")
	if n.Cause != pdata.CauseTimeout {
		t.Fatalf("cause %s", n.Cause)
	}
	if e.Metrics().Requests(pdata.Logs, "timeout") != 1 || e.Metrics().Limit() != 5 {
		t.Fatalf("requests{timeout} %d, in-flight limit %d", e.Metrics().Requests(pdata.Logs, "timeout"), e.Metrics().Limit())
	}
}

func TestForcedShutdownNacks(t *testing.T) {
	c := newCluster(t, 1)
	held := make(chan struct{}, 16)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case held <- struct{}{}:
		default:
		}
		return nil, nil, true
	})
	h, _ := newExporter(t, brokersOf(c))
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	otlptest.Recv(t, held, "a produce request at the broker")
	h.Shutdown(h.Clock.Now().Add(time.Second))
	if h.Pending() != 1 {
		t.Fatal("graceful shutdown dropped the export in flight")
	}
	h.ForceShutdown()
	n := h.RequireNacked(id)[0].Nack
	if n.Cause != pdata.CauseNodeShutdown || n.Permanent {
		t.Fatalf("nack %v, want transient node_shutdown", n)
	}
}

// partitionOf is where murmur2_random puts key among n partitions.
func partitionOf(key string, n int) int32 {
	return int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: []byte(key)}, n))
}

// servicesPayload builds logs with one resource per entry of services.
func servicesPayload(t testing.TB, services ...string) *pdata.Payload {
	t.Helper()
	ld := plog.NewLogs()
	for i, svc := range services {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", svc)
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.Body().SetStr(fmt.Sprintf("%s-%d", svc, i))
	}
	b, _ := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	p, err := pdata.FromOTLP(pdata.Logs, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPartitionKeyServiceName(t *testing.T) {
	c := newCluster(t, 8)
	h, _ := newExporter(t, brokersOf(c)+"logs: {partition_key: service.name}\n")
	defer h.Shutdown(h.Clock.Now())
	svcs := []string{"cart", "checkout", "payment", "email", "ads", "search"}
	for i := range 5 {
		var order []string
		for j := range 12 {
			order = append(order, svcs[(i+j*5)%len(svcs)])
		}
		requireAck(t, export(t, h, servicesPayload(t, order...)))
	}
	partitionOfService := map[string]int32{}
	used := map[int32]bool{}
	logs := 0
	for _, r := range consume(t, c, "otlp_logs") {
		svc := string(r.Key)
		if p, ok := partitionOfService[svc]; ok && p != r.Partition {
			t.Fatalf("service %s on partitions %d and %d", svc, p, r.Partition)
		}
		partitionOfService[svc] = r.Partition
		used[r.Partition] = true
		if want := partitionOf(svc, 8); r.Partition != want {
			t.Fatalf("service %s on partition %d, murmur2 says %d", svc, r.Partition, want)
		}
		q, err := pdata.FromOTLP(pdata.Logs, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		ld, _ := q.Logs()
		for _, rl := range ld.ResourceLogs().All() {
			if v, _ := rl.Resource().Attributes().Get("service.name"); v.Str() != svc {
				t.Fatalf("record keyed %s holds a resource of %s", svc, v.Str())
			}
		}
		logs += ld.LogRecordCount()
	}
	if len(partitionOfService) != len(svcs) || len(used) < 2 || logs != 60 {
		t.Fatalf("%d services on %d partitions, %d logs", len(partitionOfService), len(used), logs)
	}
}

func TestPartialFailureCountsDuplicates(t *testing.T) {
	c := newCluster(t, 2)
	h, e := newExporter(t, brokersOf(c)+"logs: {partition_key: service.name}\n")
	defer h.Shutdown(h.Clock.Now())
	// Two services on different partitions; the broker refuses one.
	var a, b string
	for i := 0; b == ""; i++ {
		s := fmt.Sprint("svc-", i)
		switch {
		case a == "":
			a = s
		case partitionOf(s, 2) != partitionOf(a, 2):
			b = s
		}
	}
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "otlp_logs", Partitions: []int32{partitionOf(b, 2)}, Err: kerr.MessageTooLarge, Count: -1})
	requireNack(t, export(t, h, servicesPayload(t, a, b, a)), true, "1 of 2 records failed (1 acknowledged)", "MESSAGE_TOO_LARGE")
	if m := e.KafkaMetrics(); m.Duplicates(pdata.Logs) != 1 || m.Produced(pdata.Logs) != 1 || m.Failed(pdata.Logs, "message_too_large") != 1 {
		t.Fatalf("duplicates %d, produced %d, failed %d", m.Duplicates(pdata.Logs), m.Produced(pdata.Logs), m.Failed(pdata.Logs, "message_too_large"))
	}
}

func TestPartitionByTraceID(t *testing.T) {
	c := newCluster(t, 4)
	h, _ := newExporter(t, brokersOf(c)+"traces: {partition_key: trace_id}\n")
	defer h.Shutdown(h.Clock.Now())
	p := pdatatest.Traces(6) // span i in trace {1, 0, i}
	requireAck(t, export(t, h, p))
	recs := consume(t, c, "otlp_spans")
	if len(recs) != 6 {
		t.Fatalf("%d records, want one per trace", len(recs))
	}
	for _, r := range recs {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		if td.SpanCount() != 1 || sp.TraceID().String() != string(r.Key) || r.Partition != partitionOf(string(r.Key), 4) {
			t.Fatalf("record keyed %s on partition %d holds %d spans of trace %s", r.Key, r.Partition, td.SpanCount(), sp.TraceID())
		}
	}
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := newCluster(t, 1, kfake.EnableSASL(), kfake.Superuser(mech, "ackflow", "s3cret"))
			auth := "auth: {sasl: {mechanism: " + mech + ", username: ackflow, password: %s}}\n"
			h, _ := newExporter(t, brokersOf(c)+fmt.Sprintf(auth, "s3cret"))
			defer h.Shutdown(h.Clock.Now())
			requireAck(t, export(t, h, pdatatest.Logs(2)))

			bad, _ := newExporter(t, brokersOf(c)+"timeout: 500ms\n"+fmt.Sprintf(auth, "wrong"))
			defer bad.Shutdown(bad.Clock.Now())
			// kfake closes the connection on bad credentials (EOF); a
			// Kafka broker answers SASL_AUTHENTICATION_FAILED.
			requireNack(t, export(t, bad, pdatatest.Logs(2)), false, "broker connection failing")
		})
	}
}

func TestTLS(t *testing.T) {
	certs := otlptest.NewCerts(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 1, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	h, _ := newExporter(t, brokersOf(c)+"tls: {ca_file: "+certs.CAFile+"}\n")
	defer h.Shutdown(h.Clock.Now())
	requireAck(t, export(t, h, pdatatest.Logs(2)))

	// Without the CA the broker is not trusted: transient (the data is fine).
	h2, _ := newExporter(t, brokersOf(c)+"timeout: 500ms\ntls: {}\n")
	defer h2.Shutdown(h2.Clock.Now())
	requireNack(t, export(t, h2, pdatatest.Logs(2)), false, "broker connection failing", "certificate")
}

func TestClientIsLazyAndClosed(t *testing.T) {
	c := newCluster(t, 1)
	before := goleak.IgnoreCurrent()
	h, _ := newExporter(t, brokersOf(c))
	goleak.VerifyNone(t, before) // no client before the first export
	requireAck(t, export(t, h, pdatatest.Logs(1)))
	requireAck(t, export(t, h, pdatatest.Traces(1)))
	h.Shutdown(h.Clock.Now())
	if h.Pending() != 0 {
		t.Fatal("exports in flight after a drained shutdown")
	}
	goleak.VerifyNone(t, before) // the driver closed the client after the last export
}

func TestCompressionAndAcks(t *testing.T) {
	c := newCluster(t, 1)
	p := pdatatest.LogsPayload("z", 200, 50, 64)
	want, _ := p.AppendOTLP(nil)
	n := 0
	for _, extra := range []string{
		"compression: gzip\n", "compression: snappy\n", "compression: lz4\n", "compression: zstd\n",
		"required_acks: leader\nenable_idempotence: false\n",
		"required_acks: none\nenable_idempotence: false\n", // acked once written: the broker does not answer
		"partitioning_strategy: consistent\n", "partitioning_strategy: fnv1a_random\n", "partitioning_strategy: random\n",
	} {
		h, _ := newExporter(t, brokersOf(c)+extra)
		requireAck(t, export(t, h, p))
		h.Shutdown(h.Clock.Now())
		n++
	}
	recs := consume(t, c, "otlp_logs")
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if !bytes.Equal(r.Value, want) {
			t.Fatalf("record %d differs from the request", i)
		}
	}
}

func TestABurstOfMessagesTravelsInOneProduceRequest(t *testing.T) {
	c := newCluster(t, 1)
	var mu sync.Mutex
	var records []int // per produce request
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n := 0
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			for _, pp := range tp.Partitions {
				var batch kmsg.RecordBatch
				if err := batch.ReadFrom(pp.Records); err == nil {
					n += int(batch.NumRecords)
				}
			}
		}
		mu.Lock()
		records = append(records, n)
		mu.Unlock()
		return nil, nil, false // kfake answers as usual
	})
	h, e := newExporter(t, brokersOf(c))
	defer h.Shutdown(h.Clock.Now())
	requireAck(t, export(t, h, pdatatest.Logs(1))) // connected, producer id known

	// The client's Flush returns only after the last record's outcome was
	// reported: records produced before it returns go out at once, so the
	// burst starts once the flush before it is over.
	deadline := time.Now().Add(otlptest.Wait)
	for !e.Quiet() {
		if time.Now().After(deadline) {
			t.Fatalf("the client still flushes %s after the last record was answered", otlptest.Wait)
		}
		runtime.Gosched()
	}
	mu.Lock()
	records = nil
	mu.Unlock()

	burst := make([]*pdata.Message, 8)
	for i := range burst {
		burst[i] = pdatatest.Msg(pdatatest.Logs(2))
	}
	h.SendBurst(burst...)
	settle(t, h)
	for _, o := range h.TakeUpstream() {
		requireAck(t, o)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(records) != 1 || records[0] != 8 {
		t.Fatalf("produce requests with %v records, want one with all 8", records)
	}
}

// TestRecordsHoldThePayloadsLeasesUntilAnswered: franz-go reads a record's
// value until the record is answered, which can be after the export gave
// up: the payload's leases are held until then.
func TestRecordsHoldThePayloadsLeasesUntilAnswered(t *testing.T) {
	c := newCluster(t, 1)
	h, _ := newExporter(t, brokersOf(c)+"timeout: 300ms\n")
	defer h.Shutdown(h.Clock.Now())
	requireAck(t, export(t, h, pdatatest.Logs(1))) // connected

	var freed atomic.Int32
	second := make(chan struct{}) // closed when the second lease is given back
	leased := func() (*pdata.Payload, *pdata.Lease) {
		p := pdatatest.Logs(3)
		l := pdata.NewLease(func() {
			if freed.Add(1) == 2 {
				close(second)
			}
		})
		p.Borrow(l)
		return p, l
	}
	p, l := leased()
	requireAck(t, export(t, h, p))
	l.Release() // the receiver's reference, at the outcome
	if freed.Load() != 1 {
		t.Fatalf("lease given back %d times after an acked export, want once", freed.Load())
	}

	// The broker holds the produce request: the record is in flight, so
	// franz-go cannot fail it when the export's context ends.
	unblock := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		<-unblock
		return nil, nil, false
	})
	p, l = leased()
	requireNack(t, export(t, h, p), false, "no answer within 300ms")
	l.Release()
	if freed.Load() != 1 {
		t.Fatal("lease given back while franz-go still holds the records of an export that timed out")
	}
	close(unblock) // the broker answers the record
	select {
	case <-second:
	case <-time.After(otlptest.Wait):
		t.Fatalf("lease not given back %s after the record could be answered", otlptest.Wait)
	}
}
