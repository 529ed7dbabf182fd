package typerouter

import (
	"log/slog"

	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides (the reference engine's
// urn:otel:processor:type_router).
const Type = "processor:type_router"

// NewFactory returns the factory of processor:type_router nodes.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Sends logs, metrics and traces to the output ports of those names, without decoding.",
		decodeConfig, newRouter)
	f.Guarantee = declareGuarantee
	// It passes messages on, and nacks only those it never sent.
	f.ReleasesPayloads = true
	return f
}

func newRouter(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
	log := nc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &router{
		name:          nc.Node.Name,
		onFull:        cfg.AdmissionPolicy.OnFull,
		defaultOutput: nc.Node.DefaultOutput,
		log:           log,
		met:           newMetrics(nc.Metrics, nc.Labels),
	}, nil
}
