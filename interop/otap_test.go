package interop

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// OpenTelemetry Arrow (OTAP): ackflow's receiver:otap and exporter:otap
// against the Collector's otelarrow exporter and receiver (the
// otelarrowcol build) and against each other. No hop has a sending queue
// and none retries unless a test says so, so a client's answer is the
// answer of the last hop and a success means the sink has the data.

// exportTimeout bounds one export of a test's own OTLP client.
const exportTimeout = 20 * time.Second

// ackflowTypes is the set of node types the ackflow binary offers.
var ackflowTypes = sync.OnceValues(func() (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bins.ackflow, "components").Output()
	if err != nil {
		return nil, fmt.Errorf("ackflow components: %w", err)
	}
	types := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			types[f[0]] = true
		}
	}
	return types, nil
})

// requireNodeTypes skips t unless ackflow offers every type in types: the
// OTAP nodes are being written, and their tests wait for them.
func requireNodeTypes(t *testing.T, types ...string) {
	t.Helper()
	have, err := ackflowTypes()
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, ty := range types {
		if !have[ty] {
			missing = append(missing, ty)
		}
	}
	if len(missing) > 0 {
		t.Skipf("ackflow does not offer %s yet (not in `ackflow components`)", strings.Join(missing, " and "))
	}
}

// TestOTAPCollectorToAckflow: telemetrygen and a test client → collector
// (OTLP receiver, otelarrow exporter) → ackflow receiver:otap →
// exporter:otlp_grpc → sink, for every signal, through three otelarrow
// exporters: the defaults (gRPC zstd, which the wire names "zstdarrow5",
// and Arrow IPC zstd), gRPC gzip with streams recycled every second, and
// no compression at all. Every item reaches the sink once, the content
// unchanged.
func TestOTAPCollectorToAckflow(t *testing.T) {
	requireNodeTypes(t, "receiver:otap")
	sink := startSink(t)
	admin := freeAddr(t)
	in := ackflowPipeline{name: "from_arrow", otap: freeAddr(t),
		exporter: fmt.Sprintf(`{ type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }`, sink.addr)}
	af := startAckflow(t, admin, ackflowConfig(admin, in), in.otap)

	exps := []arrowExporter{
		{name: "defaults"},
		{name: "gzip", compression: "gzip", lifetime: shortLifetime.String()},
		{name: "plain", compression: "none", payload: "none"},
	}
	recv := map[string]string{}
	var listens []string
	for _, e := range exps {
		recv[e.name] = freeAddr(t)
		listens = append(listens, recv[e.name])
	}
	col := startCollectorBin(t, bins.otelarrowcol, "otelarrowcol", collectorToOTAP(recv, exps, in.otap), listens...)

	var sent counts
	for _, e := range exps {
		sent = sent.add(deliverAll(t, sink, e.name, recv[e.name]))
		if e.lifetime != "" {
			sent = sent.add(deliverAfterLifetime(t, sink, e.name, recv[e.name]))
		}
	}

	n := uint64(sent.total())
	requireFlow(t, "status", af.pipelineFlow(t, "default/"+in.name), flow{Admitted: n, Delivered: n})
	if code := col.stop(t); code != 0 {
		t.Errorf("collector exited with code %d after SIGTERM", code)
	}
	requireNoExportErrors(t, col)
	summary := af.stopAndSummarize(t)
	requireFlow(t, "summary", summary["default/"+in.name], flow{Admitted: n, Delivered: n})
	if got := sink.counts(); got != sent {
		t.Errorf("the sink received %s in all, want %s (duplicates or losses)", got, sent)
	}
}

