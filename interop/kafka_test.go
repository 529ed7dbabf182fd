package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Kafka interop: ackflow's exporter:kafka and receiver:kafka against kcat
// (librdkafka, Debian package kafkacat), an independent client, through a
// kfake broker in the test's process.

// kcatEnv, set to 1, makes a missing kcat a failure instead of a skip;
// run.sh sets it once it has installed kcat.
const kcatEnv = "INTEROP_REQUIRE_KCAT"

// kcatTimeout bounds one kcat run.
const kcatTimeout = 30 * time.Second

// kafkaTopics are exporter:kafka's default topics (the Collector's).
var kafkaTopics = map[string]string{"logs": "otlp_logs", "metrics": "otlp_metrics", "traces": "otlp_spans"}

// requireKcat returns kcat's path (also installed as kafkacat). Without
// it the test is skipped, or fails when kcatEnv says it must be there.
func requireKcat(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"kcat", "kafkacat"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(kcatEnv) == "1" {
		t.Fatalf("kcat is not installed (neither kcat nor kafkacat is in PATH) and %s=1", kcatEnv)
	}
	t.Skipf("kcat is not installed (Debian package kafkacat; interop/run.sh installs it): skipping the Kafka interop test")
	return ""
}

// startKafka starts a one-broker kfake cluster on 127.0.0.1 with topics of
// one partition, until the end of the test, and returns its address.
func startKafka(t *testing.T, topics ...string) string {
	t.Helper()
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(kf.Close)
	return kf.ListenAddrs()[0]
}

// kcat runs kcat with args, feeding it stdin, and returns its stdout.
func kcat(t *testing.T, bin string, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, errb.Bytes())
	}
	return out.Bytes()
}

// kcatRecord is a record as kcat printed it.
type kcatRecord struct {
	headers string // kcat's %h: k=v pairs joined by ","
	value   []byte
}

// kcatFormat prints each record as "<value size> <headers>\n<value>", so
// that values of any bytes can be told apart.
const kcatFormat = "%S %h\n%s"

// parseKcat splits kcat's output in kcatFormat.
func parseKcat(t *testing.T, out []byte) []kcatRecord {
	t.Helper()
	var recs []kcatRecord
	r := bufio.NewReader(bytes.NewReader(out))
	for {
		head, err := r.ReadString('\n')
		if err == io.EOF && head == "" {
			return recs
		}
		if err != nil {
			t.Fatalf("kcat output: %v (after %d records)", err, len(recs))
		}
		sizeText, headers, _ := strings.Cut(strings.TrimSuffix(head, "\n"), " ")
		size, err := strconv.Atoi(sizeText)
		if err != nil {
			t.Fatalf("kcat output: a record starts with %q, not its size", head)
		}
		value := make([]byte, size)
		if _, err := io.ReadFull(r, value); err != nil {
			t.Fatalf("kcat output: a record of %d bytes is cut short: %v", size, err)
		}
		recs = append(recs, kcatRecord{headers: headers, value: value})
	}
}

// decodePrints decodes an OTLP protobuf export request of signal and
// returns the sorted fingerprints of its items tagged tag.
func decodePrints(t *testing.T, signal, tag string, value []byte) []string {
	t.Helper()
	out := map[string][]string{}
	var err error
	switch signal {
	case "logs":
		req := plogotlp.NewExportRequest()
		if err = req.UnmarshalProto(value); err == nil {
			logPrints(req.Logs(), out)
		}
	case "metrics":
		req := pmetricotlp.NewExportRequest()
		if err = req.UnmarshalProto(value); err == nil {
			metricPrints(req.Metrics(), out)
		}
	case "traces":
		req := ptraceotlp.NewExportRequest()
		if err = req.UnmarshalProto(value); err == nil {
			spanPrints(req.Traces(), out)
		}
	}
	if err != nil {
		t.Fatalf("a %s record read by kcat is not an OTLP export request: %v", signal, err)
	}
	slices.Sort(out[tag])
	return out[tag]
}

