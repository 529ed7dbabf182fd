package batch

import (
	"fmt"
	"testing"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// benchInput is the input: 1,000 logs of about 185 bytes each,
// perResource records per resource entry (0: one entry).
func benchInput(perResource int) *pdata.Payload {
	// A 160-byte body makes each encoded record about 185 bytes.
	return pdatatest.LogsPayload("bench", 1000, perResource, 160)
}

// BenchmarkBatch drives the core directly (no harness) with an Effects
// that acks every batch at once, one input per iteration, on one core.
// allocs/op is allocations per input; input_MB/s and items/s are the
// input bytes and log records batched per second.
func BenchmarkBatch(b *testing.B) {
	cases := []struct {
		name        string
		cfg         string
		perResource int
		decoded     bool
	}{
		// The default: 256 KiB batches, no max: whole inputs are appended.
		{name: "otlp/min=256KiB", cfg: "format: otlp", perResource: 0},
		// 256 KiB batches exactly: inputs are cut between resource entries.
		{name: "otlp/min=max=256KiB/entries=100logs", cfg: "format: otlp\notlp: {min_size: 256KiB, max_size: 256KiB, sizer: bytes}", perResource: 100},
		// One entry per input, larger than max_size: decoded and split by records.
		{name: "otlp/max=64KiB/oversize-entry", cfg: "format: otlp\notlp: {min_size: 64KiB, max_size: 64KiB, sizer: bytes}", perResource: 0},
		// Decoded inputs, 8192-item batches: every batch is a copy.
		{name: "decoded/min=8192items", cfg: "format: otap", perResource: 0, decoded: true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			in := benchInput(c.perResource)
			if c.decoded {
				ld, err := in.Logs()
				if err != nil {
					b.Fatal(err)
				}
				in = pdata.FromLogs(ld)
			}
			size, items := benchInput(c.perResource).Bytes(), in.Items()
			p := newTestCore(b, c.cfg)
			fx := &fakeEffects{now: nodetest.Start}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				m := pdata.New(in)
				m.Subscribe(nodetest.UpstreamID, pdata.AcksAndNacks, pdata.CallData{uint64(n)})
				if err := p.OnPData(m, fx); err != nil {
					b.Fatal(err)
				}
				fx.ackAll(b, p)
				n++
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(size)*float64(n)/sec/1e6, "input_MB/s")
			b.ReportMetric(float64(items)*float64(n)/sec, "items/s")
			if fx.acked+len(fx.nacked)+p.Pending() != n || len(fx.nacked) != 0 {
				b.Fatalf("%d inputs: %d acked, %d nacked, %d pending", n, fx.acked, len(fx.nacked), p.Pending())
			}
		})
	}
}

// BenchmarkScanBaseline is the wire scan of the same input, the cost every
// OTLP forward pipeline already pays once per request (receivers validate
// with it): the yardstick for the batcher's added CPU.
func BenchmarkScanBaseline(b *testing.B) {
	for _, perResource := range []int{0, 100} {
		b.Run(fmt.Sprintf("entries=%d", perResource), func(b *testing.B) {
			in := benchInput(perResource)
			chunks, _ := in.Chunks()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := otlpwire.Scan(otlpwire.Logs, chunks[0]); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(in.Bytes())*float64(b.N)/sec/1e6, "input_MB/s")
			b.ReportMetric(float64(in.Items())*float64(b.N)/sec, "items/s")
		})
	}
}
