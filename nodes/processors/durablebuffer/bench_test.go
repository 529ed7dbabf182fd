package durablebuffer_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/processors/durablebuffer"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
	"github.com/ackflow/ackflow/telemetry"
)

// BenchmarkPipeline measures a pipeline through the buffer:
// traffic_generator (acks on, up to 16 requests in flight, so commits are
// shared) → durable_buffer → noop, for bundles of about 16 KiB and 240 KiB
// in both durability modes. Each op is one bundle persisted, acked
// upstream, delivered and acked downstream. Compare MB/s with the disk's
// raw bandwidth from storage/wal's BenchmarkRaw* in the same run.
func BenchmarkPipeline(b *testing.B) {
	for _, size := range []struct {
		name         string
		logs, bodyKB int
	}{{"16KiB", 16, 1}, {"240KiB", 60, 4}} {
		for _, dur := range []string{"fsync", "write"} {
			b.Run(fmt.Sprintf("bundle=%s/durability=%s", size.name, dur), func(b *testing.B) {
				benchPipeline(b, size.logs, size.bodyKB, dur)
			})
		}
	}
}

func benchPipeline(b *testing.B, logs, bodyKB int, durability string) {
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
              enable_ack_nack: true
              max_inflight: 16
              traffic_config: { max_signal_count: %d, max_batch_size: %d, log_body_size_bytes: %dKiB }
          buffer:
            type: processor:durable_buffer
            config: { path: %q, durability: %s, retention_size_cap: 64GiB }
          out: { type: exporter:noop }
        connections:
          - { from: gen, to: buffer }
          - { from: buffer, to: out }
`, b.N*logs, logs, bodyKB, b.TempDir(), durability)
	reg := engine.MustRegistry(trafficgen.NewFactory(), durablebuffer.NewFactory(), noop.NewFactory())
	doc, err := config.Load("bench.yaml", []byte(yaml), reg)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(doc, reg, engine.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(logs * bodyKB << 10))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	eng.Start()
	<-eng.Done()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "bundles/s")
	if f := eng.Status()[0].Flow; f.Delivered != uint64(b.N*logs) {
		b.Fatalf("delivered %d of %d items", f.Delivered, b.N*logs)
	}
}

// BenchmarkOutage plays a long outage through the node (nodetest, fake
// clock): a backlog of 20,000 bundles, every send nacked transiently. One
// op is one retry round (up to max_in_flight nacks). It reports the heap in
// use at the end, which must not grow with the rounds (the window holds at
// most max_in_flight small entries; retries re-read the log).
func BenchmarkOutage(b *testing.B) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(b, durablebuffer.NewFactory(),
		fmt.Sprintf("path: %s\ndurability: write\nmax_in_flight: 1000\nmax_retry_interval: 2s", b.TempDir()),
		nodetest.WithRegistry(reg))
	for range 20_000 {
		h.SendPData(logs(1))
	}
	h.TakeUpstream()
	nacks := 0
	b.ResetTimer()
	for b.Loop() {
		for _, m := range h.TakeSent(port) {
			h.Nack(m, transient)
			nacks++
		}
		h.Advance(3 * time.Second)
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(nacks)/float64(b.N), "nacks/op")
	h.ForceShutdown()
}
