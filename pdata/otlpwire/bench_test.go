package otlpwire_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// The benchmarks use the load of DESIGN.md §4: requests of ~185-byte log
// records over 4 resources of 2 scopes. The target is 10-16 ns per record.

var benchSizes = []int{1000, 10000}

func BenchmarkScanLogs(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			req := benchLogs(b, n)
			b.SetBytes(int64(len(req)))
			b.ReportAllocs() // 0 allocs/op
			for b.Loop() {
				if _, err := otlpwire.Scan(otlpwire.Logs, req); err != nil {
					b.Fatal(err)
				}
			}
			reportPerItem(b, n)
		})
	}
}

func BenchmarkSplitLogs(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("records=%d/max=256KiB", n), func(b *testing.B) {
			req := benchLogs(b, n)
			chunks := make([][]byte, 0, 64)
			b.SetBytes(int64(len(req)))
			b.ReportAllocs() // 0 allocs/op: dst is reused
			for b.Loop() {
				var err error
				if chunks, err = otlpwire.AppendSplit(chunks[:0], otlpwire.Logs, req, 256<<10); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(chunks)), "chunks")
			reportPerItem(b, n)
		})
	}
}

func reportPerItem(b *testing.B, items int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
}

// BenchmarkScanRandom scans the random requests of the tests (every metric
// type, nested attributes, events and links), for a per-kind comparison.
func BenchmarkScanRandom(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.String(), func(b *testing.B) {
			req := genRequest(b, rand.New(rand.NewPCG(9, 9)), k, shape{resources: 8, scopes: 8, items: 60})
			b.SetBytes(int64(len(req.b)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := otlpwire.Scan(k, req.b); err != nil {
					b.Fatal(err)
				}
			}
			reportPerItem(b, req.items)
		})
	}
}
