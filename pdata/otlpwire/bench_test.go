package otlpwire_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/pdata/otlpwire"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// The benchmarks use the load of docs/BENCHMARKS.md: requests of ~185-byte log
// records over 4 resources of 2 scopes. The target is 10-16 ns per record.

var benchSizes = []int{1000, 10000}

func BenchmarkScanLogs(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			req := pdatatest.BenchLogsBytes(n)
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
			req := pdatatest.BenchLogsBytes(n)
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

// BenchmarkScanLongValues measures the nesting walk (MaxValueDepth), which
// only enters values of 256 bytes or more: records with a 1 KiB string
// body, and records with two map attributes of ~400 bytes. The records of
// BenchmarkScanLogs (~185 bytes) never enter it. Compared with the scan
// before the walk existed, on records like pdatatest.BenchLogsData's with
// these values, it costs ~10 ns per record for the body and ~45 ns for the
// two maps.
func BenchmarkScanLongValues(b *testing.B) {
	shapes := []struct {
		name string
		fill func(lr plog.LogRecord)
	}{
		{"body=1KiB", func(lr plog.LogRecord) { lr.Body().SetStr(strings.Repeat("x", 1024)) }},
		{"maps=2x400B", func(lr plog.LogRecord) {
			lr.Body().SetStr("order accepted")
			for a := range 2 {
				m := lr.Attributes().PutEmptyMap(fmt.Sprintf("map%d", a))
				for j := range 8 {
					m.PutStr(fmt.Sprintf("field%d", j), strings.Repeat("v", 40))
				}
			}
		}},
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			ld := plog.NewLogs()
			sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
			for range 1000 {
				sh.fill(sl.LogRecords().AppendEmpty())
			}
			req, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(req)))
			b.ReportAllocs() // 0 allocs/op
			for b.Loop() {
				if _, err := otlpwire.Scan(otlpwire.Logs, req); err != nil {
					b.Fatal(err)
				}
			}
			reportPerItem(b, 1000)
		})
	}
}
