package guarantee_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// benchDoc is a pipeline of a receiver, a chain of n pass-through nodes,
// and a fan-out to 4 exporters: about what a large real configuration is.
func benchDoc(b *testing.B, n int) *config.Document {
	var s strings.Builder
	s.WriteString("version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p:\n        nodes:\n")
	s.WriteString("          in: { type: receiver:wait }\n")
	for i := range n {
		fmt.Fprintf(&s, "          n%d: { type: processor:batch }\n", i)
	}
	s.WriteString("          fan: { type: processor:fan, outputs: [a, b, c, d], config: { destinations: [ { port: a, timeout: 5s }, { port: b, fallback_for: a }, { port: c }, { port: d } ] } }\n")
	for _, p := range []string{"a", "b", "c", "d"} {
		fmt.Fprintf(&s, "          out_%s: { type: exporter:out }\n", p)
	}
	s.WriteString("        connections:\n          - { from: in, to: n0 }\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&s, "          - { from: n%d, to: n%d }\n", i-1, i)
	}
	fmt.Fprintf(&s, "          - { from: n%d, to: fan }\n", n-1)
	for _, p := range []string{"a", "b", "c", "d"} {
		fmt.Fprintf(&s, "          - { from: 'fan[\"%s\"]', to: out_%s }\n", p, p)
	}
	doc, err := config.Load("bench.yaml", []byte(s.String()), types{})
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

func BenchmarkAnalyze(b *testing.B) {
	for _, n := range []int{4, 64} {
		b.Run(fmt.Sprintf("chain=%d", n), func(b *testing.B) {
			doc := benchDoc(b, n)
			b.ReportAllocs()
			paths := 0
			for b.Loop() {
				paths += len(guarantee.Analyze(doc, lookup).Pipelines[0].Paths)
			}
			b.ReportMetric(float64(paths)/b.Elapsed().Seconds(), "paths/s")
		})
	}
}
