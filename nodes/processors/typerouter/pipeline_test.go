package typerouter_test

import (
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/processors/typerouter"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
)

// A document shaped like the reference engine's examples (URN type, the
// three signal ports, config: {}) runs through the real engine: each
// exporter gets exactly its signal, and everything is delivered.
func TestPipelineSplitsSignals(t *testing.T) {
	const doc = `
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
	eng := enginetest.Run(t, enginetest.Pipeline(doc), engine.Options{}, trafficgen.NewFactory(), typerouter.NewFactory(), noop.NewFactory())
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
		if got := enginetest.Value(t, eng.Metrics(), c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
