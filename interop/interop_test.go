package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

var signals = []string{"logs", "metrics", "traces"}

// arriveTimeout bounds the wait for items the client was already told
// were delivered (they should be there at once).
const arriveTimeout = 10 * time.Second

// TestTelemetrygenToAckflowToCollector sends every signal from telemetrygen
// over OTLP/gRPC and OTLP/HTTP into ackflow, which forwards it with
// exporter:otlp_grpc (pipeline to_grpc) or exporter:otlp_http (pipeline
// to_http) to the collector, which forwards it to an in-test sink. The
// collector has no sending queue and no retries, so a success seen by
// telemetrygen means the sink has the data: every item must be there,
// once, and telemetrygen must have seen no error.
func TestTelemetrygenToAckflowToCollector(t *testing.T) {
	sink := startSink(t)
	colGRPC, colHTTP := freeAddr(t), freeAddr(t)
	col := startCollector(t, "otelcol", collectorToSink(colGRPC, colHTTP, sink.addr), colGRPC, colHTTP)

	admin := freeAddr(t)
	pipelines := []ackflowPipeline{
		{name: "to_grpc", grpc: freeAddr(t), http: freeAddr(t),
			exporter: fmt.Sprintf(`{ type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }`, colGRPC)},
		{name: "to_http", grpc: freeAddr(t), http: freeAddr(t),
			exporter: fmt.Sprintf(`{ type: exporter:otlp_http, config: { endpoint: "http://%s" } }`, colHTTP)},
	}
	af := startAckflow(t, admin, ackflowConfig(admin, pipelines...), listenAddrs(pipelines)...)

	sent := map[string]counts{}
	for _, p := range pipelines {
		for _, useHTTP := range []bool{false, true} {
			for _, sig := range signals {
				g := gen{signal: sig, n: 250, http: useHTTP, endpoint: p.grpc}
				if useHTTP {
					g.endpoint = p.http
				}
				sent[p.name] = sent[p.name].add(g.items())
				t.Run(p.name+"/"+g.String(), func(t *testing.T) {
					before := sink.counts()
					requireGenOK(t, g, runGen(t, g))
					if got := sink.waitFor(before.add(g.items()), arriveTimeout).sub(before); got != g.items() {
						t.Errorf("the sink received %s, want %s", got, g.items())
					}
				})
			}
		}
	}

	var total counts
	for _, p := range pipelines {
		n := uint64(sent[p.name].total())
		total = total.add(sent[p.name])
		requireFlow(t, "status of "+p.name, af.pipelineFlow(t, "default/"+p.name), flow{Admitted: n, Delivered: n})
	}
	summary := af.stopAndSummarize(t)
	for _, p := range pipelines {
		n := uint64(sent[p.name].total())
		requireFlow(t, "summary of "+p.name, summary["default/"+p.name], flow{Admitted: n, Delivered: n})
	}
	if code := col.stop(t); code != 0 {
		t.Errorf("collector exited with code %d after SIGTERM", code)
	}
	if got := sink.counts(); got != total {
		t.Errorf("the sink received %s in all, want %s (duplicates or losses)", got, total)
	}
	requireNoExportErrors(t, col)
}

// TestCollectorToAckflow sends every signal from telemetrygen into the
// collector, which forwards it (batch processor, default sending queue and
// compression) to ackflow over OTLP/gRPC (gzip), OTLP/HTTP protobuf (zstd)
// and OTLP/HTTP JSON. ackflow ends in exporter:noop; its status must count
// every item delivered, once.
func TestCollectorToAckflow(t *testing.T) {
	admin := freeAddr(t)
	in := ackflowPipeline{name: "from_collector", grpc: freeAddr(t), http: freeAddr(t), exporter: `{ type: exporter:noop }`}
	af := startAckflow(t, admin, ackflowConfig(admin, in), listenAddrs([]ackflowPipeline{in})...)

	paths := []string{"grpc", "http_proto", "http_json"}
	recv := map[string]string{}
	var listens []string
	for _, p := range paths {
		recv[p] = freeAddr(t)
		listens = append(listens, recv[p])
	}
	col := startCollector(t, "otelcol", collectorToAckflow(recv, in.grpc, in.http), listens...)

	var sent counts
	for _, p := range paths {
		for _, sig := range signals {
			g := gen{signal: sig, n: 250, endpoint: recv[p]}
			sent = sent.add(g.items())
			t.Run(p+"/"+sig, func(t *testing.T) {
				requireGenOK(t, g, runGen(t, g))
			})
		}
	}

	// The collector acks telemetrygen before it exports (sending queue):
	// wait for ackflow to have it all, then drain the collector.
	n := uint64(sent.total())
	af.waitDelivered(t, "default/"+in.name, n, 60*time.Second)
	if code := col.stop(t); code != 0 {
		t.Errorf("collector exited with code %d after SIGTERM", code)
	}
	requireNoExportErrors(t, col)
	requireFlow(t, "status", af.pipelineFlow(t, "default/"+in.name), flow{Admitted: n, Delivered: n})
	summary := af.stopAndSummarize(t)
	requireFlow(t, "summary", summary["default/"+in.name], flow{Admitted: n, Delivered: n})
}

