package filter_test

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/pdata"
)

// testMetrics is the data every metric rule is tried on: two resources,
// four metrics of 1, 2, 3 and 4 data points.
func testMetrics(t testing.TB) pmetric.Metrics {
	return buildMetrics(t,
		metricRes{attrs: attrs{"host": "a"}, metrics: []metric{
			{name: "http.server.request.count", points: 1},
			{name: "process.cpu.utilization", points: 2},
			{name: "internal.queue.size", points: 3},
		}},
		metricRes{attrs: attrs{"host": "b"}, metrics: []metric{
			{name: "internal.gc.count", points: 4},
		}},
	)
}

func TestMetricRules(t *testing.T) {
	tests := []struct {
		name string
		cfg  string
		want []string // metrics kept; none: the message is dropped
	}{
		{name: "no metrics rules: untouched", cfg: "logs: { exclude: { bodies: [x] } }",
			want: []string{"http.server.request.count", "process.cpu.utilization", "internal.queue.size", "internal.gc.count"}},
		{name: "metric_names strict", cfg: `
metrics:
  include:
    match_type: strict
    metric_names: [http.server.request.count, process.cpu.utilization]`,
			want: []string{"http.server.request.count", "process.cpu.utilization"}},
		{name: "metric_names regexp exclude", cfg: `
metrics:
  exclude:
    match_type: regexp
    metric_names: ['^internal\..*$']`,
			want: []string{"http.server.request.count", "process.cpu.utilization"}},
		{name: "resource_attributes", cfg: "metrics: { include: { resource_attributes: [{ key: host, value: b }] } }",
			want: []string{"internal.gc.count"}},
		{name: "include then exclude", cfg: `
metrics:
  include: { match_type: regexp, metric_names: ['^(internal|process)\.'] }
  exclude: { metric_names: [internal.gc.count] }`,
			want: []string{"process.cpu.utilization", "internal.queue.size"}},
		{name: "nothing matches include", cfg: "metrics: { include: { metric_names: [nope] } }"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := metricsPayload(t, testMetrics(t))
			checkKept(t, in, run(t, tc.cfg, in), metricNames, tc.want)
		})
	}
}

// Metric items are data points: a removed metric removes all of its
// points, and that is what is counted.
func TestMetricItemsAreDataPoints(t *testing.T) {
	h, reg := newHarness(t, "metrics: { exclude: { metric_names: [internal.queue.size, internal.gc.count] } }")
	in := metricsPayload(t, testMetrics(t))
	if in.Items() != 10 {
		t.Fatalf("test data: %d items, want 10", in.Items())
	}
	h.SendPData(pdata.New(in))
	out := h.RequireSent(port, 1)[0]
	if out.Items() != 3 {
		t.Fatalf("sent %d items, want 3 (1 + 2 data points)", out.Items())
	}
	for name, want := range map[string]float64{
		"ackflow_processor_filter_received_items_total": 10,
		"ackflow_processor_filter_kept_items_total":     3,
		"ackflow_processor_filter_filtered_items_total": 7,
	} {
		if got := enginetest.Value(t, reg, name, "signal", "metrics"); got != want {
			t.Errorf("%s{signal=metrics} = %v, want %v", name, got, want)
		}
	}
}
