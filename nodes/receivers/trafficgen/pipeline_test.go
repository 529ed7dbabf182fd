package trafficgen_test

import (
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/processors/debug"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
	"github.com/ackflow/ackflow/telemetry"
)

// In the real engine a generator with max_signal_count finishes by itself:
// every item is acked end to end, Run returns, the close wave passes and
// the engine is done without a shutdown request.
func TestPipelineRunsToCompletion(t *testing.T) {
	const doc = `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          gen:
            type: urn:otel:receiver:traffic_generator
            config:
              traffic_config: { max_signal_count: 10000, log_weight: 3, metric_weight: 1, trace_weight: 1 }
              enable_ack_nack: true
              max_inflight: 8
          dbg: { type: processor:debug, config: { verbosity: detailed } }
          out: { type: exporter:noop, config: {} }
        connections:
          - { from: gen, to: dbg }
          - { from: dbg, to: out }
`
	reg := engine.MustRegistry(trafficgen.NewFactory(), debug.NewFactory(), noop.NewFactory())
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
		{"ackflow_receiver_traffic_generator_acked_items_total", []string{"signal", "logs"}, 6000},
		{"ackflow_receiver_traffic_generator_acked_items_total", []string{"signal", "metrics"}, 2000},
		{"ackflow_receiver_traffic_generator_acked_items_total", []string{"signal", "traces"}, 2000},
		{"ackflow_receiver_traffic_generator_in_flight", nil, 0},
		{"ackflow_pipeline_delivered_items_total", nil, 10000},
		{"ackflow_node_acked_items_total", []string{"node", "out"}, 10000},
	} {
		if got := value(t, metrics, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