// TestOTAPAckflowToCollector: telemetrygen and a test client → ackflow
// receiver:otlp → exporter:otap → collector (otelarrow receiver, OTLP
// exporter) → sink, for every signal, through three exporter:otap
// settings: the defaults, gRPC gzip without Arrow IPC compression, and
// zstd at both levels with streams recycled every second.
func TestOTAPAckflowToCollector(t *testing.T) {
	requireNodeTypes(t, "exporter:otap")
	sink := startSink(t)
	colOTAP := freeAddr(t)
	col := startCollectorBin(t, bins.otelarrowcol, "otelarrowcol", collectorOTAPToSink(colOTAP, sink.addr), colOTAP)

	admin := freeAddr(t)
	ps, recycles := otapExporterPipelines(t, colOTAP)
	af := startAckflow(t, admin, ackflowConfig(admin, ps...), listenAddrs(ps)...)

	sent := map[string]counts{}
	var total counts
	for _, p := range ps {
		sent[p.name] = deliverAll(t, sink, p.name, p.grpc)
		if recycles[p.name] {
			sent[p.name] = sent[p.name].add(deliverAfterLifetime(t, sink, p.name, p.grpc))
		}
		total = total.add(sent[p.name])
	}

	for _, p := range ps {
		n := uint64(sent[p.name].total())
		requireFlow(t, "status of "+p.name, af.pipelineFlow(t, "default/"+p.name), flow{Admitted: n, Delivered: n})
	}
	summary := af.stopAndSummarize(t)
	for _, p := range ps {
		n := uint64(sent[p.name].total())
		requireFlow(t, "summary of "+p.name, summary["default/"+p.name], flow{Admitted: n, Delivered: n})
	}
	if code := col.stop(t); code != 0 {
		t.Errorf("collector exited with code %d after SIGTERM", code)
	}
	requireNoExportErrors(t, col)
	if got := sink.counts(); got != total {
		t.Errorf("the sink received %s in all, want %s (duplicates or losses)", got, total)
	}
}

// TestOTAPAckflowToAckflow: telemetrygen and a test client → ackflow
// "front" (receiver:otlp → exporter:otap, the three settings of
// TestOTAPAckflowToCollector) → ackflow "back" (receiver:otap →
// exporter:otlp_grpc) → sink, for every signal.
func TestOTAPAckflowToAckflow(t *testing.T) {
	requireNodeTypes(t, "receiver:otap", "exporter:otap")
	sink := startSink(t)
	backAdmin := freeAddr(t)
	in := ackflowPipeline{name: "from_otap", otap: freeAddr(t),
		exporter: fmt.Sprintf(`{ type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }`, sink.addr)}
	back := startAckflowAs(t, "ackflow-back", backAdmin, ackflowConfig(backAdmin, in), in.otap)

	frontAdmin := freeAddr(t)
	ps, recycles := otapExporterPipelines(t, in.otap)
	front := startAckflowAs(t, "ackflow-front", frontAdmin, ackflowConfig(frontAdmin, ps...), listenAddrs(ps)...)

	sent := map[string]counts{}
	var total counts
	for _, p := range ps {
		sent[p.name] = deliverAll(t, sink, p.name, p.grpc)
		if recycles[p.name] {
			sent[p.name] = sent[p.name].add(deliverAfterLifetime(t, sink, p.name, p.grpc))
		}
		total = total.add(sent[p.name])
	}

	n := uint64(total.total())
	for _, p := range ps {
		pn := uint64(sent[p.name].total())
		requireFlow(t, "front status of "+p.name, front.pipelineFlow(t, "default/"+p.name), flow{Admitted: pn, Delivered: pn})
	}
	requireFlow(t, "back status", back.pipelineFlow(t, "default/"+in.name), flow{Admitted: n, Delivered: n})
	summary := front.stopAndSummarize(t)
	for _, p := range ps {
		pn := uint64(sent[p.name].total())
		requireFlow(t, "front summary of "+p.name, summary["default/"+p.name], flow{Admitted: pn, Delivered: pn})
	}
	requireFlow(t, "back summary", back.stopAndSummarize(t)["default/"+in.name], flow{Admitted: n, Delivered: n})
	if got := sink.counts(); got != total {
		t.Errorf("the sink received %s in all, want %s (duplicates or losses)", got, total)
	}
}

