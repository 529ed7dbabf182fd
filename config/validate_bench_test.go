package config

import (
	"fmt"
	"strings"
	"testing"
)

// chainDoc returns a valid document whose one pipeline chains n nodes: a
// receiver, n-2 processors and an exporter.
func chainDoc(n int) []byte {
	var b strings.Builder
	b.WriteString("version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p:\n        nodes:\n")
	b.WriteString("          n0: { type: receiver:otlp }\n")
	for i := 1; i < n-1; i++ {
		fmt.Fprintf(&b, "          n%d: { type: processor:batch }\n", i)
	}
	fmt.Fprintf(&b, "          n%d: { type: exporter:noop }\n        connections:\n", n-1)
	for i := range n - 1 {
		fmt.Fprintf(&b, "          - { from: n%d, to: n%d }\n", i, i+1)
	}
	return []byte(b.String())
}

// BenchmarkLoad measures what `ackflow validate` does in this package:
// parse, check the graph, validate every node, then look every connection's
// nodes up as the engine's wiring does. It is linear in the node count.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{10_000, 80_000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			data := chainDoc(n)
			types := fakeTypes()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				d, err := Load("bench.yaml", data, types)
				if err != nil {
					b.Fatal(err)
				}
				p := d.Groups[0].Pipelines[0]
				for _, c := range p.Connections {
					if p.Node(c.From[0].Node) == nil || p.Node(c.To[0]) == nil {
						b.Fatal("lookup failed")
					}
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
		})
	}
}
