package perf

import (
	"strings"
	"sync"
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
)

// syncLines is a log sink safe for the engine's goroutines.
type syncLines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (s *syncLines) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncLines) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// A document shaped like the reference engine's perf examples runs
// through the real engine: everything is acked, counted per signal, and
// summarised at the end.
func TestPipelineCountsEverything(t *testing.T) {
	const doc = `
nodes:
  receiver:
    type: receiver:traffic_generator
    config:
      traffic_config: { max_signal_count: 3000, max_batch_size: 100, log_weight: 1, metric_weight: 1, trace_weight: 1 }
      enable_ack_nack: true
  perf:
    type: urn:otel:exporter:perf
    config:
      frequency: 1000
      cpu_usage: false
      mem_usage: false
      disk_usage: false
      io_usage: false
connections:
  - from: receiver
    to: perf
`
	var out syncLines
	metrics := enginetest.Run(t, enginetest.Pipeline(doc), engine.Options{Logger: newTextLogger(&out)}, trafficgen.NewFactory(), NewFactory()).Metrics()
	for _, sig := range []string{"logs", "metrics", "traces"} {
		if got := counter(metrics, "ackflow_exporter_perf_items_total", sig); got != 1000 {
			t.Errorf("items_total{signal=%s} = %v, want 1000", sig, got)
		}
		if got := counter(metrics, "ackflow_exporter_perf_bytes_total", sig); got <= 0 {
			t.Errorf("bytes_total{signal=%s} = %v, want some", sig, got)
		}
	}
	log := out.String()
	for _, want := range []string{"perf exporter started", "perf summary", "logs.items=1000", "traces.items=1000"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not contain %q:\n%s", want, log)
		}
	}
}