// TestOTAPNacksAckflowToAckflow: the sink refuses, permanently
// (INVALID_ARGUMENT) or transiently (UNAVAILABLE); back's exporter:otlp_grpc
// nacks, back's receiver:otap answers the batch INVALID_ARGUMENT or
// UNAVAILABLE, front's exporter:otap nacks the same way and front's
// receiver:otlp tells the client InvalidArgument or Unavailable. Nothing
// retries, so the sink is asked once per export; after the refusals the
// same streams deliver again.
func TestOTAPNacksAckflowToAckflow(t *testing.T) {
	requireNodeTypes(t, "receiver:otap", "exporter:otap")
	sink := startSink(t)
	backAdmin := freeAddr(t)
	in := ackflowPipeline{name: "from_otap", otap: freeAddr(t),
		exporter: fmt.Sprintf(`{ type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }`, sink.addr)}
	back := startAckflowAs(t, "ackflow-back", backAdmin, ackflowConfig(backAdmin, in), in.otap)

	frontAdmin := freeAddr(t)
	out := ackflowPipeline{name: "to_otap", grpc: freeAddr(t), http: freeAddr(t), exporter: otapExporterNode(in.otap, "")}
	front := startAckflowAs(t, "ackflow-front", frontAdmin, ackflowConfig(frontAdmin, out), listenAddrs([]ackflowPipeline{out})...)

	runNacks(t, sink, out.grpc, tries(1, 1), tries(1, 1))

	delivered, refused := uint64(sink.counts().total()), uint64(sink.refusedCounts().total())
	want := flow{Admitted: delivered + refused, Delivered: delivered, Nacked: refused}
	requireFlow(t, "front status", front.pipelineFlow(t, "default/"+out.name), want)
	requireFlow(t, "back status", back.pipelineFlow(t, "default/"+in.name), want)
	requireFlow(t, "front summary", front.stopAndSummarize(t)["default/"+out.name], want)
	requireFlow(t, "back summary", back.stopAndSummarize(t)["default/"+in.name], want)
}

// TestOTAPNacksCollectorToAckflow: as TestOTAPNacksAckflowToAckflow with
// the collector in front (OTLP receiver, otelarrow exporter, no sending
// queue). Without retry_on_failure the otelarrow exporter turns
// INVALID_ARGUMENT into a permanent error and UNAVAILABLE into a
// retryable one, logs "Exporting failed. Rejecting data." and the OTLP
// receiver answers the client InvalidArgument or Unavailable. With
// retry_on_failure it retries UNAVAILABLE with backoff until
// max_elapsed_time ("no more retries left": the client then sees
// Unavailable, the sink was asked several times) and does not retry
// INVALID_ARGUMENT ("not retryable error": asked once).
func TestOTAPNacksCollectorToAckflow(t *testing.T) {
	requireNodeTypes(t, "receiver:otap")
	sink := startSink(t)
	admin := freeAddr(t)
	in := ackflowPipeline{name: "from_arrow", otap: freeAddr(t),
		exporter: fmt.Sprintf(`{ type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }`, sink.addr)}
	af := startAckflow(t, admin, ackflowConfig(admin, in), in.otap)

	exps := []arrowExporter{{name: "no_retry", compression: "none"}, {name: "retry", compression: "none", retry: true}}
	recv := map[string]string{"no_retry": freeAddr(t), "retry": freeAddr(t)}
	col := startCollectorBin(t, bins.otelarrowcol, "otelarrowcol", collectorToOTAP(recv, exps, in.otap),
		recv["no_retry"], recv["retry"])

	t.Run("no_retry", func(t *testing.T) {
		runNacks(t, sink, recv["no_retry"], tries(1, 1), tries(1, 1))
	})
	t.Run("retry", func(t *testing.T) {
		runNacks(t, sink, recv["retry"], tries(1, 1), tries(2, 100))
	})

	delivered, refused := uint64(sink.counts().total()), uint64(sink.refusedCounts().total())
	want := flow{Admitted: delivered + refused, Delivered: delivered, Nacked: refused}
	requireFlow(t, "status", af.pipelineFlow(t, "default/"+in.name), want)
	if code := col.stop(t); code != 0 {
		t.Errorf("collector exited with code %d after SIGTERM", code)
	}
	requireLogLines(t, col, collectorNackLines...)
	requireFlow(t, "summary", af.stopAndSummarize(t)["default/"+in.name], want)
}

