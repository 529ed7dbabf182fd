package typerouter_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/processors/typerouter"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
	"github.com/ackflow/ackflow/telemetry"
)

// A document shaped like the reference engine's examples (URN type, the
// three signal ports, config: {}) runs through the real engine: each
// exporter gets exactly its signal, and everything is delivered.
func TestPipelineSplitsSignals(t *testing.T) {
	const doc = `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          gen:
            type: receiver:traffic_generator
            config:
              traffic_config: { max_signal_count: 6000, max_batch_size: 50, log_weight: 3, metric_weight: 2, trace_weight: 1 }
              enable_ack_nack: true
          router:
            type: urn:otel:processor:type_router
            outputs: ["logs", "metrics", "traces"]
            config: {}
          logs_out: { type: exporter:noop }
          metrics_out: { type: exporter:noop }
          traces_out: { type: exporter:noop }
        connections:
          - { from: gen, to: router }
          - { from: 'router["logs"]', to: logs_out }
          - { from: 'router["metrics"]', to: metrics_out }
          - { from: 'router["traces"]', to: traces_out }
`
	reg := engine.MustRegistry(trafficgen.NewFactory(), typerouter.NewFactory(), noop.NewFactory())
	d, err := config.Load("test.yaml", []byte(doc), reg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	metrics := telemetry.NewRegistry()
	eng, err := engine.New(d, reg, engine.Options{Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start()
	select {
	case <-eng.Done():
	case <-eng.Failed():
		t.Fatalf("engine failed: %v", eng.Err())
	case <-time.After(time.Minute): // a guard against a hang, not a wait
		t.Fatal("the pipeline did not finish by itself")
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ackflow_node_acked_items_total", []string{"node", "logs_out"}, 3000},
		{"ackflow_node_acked_items_total", []string{"node", "metrics_out"}, 2000},
		{"ackflow_node_acked_items_total", []string{"node", "traces_out"}, 1000},
		{"ackflow_pipeline_delivered_items_total", nil, 6000},
		{"ackflow_pipeline_nacked_items_total", nil, 0},
	} {
		if got := value(t, metrics, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// value returns the series name whose labels include labels (pairs).
func value(t *testing.T, reg *telemetry.Registry, name string, labels ...string) float64 {
	t.Helper()
	want := telemetry.Labels(labels...)
	for _, s := range reg.Snapshot() {
		if s.Name != name {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && slices.Contains(s.Labels, w)
		}
		if ok {
			return s.Value
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}
