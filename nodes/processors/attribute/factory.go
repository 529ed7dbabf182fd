package attribute

import (
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "processor:attribute"

// NewFactory returns the factory of processor:attribute nodes.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Inserts, upserts, updates, deletes, renames and hashes attributes of resources, scopes and items, on the OTLP bytes.",
		decodeConfig, newProcessor)
	f.Guarantee = declareGuarantee
	// Edited payloads are new bytes; unedited ones keep their leases.
	f.ReleasesPayloads = true
	return f
}

func newProcessor(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
	s, err := cfg.settings(nc.Node.Path.Key("config"))
	if err != nil {
		return nil, err
	}
	return newCore(nc.Node.Name, s, newMetrics(nc.Metrics, nc.Labels)), nil
}