// collectorNackLines are what the collector's otelarrow exporter logs
// for the refusals of runNacks, without and with retry_on_failure: it
// decoded each BatchStatus code into a gRPC code, rejected the data at
// once without retry, retried UNAVAILABLE with retry and gave up after
// max_elapsed_time, and did not retry INVALID_ARGUMENT.
var collectorNackLines = []string{
	`Exporting failed\. Rejecting data\..*code = InvalidArgument desc = invalid argument: \d+: `,
	`Exporting failed\. Rejecting data\..*code = Unavailable desc = destination unavailable: \d+: `,
	`Exporting failed\. Will retry the request after interval\..*code = Unavailable desc = destination unavailable`,
	`no more retries left: rpc error: code = Unavailable`,
	`not retryable error: .*code = InvalidArgument`,
}

// requireLogLines fails for each regular expression that matches no line
// of p's output.
func requireLogLines(t *testing.T, p *proc, res ...string) {
	t.Helper()
	for _, re := range res {
		if len(grepLines(p.out.String(), regexp.MustCompile(re))) == 0 {
			t.Errorf("the log of %s has no line matching %q", p.name, re)
		}
	}
}

// TestOTAPNacksAckflowToCollector: the sink refuses behind the collector
// (otelarrow receiver, OTLP exporter without queue or retry); the
// collector's receiver answers INVALID_ARGUMENT for the permanent error and
// UNAVAILABLE for the other; ackflow's exporter:otap must nack
// accordingly, so that its receiver:otlp tells the client InvalidArgument
// or Unavailable.
func TestOTAPNacksAckflowToCollector(t *testing.T) {
	requireNodeTypes(t, "exporter:otap")
	sink := startSink(t)
	colOTAP := freeAddr(t)
	col := startCollectorBin(t, bins.otelarrowcol, "otelarrowcol", collectorOTAPToSink(colOTAP, sink.addr), colOTAP)

	admin := freeAddr(t)
	out := ackflowPipeline{name: "to_arrow", grpc: freeAddr(t), http: freeAddr(t), exporter: otapExporterNode(colOTAP, "")}
	af := startAckflow(t, admin, ackflowConfig(admin, out), listenAddrs([]ackflowPipeline{out})...)

	runNacks(t, sink, out.grpc, tries(1, 1), tries(1, 1))

	delivered, refused := uint64(sink.counts().total()), uint64(sink.refusedCounts().total())
	want := flow{Admitted: delivered + refused, Delivered: delivered, Nacked: refused}
	requireFlow(t, "status", af.pipelineFlow(t, "default/"+out.name), want)
	requireFlow(t, "summary", af.stopAndSummarize(t)["default/"+out.name], want)
	if code := col.stop(t); code != 0 {
		t.Errorf("collector exited with code %d after SIGTERM", code)
	}
}

// ---- helpers ----

// deliverAll sends to the OTLP/gRPC endpoint, for each signal, 250 items
// from telemetrygen and then the content request (content_test.go), in
// subtests name/signal. Once a client has its answer the sink must have
// its items, once, and the content unchanged. It returns the items sent.
func deliverAll(t *testing.T, s *sink, name, endpoint string) counts {
	t.Helper()
	var sent counts
	for _, sig := range signals {
		g := gen{signal: sig, n: 250, endpoint: endpoint}
		want := g.items().add(contentCounts(sig))
		sent = sent.add(want)
		t.Run(name+"/"+sig, func(t *testing.T) {
			before := s.counts()
			requireGenOK(t, g, runGen(t, g))
			if err := sendContent(t, endpoint, sig, t.Name()); err != nil {
				t.Fatalf("export of the content request: %v", err)
			}
			if got := s.waitFor(before.add(want), arriveTimeout).sub(before); got != want {
				t.Errorf("the sink received %s, want %s", got, want)
			}
			requireContent(t, s, sig, t.Name())
		})
	}
	return sent
}

