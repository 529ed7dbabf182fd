package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// BenchmarkExport measures the exporter against an in-process kfake broker
// that acknowledges produce requests without storing them (so broker
// storage stays out of the numbers): 8 messages of 1,000 logs (~185 B
// each, resources of 100) in flight per iteration, each acked once the
// broker acknowledged its records. kfake shares the process and its cores,
// so the numbers bound the exporter's own cost from above.
func BenchmarkExport(b *testing.B) {
	const logs, batch = 1000, 8
	for _, bc := range []struct{ name, cfg string }{
		{"otlp_proto", ""},
		{"otlp_proto/linger_5ms", "linger_ms: 5\n"},
		{"otlp_proto/partition_key_service.name", "logs: {partition_key: [service.name, resource.index]}\n"},
		{"otlp_proto/split_64KiB", "max_message_bytes: 64KiB\n"},
		{"otlp_proto/zstd", "compression: zstd\n"},
		{"otlp_json", "logs: {encoding: otlp_json}\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := newCluster(b, 1, kfake.BlackholeProduce())
			h, _ := newExporter(b, brokersOf(c)+bc.cfg)
			defer h.Shutdown(h.Clock.Now())
			p := pdatatest.LogsPayload("bench", logs, 100, 150)
			b.SetBytes(int64(p.Bytes()) * batch)
			b.ReportAllocs()
			for b.Loop() {
				for range batch {
					h.SendPData(pdatatest.Msg(p))
				}
				settle(b, h)
				for _, o := range h.TakeUpstream() {
					requireAck(b, o)
				}
			}
			b.ReportMetric(float64(logs*batch)*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}