// TestNackPropagatesToClients points ackflow's only exporter at a port
// where nothing listens. Every client must be told UNAVAILABLE (503 over
// HTTP, with Retry-After): a gRPC client, an HTTP client, telemetrygen
// over gRPC, and telemetrygen behind a collector whose exporter has no queue and no
// retries (so the collector's answer is ackflow's answer). Nothing is
// delivered; every admitted item is nacked, and ackflow still exits 0.
func TestNackPropagatesToClients(t *testing.T) {
	admin, dead := freeAddr(t), freeAddr(t)
	in := ackflowPipeline{name: "dead_end", grpc: freeAddr(t), http: freeAddr(t),
		exporter: fmt.Sprintf(`{ type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s", timeout: 2s } }`, dead)}
	af := startAckflow(t, admin, ackflowConfig(admin, in), listenAddrs([]ackflowPipeline{in})...)

	t.Run("grpc_client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		conn, err := grpc.NewClient(in.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(someLogs(10)))
		if code := status.Code(err); code != codes.Unavailable {
			t.Fatalf("Export: code %s (%v), want Unavailable", code, err)
		}
	})

	t.Run("http_client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		body, err := plogotlp.NewExportRequestFromLogs(someLogs(10)).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+in.http+"/v1/logs", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("POST /v1/logs: %s, Retry-After %q, want 503 with Retry-After (%q)",
				resp.Status, resp.Header.Get("Retry-After"), msg)
		}
	})

	// telemetrygen over gRPC retries UNAVAILABLE until its --timeout, then
	// fails (logs export synchronously, so it exits 1). Over HTTP the SDK
	// bounds each attempt, not the export, and retries 503 for a minute
	// before it gives up, so the HTTP answer is checked by http_client.
	t.Run("telemetrygen_logs_grpc", func(t *testing.T) {
		g := gen{signal: "logs", n: 5, timeout: 3 * time.Second, endpoint: in.grpc}
		requireGenFailed(t, g, runGen(t, g), regexp.MustCompile(`code = Unavailable`))
	})

	t.Run("telemetrygen_via_collector", func(t *testing.T) {
		colGRPC := freeAddr(t)
		col := startCollector(t, "otelcol", collectorPassThrough(colGRPC, in.grpc), colGRPC)
		g := gen{signal: "logs", n: 5, timeout: 3 * time.Second, endpoint: colGRPC}
		r := runGen(t, g)
		requireGenFailed(t, g, r, regexp.MustCompile(`code = Unavailable`))
		if code := col.stop(t); code != 0 {
			t.Errorf("collector exited with code %d after SIGTERM", code)
		}
		// The collector's exporter saw ackflow's answer.
		if lines := grepLines(col.out.String(), regexp.MustCompile(`code = Unavailable`)); len(lines) == 0 {
			t.Errorf("the collector's log shows no UNAVAILABLE from ackflow")
		}
	})

	f := af.pipelineFlow(t, "default/"+in.name)
	if f.Admitted < 20 || f.Delivered != 0 || f.Nacked != f.Admitted || f.Dropped != 0 || f.InFlight != 0 {
		t.Errorf("status: %s, want at least 20 received, all of them nacked", f)
	}
	summary := af.stopAndSummarize(t)
	requireFlow(t, "summary", summary["default/"+in.name], f)
}

// requireGenFailed fails unless telemetrygen reported a failed export
// whose message matches want.
func requireGenFailed(t *testing.T, g gen, r genResult, want *regexp.Regexp) {
	t.Helper()
	if r.exitCode == 0 || len(r.errors) == 0 {
		t.Fatalf("telemetrygen %s: exit code %d and %d error lines, want a failed export\n%s",
			g, r.exitCode, len(r.errors), tail(r.output, 3000))
	}
	for _, l := range r.errors {
		if want.MatchString(l) {
			return
		}
	}
	t.Fatalf("telemetrygen %s failed, but not with %s: %q", g, want, r.errors)
}

// streamStartCanceled is what the otelarrow exporter logs when its
// shutdown cancels a stream it was opening (to replace one that reached
// its lifetime): no data is on such a stream, and the flow checks prove
// nothing was lost.
var streamStartCanceled = regexp.MustCompile(`cannot start arrow stream.*code = Canceled`)

// requireNoExportErrors fails if the collector logged a failed export.
func requireNoExportErrors(t *testing.T, col *proc) {
	t.Helper()
	var failed []string
	for _, l := range grepLines(col.out.String(), regexp.MustCompile(`(?i)exporting failed|\terror\t`)) {
		if !streamStartCanceled.MatchString(l) {
			failed = append(failed, l)
		}
	}
	if len(failed) > 0 {
		t.Errorf("the collector logged %d export errors, first: %s", len(failed), failed[0])
	}
}

func someLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lrs.AppendEmpty().Body().SetStr(fmt.Sprintf("interop log %d", i))
	}
	return ld
}

// ---- configurations ----

// ackflowPipeline is one pipeline: receiver:otlp on grpc and http (or
// receiver:otap on otap), straight into exporter (a YAML flow mapping).
type ackflowPipeline struct {
	name       string
	grpc, http string
	otap       string // receiver:otap's listening address, instead of receiver:otlp
	exporter   string
}

func listenAddrs(ps []ackflowPipeline) []string {
	var out []string
	for _, p := range ps {
		if p.otap != "" {
			out = append(out, p.otap)
			continue
		}
		out = append(out, p.grpc, p.http)
	}
	return out
}

// ackflowConfig is an ackflow document with the admin server on admin and
// the pipelines in group default.
func ackflowConfig(admin string, ps ...ackflowPipeline) string {
	var b strings.Builder
	fmt.Fprintf(&b, `version: otel_dataflow/v1
engine:
  http_admin:
    bind_address: %s
  shutdown_timeout: 10s
groups:
  default:
    pipelines:
`, admin)
	for _, p := range ps {
		in := fmt.Sprintf(`
            type: receiver:otlp
            config:
              timeout: 10s
              protocols:
                grpc: { listening_addr: "%s" }
                http: { listening_addr: "%s" }`, p.grpc, p.http)
		if p.otap != "" {
			in = fmt.Sprintf(`
            type: receiver:otap
            config: { listening_addr: "%s", timeout: 10s }`, p.otap)
		}
		fmt.Fprintf(&b, `      %s:
        nodes:
          in:%s
          out: %s
        connections:
          - { from: in, to: out }
`, p.name, in, p.exporter)
	}
	return b.String()
}

// collectorPipelines wires each signal from receivers to exporters.
func collectorPipelines(suffix, receiver, processors, exporter string) string {
	var b strings.Builder
	for _, sig := range signals {
		fmt.Fprintf(&b, "    %s%s:\n      receivers: [%s]\n      processors: [%s]\n      exporters: [%s]\n",
			sig, suffix, receiver, processors, exporter)
	}
	return b.String()
}

// collectorToSink: OTLP gRPC and HTTP in, the sink out, with no sending
// queue and no retry, so the receiver answers only once the sink has.
func collectorToSink(grpcAddr, httpAddr, sinkAddr string) string {
	return fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  otlp_grpc/sink:
    endpoint: %s
    tls:
      insecure: true
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:%s
  pipelines:
%s`, grpcAddr, httpAddr, sinkAddr, collectorTelemetry, collectorPipelines("", "otlp", "", "otlp_grpc/sink"))
}

// collectorToAckflow: one OTLP gRPC receiver per path in recv, each
// through the batch processor to ackflow: gRPC with gzip (the exporter's
// default), HTTP protobuf with zstd, HTTP JSON uncompressed.
func collectorToAckflow(recv map[string]string, ackflowGRPC, ackflowHTTP string) string {
	var b strings.Builder
	b.WriteString("receivers:\n")
	for _, p := range []string{"grpc", "http_proto", "http_json"} {
		fmt.Fprintf(&b, "  otlp/%s:\n    protocols:\n      grpc:\n        endpoint: %s\n", p, recv[p])
	}
	fmt.Fprintf(&b, `processors:
  batch:
    timeout: 100ms
exporters:
  otlp_grpc/ackflow:
    endpoint: %s
    tls:
      insecure: true
  otlp_http/ackflow_proto:
    endpoint: http://%s
    compression: zstd
  otlp_http/ackflow_json:
    endpoint: http://%s
    encoding: json
    compression: none
service:%s
  pipelines:
`, ackflowGRPC, ackflowHTTP, ackflowHTTP, collectorTelemetry)
	b.WriteString(collectorPipelines("/grpc", "otlp/grpc", "batch", "otlp_grpc/ackflow"))
	b.WriteString(collectorPipelines("/http_proto", "otlp/http_proto", "batch", "otlp_http/ackflow_proto"))
	b.WriteString(collectorPipelines("/http_json", "otlp/http_json", "batch", "otlp_http/ackflow_json"))
	return b.String()
}

// collectorPassThrough: OTLP gRPC in, ackflow out, with no sending queue
// and no retry, so the collector answers its client with ackflow's answer.
func collectorPassThrough(grpcAddr, ackflowGRPC string) string {
	return fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
exporters:
  otlp_grpc/ackflow:
    endpoint: %s
    tls:
      insecure: true
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:%s
  pipelines:
%s`, grpcAddr, ackflowGRPC, collectorTelemetry, collectorPipelines("", "otlp", "", "otlp_grpc/ackflow"))
}