// shortLifetime is the max_stream_lifetime of the exporters that recycle
// their streams during a test.
const shortLifetime = time.Second

// deliverAfterLifetime waits until the streams of an exporter with
// shortLifetime have been recycled (a wall-clock wait: the lifetime is
// the exporter's own clock), then delivers again as deliverAll does, in
// subtests name/after_lifetime/signal. It returns the items sent.
func deliverAfterLifetime(t *testing.T, s *sink, name, endpoint string) counts {
	t.Helper()
	time.Sleep(shortLifetime + shortLifetime/2)
	return deliverAll(t, s, name+"/after_lifetime", endpoint)
}

// sendContent exports the content request of signal with tag to the
// OTLP/gRPC endpoint from a new client connection.
func sendContent(t *testing.T, endpoint, signal, tag string) error {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()
	return exportContent(ctx, conn, signal, tag)
}

// nackCase is a refusal by the sink and the code the first client must
// be told.
type nackCase struct {
	name       string
	sink, want codes.Code
	tries      func(n int) error // checks how often the sink was asked
}

// tries returns a check that the sink was asked between lo and hi times.
func tries(lo, hi int) func(n int) error {
	return func(n int) error {
		if n < lo || n > hi {
			return fmt.Errorf("the sink was asked %d times for one export, want %d to %d", n, lo, hi)
		}
		return nil
	}
}

// runNacks makes the sink refuse, permanently (INVALID_ARGUMENT) and then
// transiently (UNAVAILABLE), and exports the content request of each
// signal to the OTLP/gRPC endpoint: the client must be told
// InvalidArgument or Unavailable, and the sink must have been asked as
// often as permanent or transient allow. After each refusal the sink
// accepts again and the same request must be delivered whole.
func runNacks(t *testing.T, s *sink, endpoint string, permanent, transient func(n int) error) {
	t.Helper()
	cases := []nackCase{
		{name: "permanent", sink: codes.InvalidArgument, want: codes.InvalidArgument, tries: permanent},
		{name: "transient", sink: codes.Unavailable, want: codes.Unavailable, tries: transient},
	}
	for _, c := range cases {
		for _, sig := range signals {
			t.Run(c.name+"/"+sig, func(t *testing.T) {
				per := contentCounts(sig).total()
				before := s.refusedCounts()
				s.setRefusal(c.sink)
				err := sendContent(t, endpoint, sig, t.Name()+"/refused")
				s.setRefusal(codes.OK)
				if code := status.Code(err); code != c.want {
					t.Errorf("the client was told %s (%v), want %s", code, err, c.want)
				}
				asked := s.refusedCounts().sub(before).total()
				if asked%per != 0 {
					t.Errorf("the sink refused %d items, not a multiple of the %d exported", asked, per)
				} else if err := c.tries(asked / per); err != nil {
					t.Error(err)
				}

				// The stream survives a failed batch: the next export goes through.
				if err := sendContent(t, endpoint, sig, t.Name()); err != nil {
					t.Fatalf("export after the refusal: %v", err)
				}
				requireContent(t, s, sig, t.Name())
			})
		}
	}
}