// TestKafkaKcatReadsAckflow: a client → ackflow receiver:otlp →
// exporter:kafka → kfake; kcat consumes each signal's topic and every
// record decodes as OTLP protobuf to exactly the content the client sent,
// with the MessageFormat header the reference engine's receiver reads.
func TestKafkaKcatReadsAckflow(t *testing.T) {
	requireNodeTypes(t, "exporter:kafka")
	bin := requireKcat(t)
	broker := startKafka(t, "otlp_logs", "otlp_metrics", "otlp_spans")

	admin := freeAddr(t)
	p := ackflowPipeline{name: "to_kafka", grpc: freeAddr(t), http: freeAddr(t),
		exporter: fmt.Sprintf(`{ type: exporter:kafka, config: { brokers: [%q], timeout: 10s } }`, broker)}
	af := startAckflow(t, admin, ackflowConfig(admin, p), p.grpc, p.http)
	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var sent counts
	for _, sig := range signals {
		tag := "to-kcat-" + sig
		if err := exportContent(ctx, conn, sig, tag); err != nil {
			t.Fatalf("export %s to ackflow: %v", sig, err) // OK means the broker has it
		}
		sent = sent.add(contentCounts(sig))
		recs := parseKcat(t, kcat(t, bin, nil, "-C", "-b", broker, "-t", kafkaTopics[sig], "-o", "beginning", "-e", "-q", "-f", kcatFormat))
		if len(recs) != 1 {
			t.Fatalf("kcat read %d records of %s, want 1", len(recs), kafkaTopics[sig])
		}
		if !strings.Contains(recs[0].headers, "MessageFormat=otlp") {
			t.Errorf("%s record headers %q lack MessageFormat=otlp", sig, recs[0].headers)
		}
		if got, want := decodePrints(t, sig, tag, recs[0].value), wantPrints(sig, tag); !slices.Equal(got, want) {
			t.Errorf("the %s record kcat read differs from what the client sent (%d items, want %d):\n%s",
				sig, len(got), len(want), printsDiff(got, want))
		}
	}
	n := uint64(sent.total())
	requireFlow(t, "summary", af.stopAndSummarize(t)["default/to_kafka"], flow{Admitted: n, Delivered: n})
}

// TestKafkaAckflowReadsKcat: kcat produces OTLP protobuf requests (one
// file, one record) to a topic per signal; ackflow receiver:kafka →
// exporter:otlp_grpc → sink delivers each, content unchanged, and commits
// past them.
func TestKafkaAckflowReadsKcat(t *testing.T) {
	requireNodeTypes(t, "receiver:kafka")
	bin := requireKcat(t)
	topics := map[string]string{"logs": "kcat_logs", "metrics": "kcat_metrics", "traces": "kcat_spans"}
	broker := startKafka(t, "kcat_logs", "kcat_metrics", "kcat_spans")
	dir := t.TempDir()
	var sent counts
	for _, sig := range signals {
		tag := "from-kcat-" + sig
		file := filepath.Join(dir, sig+".pb")
		if err := os.WriteFile(file, contentProto(t, sig, tag), 0o600); err != nil {
			t.Fatal(err)
		}
		kcat(t, bin, nil, "-P", "-b", broker, "-t", topics[sig], "-p", "0", "-H", "MessageFormat=otlp", file)
		sent = sent.add(contentCounts(sig))
	}

	s := startSink(t)
	admin := freeAddr(t)
	cfg := fmt.Sprintf(`version: otel_dataflow/v1
engine:
  http_admin: { bind_address: %s }
  shutdown_timeout: 10s
groups:
  default:
    pipelines:
      from_kafka:
        nodes:
          in:
            type: receiver:kafka
            config:
              brokers: [%q]
              group_id: interop
              auto_offset_reset: earliest
              session_timeout_ms: 3000
              heartbeat_interval_ms: 100
              logs: { topics: [%s] }
              metrics: { topics: [%s] }
              traces: { topics: [%s] }
          out: { type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }
        connections:
          - { from: in, to: out }
`, admin, broker, topics["logs"], topics["metrics"], topics["traces"], s.addr)
	af := startAckflow(t, admin, cfg)
	if got := s.waitFor(sent, arriveTimeout); got != sent {
		t.Fatalf("the sink received %s, want %s", got, sent)
	}
	for _, sig := range signals {
		requireContent(t, s, sig, "from-kcat-"+sig)
	}
	n := uint64(sent.total())
	af.waitDelivered(t, "default/from_kafka", n, arriveTimeout)
	requireFlow(t, "summary", af.stopAndSummarize(t)["default/from_kafka"], flow{Admitted: n, Delivered: n})
}

// contentProto is the content request of signal with tag as OTLP
// protobuf.
func contentProto(t *testing.T, signal, tag string) []byte {
	t.Helper()
	var b []byte
	var err error
	switch signal {
	case "logs":
		b, err = plogotlp.NewExportRequestFromLogs(contentLogs(tag)).MarshalProto()
	case "metrics":
		b, err = pmetricotlp.NewExportRequestFromMetrics(contentMetrics(tag)).MarshalProto()
	default:
		b, err = ptraceotlp.NewExportRequestFromTraces(contentTraces(tag)).MarshalProto()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}
