package trafficgen_test

import (
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/processors/debug"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
)

// In the real engine a generator with max_signal_count finishes by itself:
// every item is acked end to end, Run returns, the close wave passes and
// the engine is done without a shutdown request.
func TestPipelineRunsToCompletion(t *testing.T) {
	const doc = `
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
	eng := enginetest.Run(t, enginetest.Pipeline(doc), engine.Options{}, trafficgen.NewFactory(), debug.NewFactory(), noop.NewFactory())
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
		if got := enginetest.Value(t, eng.Metrics(), c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
