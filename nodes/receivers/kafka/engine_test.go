package kafka_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/receivers/kafka"
)

// In a real pipeline (receiver:kafka into exporter:noop), the engine's
// acks come back through the return route, the offsets are committed, and
// the drain leaves every admitted item delivered.
func TestInAPipeline(t *testing.T) {
	c := newCluster(t, map[string]int32{"logs": 2})
	doc := fmt.Sprintf(`
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          in:
            type: receiver:kafka
            config:
              brokers: [%q]
              group_id: %s
              auto_offset_reset: earliest
              session_timeout_ms: 3000
              heartbeat_interval_ms: 100
              logs: {topics: [logs]}
              metrics: {topics: []}
              traces: {topics: []}
          out: { type: exporter:noop }
        connections:
          - { from: in, to: out }
`, c.addr, group)
	reg := engine.MustRegistry(kafka.NewFactory(), noop.NewFactory())
	d, err := config.Load("test.yaml", []byte(doc), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Check(d); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(d, reg, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start()
	c.produce("logs", 0, logRecords("a", 20)...)
	c.produce("logs", 1, logRecords("b", 30)...)
	c.waitCommitted("logs", 0, 20)
	c.waitCommitted("logs", 1, 30)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := eng.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	f := eng.Status()[0].Flow
	if f.Admitted != 50 || f.Delivered != 50 || f.InFlight() != 0 {
		t.Fatalf("flow %+v, want 50 admitted and delivered", f)
	}
}
