package filter

import (
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides; configurations may also
// write the reference engine's URN, urn:otel:processor:filter.
const Type = "processor:filter"

// NewFactory returns the factory of processor:filter nodes.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Keeps or drops log records, spans and metrics by include/exclude rules; dropped items are acked and counted (reason filtered).",
		decodeConfig, newProcessor)
	f.Guarantee = declareGuarantee
	// It reads payloads on the node goroutine only; what it keeps is
	// decoded and re-encoded by whoever sends it.
	f.ReleasesPayloads = true
	return f
}

func newProcessor(nc engine.NodeContext, s settings) (engine.Processor, error) {
	return &processor{
		name:    nc.Node.Name,
		s:       s,
		metrics: newMetrics(nc.Metrics, nc.Labels),
	}, nil
}
