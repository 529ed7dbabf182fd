package logsampling

import "github.com/ackflow/ackflow/engine"

// Type is the node type this package provides (the reference engine's
// urn:otel:processor:log_sampling).
const Type = "processor:log_sampling"

// NewFactory returns the factory of processor:log_sampling nodes.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Keeps a share of the log records (ratio: emit out_of; zip: max_items per interval); metrics and traces pass untouched.",
		decodeConfig, newProcessor)
	f.Guarantee = declareGuarantee
	// A trimmed payload borrows its source's leases (its chunks alias
	// them); nothing is read after the message is passed on.
	f.ReleasesPayloads = true
	return f
}

func newProcessor(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
	return &processor{
		name: nc.Node.Name,
		s:    newSampler(cfg),
		met:  newMetrics(nc.Metrics, nc.Labels),
	}, nil
}
