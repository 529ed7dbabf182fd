package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// BenchmarkExport measures the exporter against an in-process kfake broker
// that acknowledges produce requests without storing them (so broker
// storage stays out of the numbers): a burst of 8 messages of 1,000 logs
// (~185 B each, resources of 100) per iteration, each acked once the
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
			msgs := make([]*pdata.Message, batch)
			for b.Loop() {
				for i := range msgs {
					msgs[i] = pdatatest.Msg(p)
				}
				h.SendBurst(msgs...)
				settle(b, h)
				for _, o := range h.TakeUpstream() {
					requireAck(b, o)
				}
			}
			b.ReportMetric(float64(logs*batch)*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}

// BenchmarkVersusFranzGo runs the exporter and a bare franz-go producer
// side by side, in the same run, against the same in-process broker setup
// (kfake acknowledging without storing): each iteration produces the same
// 8 records (OTLP logs requests of the size named, ~185 B per log) and
// waits for the broker's acknowledgement of all of them. The bare client
// is configured as the exporter's (acks all, idempotent, no linger, no
// compression), produces the 8 records with one ProduceSync and does
// nothing else: it is the floor of what producing these bytes with
// franz-go costs here. The exporter gets them as 8 messages waiting in its
// input together (nodetest's SendBurst, as when 8 requests arrive at once)
// with its defaults (no linger): the records of the burst travel in one
// produce request, like the bare client's.
//
// items/cpu-s is logs per second of the process's CPU time (getrusage:
// user and system, the broker's included, as on both sides); ratio is an
// exporter run's items/cpu-s over the mean of the bare client's runs in
// the same process (with -count n, the n bare runs come first). The
// issue's target is a ratio of at least 0.5.
func BenchmarkVersusFranzGo(b *testing.B) {
	const batch = 8
	for _, size := range []struct {
		name              string
		logs, perResource int
	}{
		{"1000_logs", 1000, 100},
		{"10_logs", 10, 10},
	} {
		p := pdatatest.LogsPayload("bench", size.logs, size.perResource, 150)
		value, err := p.AppendOTLP(nil)
		if err != nil {
			b.Fatal(err)
		}
		var bare []float64 // the bare client's items/cpu-s, one per run
		b.Run(size.name+"/franz-go", func(b *testing.B) {
			c := newCluster(b, 1, kfake.BlackholeProduce())
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DisableClientMetrics(),
				kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()),
				kgo.ProducerBatchMaxBytes(1_000_000), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			recs := make([]*kgo.Record, batch)
			produce := func() {
				for i := range recs {
					recs[i] = &kgo.Record{Topic: "otlp_logs", Value: value}
				}
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
			}
			produce() // connected, producer id known
			b.SetBytes(int64(len(value)) * batch)
			b.ReportAllocs()
			m := startCPU()
			for b.Loop() {
				produce()
			}
			if r := m.report(b, float64(size.logs*batch*b.N)); r > 0 {
				bare = append(bare, r)
			}
		})
		b.Run(size.name+"/ackflow", func(b *testing.B) {
			c := newCluster(b, 1, kfake.BlackholeProduce())
			h, _ := newExporter(b, brokersOf(c))
			defer h.Shutdown(h.Clock.Now())
			msgs := make([]*pdata.Message, batch)
			export := func() {
				for i := range msgs {
					msgs[i] = pdatatest.Msg(p)
				}
				h.SendBurst(msgs...)
				settle(b, h)
				for _, o := range h.TakeUpstream() {
					requireAck(b, o)
				}
			}
			export() // connected, producer id known
			b.SetBytes(int64(len(value)) * batch)
			b.ReportAllocs()
			m := startCPU()
			for b.Loop() {
				export()
			}
			reportRatio(b, m.report(b, float64(size.logs*batch*b.N)), bare)
		})
	}
}

// reportRatio reports own over the mean of the bare client's runs.
func reportRatio(b *testing.B, own float64, bare []float64) {
	if own <= 0 || len(bare) == 0 {
		return
	}
	var sum float64
	for _, r := range bare {
		sum += r
	}
	b.ReportMetric(own/(sum/float64(len(bare))), "ratio")
}

// cpuMeter measures a benchmark loop's CPU time.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuMeter {
	t, ok := cpuTime()
	return cpuMeter{start: t, ok: ok}
}

// report reports items/s (wall) and items/cpu-s over the loop and returns
// the latter (0 when CPU time is not measured here).
func (m cpuMeter) report(b *testing.B, items float64) float64 {
	end, ok := cpuTime()
	b.ReportMetric(items/b.Elapsed().Seconds(), "items/s")
	if !m.ok || !ok || end <= m.start {
		return 0
	}
	rate := items / (end - m.start).Seconds()
	b.ReportMetric(rate, "items/cpu-s")
	return rate
}
