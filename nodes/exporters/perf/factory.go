package perf

import (
	"log/slog"

	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides (the reference engine's
// urn:otel:exporter:perf).
const Type = "exporter:perf"

// NewFactory returns the factory of exporter:perf nodes, which read the
// running system for their usage sections.
func NewFactory() engine.Factory { return newFactory(realSource) }

// newFactory is NewFactory with the usage read from src(); tests pass a
// fake /proc.
func newFactory(src func() *source) engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Acknowledges every message at once and logs throughput per signal (items, bytes, rates) and process/host usage periodically.",
		decodeConfig,
		func(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
			log := nc.Logger
			if log == nil {
				log = slog.New(slog.DiscardHandler)
			}
			return &exporter{
				cfg: cfg, log: log, src: src(),
				met: newMetrics(nc.Metrics, nc.Labels), failed: map[string]bool{},
			}, nil
		})
	f.Guarantee = declareGuarantee
	f.ReleasesPayloads = true // counts and acks at once; keeps nothing
	return f
}
