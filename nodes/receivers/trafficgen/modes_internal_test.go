package trafficgen

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

// poolFor decodes and validates cfg and returns the pool the node would
// send from.
func poolFor(t *testing.T, cfg string) (*pool, settings) {
	t.Helper()
	n, err := nodetest.NodeConfig(Type, cfg, []string{"default"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeConfig(n)
	if err != nil {
		t.Fatal(err)
	}
	s := c.settings()
	p, err := newPool(synth{base: pcommon.NewTimestampFromTime(nodetest.Start), node: "gen", bodySize: s.bodySize}, s)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func resourceAttr(t *testing.T, p *pdata.Payload, key string) string {
	t.Helper()
	ld, err := p.Logs()
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ld.ResourceLogs().At(0).Resource().Attributes().Get(key)
	return v.AsString()
}

func TestPreGeneratedReplaysPayloads(t *testing.T) {
	p, s := poolFor(t, "traffic_config: { max_batch_size: 10 }")
	first, _ := p.get(pdata.Logs, s.batch, time.Time{})
	for range poolSize - 1 {
		p.get(pdata.Logs, s.batch, time.Time{})
	}
	again, _ := p.get(pdata.Logs, s.batch, time.Time{})
	if again != first {
		t.Fatal("pre_generated: after a round of the pool the first payload should come back, shared")
	}
}

func TestFreshBuildsEveryPayloadWithTheTimeAndNewIDs(t *testing.T) {
	p, s := poolFor(t, "generation_strategy: fresh\ntraffic_config: { max_batch_size: 4, trace_weight: 1 }")
	t1 := nodetest.Start.Add(time.Minute)
	a, err := p.get(pdata.Traces, s.batch, t1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.get(pdata.Traces, s.batch, t1.Add(time.Second))
	ta, _ := a.Traces()
	tb, _ := b.Traces()
	sa, sb := ta.ResourceSpans().At(0).ScopeSpans().At(0).Spans(), tb.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	if sa.At(0).StartTimestamp().AsTime() != t1 || sb.At(0).StartTimestamp().AsTime() != t1.Add(time.Second) {
		t.Errorf("start times %v and %v, want the times the payloads were built", sa.At(0).StartTimestamp().AsTime(), sb.At(0).StartTimestamp().AsTime())
	}
	ids := map[pcommon.SpanID]bool{}
	for _, spans := range []ptrace.SpanSlice{sa, sb} {
		for _, sp := range spans.All() {
			if ids[sp.SpanID()] {
				t.Fatalf("span id %v repeats across fresh payloads", sp.SpanID())
			}
			ids[sp.SpanID()] = true
		}
	}
}

func TestResourceSetsRotateByWeight(t *testing.T) {
	for _, strategy := range []string{PreGenerated, Fresh} {
		t.Run(strategy, func(t *testing.T) {
			p, s := poolFor(t, "generation_strategy: "+strategy+`
traffic_config: { max_batch_size: 5 }
resource_attributes:
  - attrs: { tenant.id: prod, service.namespace: frontend }
    weight: 3
  - attrs: { tenant.id: ppe }`)
			var got []string
			for range 8 {
				pl, err := p.get(pdata.Logs, s.batch, nodetest.Start)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, resourceAttr(t, pl, "tenant.id"))
			}
			if want := "prod prod ppe prod prod prod ppe prod"; strings.Join(got, " ") != want {
				t.Fatalf("tenants %v, want %s (3 to 1, spread out)", got, want)
			}
			pl, _ := p.get(pdata.Logs, s.batch, nodetest.Start)
			if resourceAttr(t, pl, "service.namespace") != "frontend" || resourceAttr(t, pl, "service.name") != "ackflow-traffic-generator" {
				t.Error("the set's attributes should be merged into the generator's resource")
			}
		})
	}
}

func TestSyntheticShapeKeys(t *testing.T) {
	p, s := poolFor(t, `traffic_config:
  max_batch_size: 6
  log_weight: 1
  metric_weight: 1
  num_log_attributes: 5
  use_trace_context: true
  num_metric_attributes: 1
  num_data_points_per_metric: 2`)
	logs, _ := p.get(pdata.Logs, s.batch, time.Time{})
	ld, _ := logs.Logs()
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(3)
	if lr.Attributes().Len() != 5 || lr.TraceID().IsEmpty() || lr.SpanID().IsEmpty() {
		t.Errorf("log record has %d attributes, trace id %v; want 5 and a trace context", lr.Attributes().Len(), lr.TraceID())
	}
	metrics, _ := p.get(pdata.Metrics, s.batch, time.Time{})
	md, _ := metrics.Metrics()
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	if ms.Len() != 3 || md.DataPointCount() != 6 || metrics.Items() != 6 {
		t.Fatalf("%d metrics, %d points (payload says %d), want 3 metrics of 2 points", ms.Len(), md.DataPointCount(), metrics.Items())
	}
	if a := ms.At(0).Sum().DataPoints().At(0).Attributes(); a.Len() != 1 {
		t.Errorf("data point has %d attributes, want 1", a.Len())
	}
}

func TestSemanticConventionsData(t *testing.T) {
	p, s := poolFor(t, "data_source: semantic_conventions\ntraffic_config: { max_batch_size: 21, log_weight: 1, metric_weight: 1, trace_weight: 1 }")
	traces, _ := p.get(pdata.Traces, s.batch, time.Time{})
	td, err := traces.Traces()
	if err != nil {
		t.Fatal(err)
	}
	if traces.Items() != 21 || td.SpanCount() != 21 {
		t.Fatalf("%d spans (payload says %d), want 21", td.SpanCount(), traces.Items())
	}
	kinds := map[ptrace.SpanKind]bool{}
	keys := map[string]bool{}
	for _, sp := range td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
		kinds[sp.Kind()] = true
		for k := range sp.Attributes().All() {
			keys[k] = true
		}
	}
	for _, k := range []string{"http.request.method", "http.route", "db.system.name", "messaging.destination.name", "rpc.service"} {
		if !keys[k] {
			t.Errorf("no span carries %s", k)
		}
	}
	if len(kinds) != 5 {
		t.Errorf("span kinds %v, want server, client, producer, consumer and internal", kinds)
	}

	metrics, _ := p.get(pdata.Metrics, s.batch, time.Time{})
	md, _ := metrics.Metrics()
	if metrics.Items() != 21 || md.DataPointCount() != 21 {
		t.Fatalf("%d data points (payload says %d), want 21", md.DataPointCount(), metrics.Items())
	}
	if m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0); m.Name() != "http.server.request.duration" || m.Unit() != "s" || m.Histogram().DataPoints().Len() != 10 {
		t.Errorf("first metric %s (%s, %v), want the http.server.request.duration histogram of 10 points", m.Name(), m.Unit(), m.Type())
	}

	logs, _ := p.get(pdata.Logs, s.batch, time.Time{})
	ld, _ := logs.Logs()
	if lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0); lr.EventName() != "exception" || lr.SeverityText() != "ERROR" {
		t.Errorf("first record: event %q severity %q, want an exception event", lr.EventName(), lr.SeverityText())
	}
	if ld.ResourceLogs().At(0).SchemaUrl() == "" {
		t.Error("semantic-conventions data should name its schema URL")
	}
}

func TestOpenProductionSendsEachSecondsShareAtOnce(t *testing.T) {
	start := nodetest.Start
	smooth := &pacer{rate: 1000, maxLag: time.Second, start: start}
	open := &pacer{rate: 1000, maxLag: time.Second, start: start, open: true}
	for i, want := range []time.Duration{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, time.Second, time.Second} {
		if got := open.due(start).Sub(start); got != want {
			t.Fatalf("open: message %d due at +%v, want +%v", i, got, want)
		}
		if got, want := smooth.due(start).Sub(start), time.Duration(i)*100*time.Millisecond; got != want {
			t.Fatalf("smooth: message %d due at +%v, want +%v", i, got, want)
		}
		open.release(100)
		smooth.release(100)
	}
}
