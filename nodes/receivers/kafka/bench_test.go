package kafka_test

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// BenchmarkVersusFranzGo runs the receiver and a bare franz-go group
// consumer side by side, in the same run, on the same records: kfake
// serves every fetch of topic logs from one canned record batch (its
// SyntheticFetch, so the broker stores nothing and the stream never
// ends), each record an OTLP logs request of the size named (~185 B per
// log). An iteration is one record: the receiver's sent into the pipeline
// and acked there (the benchmark is the pipeline, acking at once), its
// offset committed as the receiver does (as soon as it moves, one commit
// at a time); the bare consumer's taken from a poll, whose offsets it
// commits (synchronously) before the next poll. The bare consumer reads
// the values and nothing else: no wire check, no message, no return route.
//
// items/cpu-s is logs per second of the process's CPU time (getrusage:
// user and system, the broker's included, as on both sides); ratio is a
// receiver run's items/cpu-s over the mean of the bare consumer's runs in
// the same process (with -count n, the n bare runs come first). The
// issue's target is a ratio of at least 0.5.
func BenchmarkVersusFranzGo(b *testing.B) {
	for _, size := range []struct {
		name                       string
		logs, perResource, records int
	}{
		{"100_logs", 100, 10, 50},
		{"10_logs", 10, 10, 400},
	} {
		value := pdatatest.LogsBytes("bench", size.logs, size.perResource, 150)
		batch := recordBatch(value, size.records)
		topics := map[string]int32{"logs": 1}
		synthetic := []kfake.Opt{kfake.SyntheticFetch(kfake.SyntheticBatch{Batch: batch})}
		var bare []float64 // the bare consumer's items/cpu-s, one per run
		b.Run(size.name+"/franz-go", func(b *testing.B) {
			c := newClusterWith(b, topics, synthetic, nil)
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr), kgo.DisableClientMetrics(),
				kgo.ConsumerGroup("bench-bare"), kgo.ConsumeTopics("logs"), kgo.DisableAutoCommit(),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchMaxBytes(1<<20), kgo.FetchMaxPartitionBytes(1<<20), kgo.FetchMaxWait(250*time.Millisecond),
				kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(100*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var buf []*kgo.Record
			next := func() *kgo.Record {
				for len(buf) == 0 {
					if err := cl.CommitUncommittedOffsets(ctx); err != nil {
						b.Fatal(err)
					}
					fs := cl.PollFetches(ctx)
					if err := fs.Err0(); err != nil {
						b.Fatal(err)
					}
					buf = fs.Records()
				}
				r := buf[0]
				buf = buf[1:]
				return r
			}
			next() // joined, fetching
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			m := startCPU()
			var n int
			for b.Loop() {
				n += len(next().Value)
			}
			if r := m.report(b, float64(size.logs*b.N)); r > 0 {
				bare = append(bare, r)
			}
			if n != len(value)*b.N {
				b.Fatalf("read %d bytes, want %d", n, len(value)*b.N)
			}
		})
		b.Run(size.name+"/ackflow", func(b *testing.B) {
			c := newClusterWith(b, topics, synthetic, nil)
			f := c.start("")
			next := func() {
				m := f.next()
				if m.Payload().Items() != size.logs {
					b.Fatalf("a message of %d items, want %d", m.Payload().Items(), size.logs)
				}
				fr, ok := m.Unwind(pdata.AcksAndNacks)
				if !ok {
					b.Fatal("a message without the receiver's frame")
				}
				f.r.OnOutcome(engine.Control{Kind: engine.KindAck, CallData: fr.CallData})
			}
			next() // joined, fetching
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			m := startCPU()
			for b.Loop() {
				next()
			}
			reportRatio(b, m.report(b, float64(size.logs*b.N)), bare)
		})
	}
}

// recordBatch is a v2 record batch of n records holding value, as kfake's
// SyntheticFetch serves it (offsets and leader epoch rewritten per copy).
func recordBatch(value []byte, n int) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: value}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the bytes after the length itself
		recs = r.AppendTo(recs)
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: ts, MaxTimestamp: ts, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(n), Records: recs,
	}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))                                          // length: after itself
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))) // CRC from the attributes on
	return raw
}

// reportRatio reports own over the mean of the bare consumer's runs.
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
