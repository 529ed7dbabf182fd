package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
	"github.com/ackflow/ackflow/pdata"
)

// pass forwards every message unchanged: the cheapest possible processor.
type pass struct{}

func (pass) OnPData(m *pdata.Message, fx engine.Effects) error { return fx.Send(m) }
func (pass) OnControl(engine.Control, engine.Effects) error    { return nil }

// BenchmarkEngineMessagePath measures the engine's per-message cost:
// traffic_generator → 3 pass-through processors → noop, with acks routed
// back to the generator. Run with -cpu 1 (GOMAXPROCS=1) for one core.
func BenchmarkEngineMessagePath(b *testing.B) {
	for _, acks := range []bool{true, false} {
		b.Run(fmt.Sprintf("acks=%v", acks), func(b *testing.B) {
			benchPath(b, acks)
		})
	}
}

func benchPath(b *testing.B, acks bool) {
	yaml := fmt.Sprintf(`
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          gen:
            type: receiver:traffic_generator
            config:
              enable_ack_nack: %v
              max_inflight: 4096
              traffic_config: { max_signal_count: %d, max_batch_size: 1, log_body_size_bytes: 16 }
          a: { type: processor:pass }
          b: { type: processor:pass }
          c: { type: processor:pass }
          out: { type: exporter:noop }
        connections:
          - { from: gen, to: a }
          - { from: a, to: b }
          - { from: b, to: c }
          - { from: c, to: out }
`, acks, b.N)
	reg := engine.MustRegistry(
		trafficgen.NewFactory(), noop.NewFactory(),
		engine.Factory{Type: "processor:pass", NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return pass{}, nil }},
	)
	doc, err := config.Load("bench.yaml", []byte(yaml), reg)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(doc, reg, engine.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	eng.Start()
	<-eng.Done()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if f := eng.Status()[0].Flow; f.Delivered != uint64(b.N) {
		b.Fatalf("delivered %d of %d", f.Delivered, b.N)
	}
}