// otapExporterPipelines are three receiver:otlp → exporter:otap pipelines
// to the OTAP server at addr: the defaults; gRPC gzip without Arrow IPC
// compression; zstd at both levels with streams of shortLifetime. The
// names of the pipelines whose streams are recycled are in recycles.
func otapExporterPipelines(t *testing.T, addr string) (ps []ackflowPipeline, recycles map[string]bool) {
	t.Helper()
	variants := []struct{ name, extra string }{
		{"otap_defaults", ""},
		{"otap_gzip", `, compression: gzip, arrow: { payload_compression: none }`},
		{"otap_zstd_short", fmt.Sprintf(`, compression: zstd, arrow: { payload_compression: zstd, max_stream_lifetime: %s }`, shortLifetime)},
	}
	for _, v := range variants {
		ps = append(ps, ackflowPipeline{name: v.name, grpc: freeAddr(t), http: freeAddr(t), exporter: otapExporterNode(addr, v.extra)})
	}
	return ps, map[string]bool{"otap_zstd_short": true}
}

// otapExporterNode is an exporter:otap node to the OTAP server at addr;
// extra adds config keys (", key: value, …").
func otapExporterNode(addr, extra string) string {
	return fmt.Sprintf(`{ type: exporter:otap, config: { grpc_endpoint: "http://%s", timeout: 10s%s } }`, addr, extra)
}

// arrowExporter is one otelarrow exporter of the collector, otelarrow/NAME,
// fed by its own OTLP receiver otlp/NAME. It has one Arrow stream, never
// downgrades to OTLP and has no sending queue.
type arrowExporter struct {
	name        string
	compression string // gRPC: "" keeps zstd (grpc-encoding zstdarrow5), gzip or none
	payload     string // Arrow IPC: "" keeps zstd, or none
	lifetime    string // max_stream_lifetime: "" keeps 30s
	retry       bool   // retry_on_failure, briefly; off otherwise
}

func (e arrowExporter) yaml(endpoint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  otelarrow/%s:\n    endpoint: %s\n    tls:\n      insecure: true\n    timeout: 10s\n", e.name, endpoint)
	b.WriteString("    sending_queue:\n      enabled: false\n")
	if e.retry {
		b.WriteString("    retry_on_failure:\n      enabled: true\n      initial_interval: 100ms\n" +
			"      max_interval: 200ms\n      max_elapsed_time: 1500ms\n")
	} else {
		b.WriteString("    retry_on_failure:\n      enabled: false\n")
	}
	if e.compression != "" {
		fmt.Fprintf(&b, "    compression: %s\n", e.compression)
	}
	b.WriteString("    arrow:\n      num_streams: 1\n      disable_downgrade: true\n")
	if e.payload != "" {
		fmt.Fprintf(&b, "      payload_compression: %s\n", e.payload)
	}
	if e.lifetime != "" {
		fmt.Fprintf(&b, "      max_stream_lifetime: %s\n", e.lifetime)
	}
	return b.String()
}

// collectorToOTAP: for each exporter e, OTLP gRPC in on recv[e.name] and
// otelarrow/e.name out to the OTAP server at otapAddr.
func collectorToOTAP(recv map[string]string, exps []arrowExporter, otapAddr string) string {
	var b strings.Builder
	b.WriteString("receivers:\n")
	for _, e := range exps {
		fmt.Fprintf(&b, "  otlp/%s:\n    protocols:\n      grpc:\n        endpoint: %s\n", e.name, recv[e.name])
	}
	b.WriteString("exporters:\n")
	for _, e := range exps {
		b.WriteString(e.yaml(otapAddr))
	}
	fmt.Fprintf(&b, "service:%s  pipelines:\n", collectorTelemetry)
	for _, e := range exps {
		b.WriteString(collectorPipelines("/"+e.name, "otlp/"+e.name, "", "otelarrow/"+e.name))
	}
	return b.String()
}

// collectorOTAPToSink: the otelarrow receiver on otapAddr, the sink out,
// with no sending queue and no retry, so a batch's status is the sink's
// answer.
func collectorOTAPToSink(otapAddr, sinkAddr string) string {
	return fmt.Sprintf(`receivers:
  otelarrow:
    protocols:
      grpc:
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
%s`, otapAddr, sinkAddr, collectorTelemetry, collectorPipelines("", "otelarrow", "", "otlp_grpc/sink"))
}
