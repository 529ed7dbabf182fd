package logsampling_test

import (
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/processors/logsampling"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
)

// Through the real engine: one log record in 250 reaches the exporter,
// every request is answered, metrics pass, and the pipeline's accounting
// balances: admitted = delivered + nacked + dropped, where dropped holds
// every record sampled out, from whole messages and from messages
// forwarded in part (DropPart), all with reason sampled on the node.
func TestPipelineSamplesLogs(t *testing.T) {
	const doc = `
nodes:
  gen:
    type: receiver:traffic_generator
    config:
      traffic_config: { max_signal_count: 12000, max_batch_size: 100, log_weight: 5, metric_weight: 1, trace_weight: 0 }
      enable_ack_nack: true
  sampler:
    type: urn:otel:processor:log_sampling
    config:
      policy:
        ratio: { emit: 1, out_of: 250 }
  out: { type: exporter:noop, config: }
connections:
  - { from: gen, to: sampler }
  - { from: sampler, to: out }
`
	metrics := enginetest.Run(t, enginetest.Pipeline(doc), engine.Options{}, trafficgen.NewFactory(), logsampling.NewFactory(), noop.NewFactory()).Metrics()
	const logs, metricPoints = 10000, 2000
	kept := enginetest.Sum(metrics, "ackflow_processor_log_sampling_kept_items_total")
	dropped := enginetest.Sum(metrics, "ackflow_processor_log_sampling_dropped_items_total")
	if kept != logs/250 || dropped != logs-logs/250 {
		t.Fatalf("sampler kept %v and dropped %v of %d logs, want %d and %d", kept, dropped, logs, logs/250, logs-logs/250)
	}
	if got := enginetest.Sum(metrics, "ackflow_node_acked_items_total", "node", "out"); got != kept+metricPoints {
		t.Errorf("exporter acked %v items, want %v logs kept + %d metric points", got, kept, metricPoints)
	}
	admitted := enginetest.Sum(metrics, "ackflow_pipeline_admitted_items_total")
	delivered := enginetest.Sum(metrics, "ackflow_pipeline_delivered_items_total")
	nacked := enginetest.Sum(metrics, "ackflow_pipeline_nacked_items_total")
	pipeDropped := enginetest.Sum(metrics, "ackflow_pipeline_dropped_items_total")
	if admitted != logs+metricPoints || delivered+nacked+pipeDropped != admitted {
		t.Errorf("pipeline: admitted %v, delivered %v, nacked %v, dropped %v; want %d admitted = delivered + nacked + dropped",
			admitted, delivered, nacked, pipeDropped, logs+metricPoints)
	}
	if delivered != kept+metricPoints || nacked != 0 || pipeDropped != dropped {
		t.Errorf("pipeline: delivered %v, nacked %v, dropped %v; want %v delivered (kept + metric points), 0 nacked, %v dropped (every record sampled out)",
			delivered, nacked, pipeDropped, kept+metricPoints, dropped)
	}
	if nodeDropped := enginetest.Sum(metrics, "ackflow_node_dropped_items_total", "node", "sampler", "reason", "sampled"); nodeDropped != dropped {
		t.Errorf("node dropped{sampled} %v, want every record sampled out (%v), whole messages and parts", nodeDropped, dropped)
	}
	if got := enginetest.Sum(metrics, "ackflow_accounting_mismatch_total"); got != 0 {
		t.Errorf("accounting mismatches: %v", got)
	}
}
