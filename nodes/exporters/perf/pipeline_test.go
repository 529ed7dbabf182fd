package perf

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
	"github.com/ackflow/ackflow/telemetry"
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
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
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
	reg := engine.MustRegistry(trafficgen.NewFactory(), NewFactory())
	d, err := config.Load("test.yaml", []byte(doc), reg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var out syncLines
	metrics := telemetry.NewRegistry()
	eng, err := engine.New(d, reg, engine.Options{Metrics: metrics, Logger: newTextLogger(&out)})
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
