package debug_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/debug"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// BenchmarkOnPData is the node's cost per message of 100 log records, by
// configuration, with the lines formatted (text) and discarded. Messages
// are decoded payloads, as after a receiver or batch that decoded them,
// so that decoding is not what is measured.
func BenchmarkOnPData(b *testing.B) {
	for _, bc := range []struct{ name, cfg string }{
		{"basic", "verbosity: basic"},
		{"normal", "verbosity: normal"},
		{"basic_filtered", "verbosity: basic\nfilters: [{predicate: {field: attribute, value: [{key: k, value: v}]}, mode: exclude}]"},
		{"detailed_signal_sampled", "verbosity: detailed\nmode: signal\nsampling: {type: zap_sampling, sampling_initial: 1, sampling_thereafter: 100, sampling_interval: 3600}"},
		{"detailed", "verbosity: detailed"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := debug.NewFactory()
			build := f.NewProcessor
			f.NewProcessor = func(nc engine.NodeContext) (engine.Processor, error) {
				nc.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
				return build(nc)
			}
			h := nodetest.New(b, f, bc.cfg)
			ld := pdatatest.LogsData("bench", 100, 0, 64)
			pl := pdata.FromLogs(ld)
			b.ReportAllocs()
			for b.Loop() {
				h.SendPData(pdata.New(pl))
				h.TakeSent("default")
			}
			b.ReportMetric(100*float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
