package batch

import (
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "processor:batch"

// NewFactory returns the factory of processor:batch nodes.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Merges small inputs into batches and splits large ones, per signal and form; acks each input when every batch holding its data is acked.",
		decodeConfig, newProcessor)
	f.Guarantee = declareGuarantee
	// A batch holds its inputs' leases until its own outcome: an input
	// nacked early may still be in another batch in flight.
	f.ReleasesPayloads = true
	return f
}

func newProcessor(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
	set := cfg.settings()
	p := newCore(set, newMetrics(nc.Metrics, nc.Labels, set.activeBuffers()))
	if set.whenIdle {
		// Only then an engine.Idler: the engine does not look for idle
		// moments of the others.
		return idleFlusher{p}, nil
	}
	return p, nil
}
