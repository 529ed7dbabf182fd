package debug

import (
	"log/slog"

	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "processor:debug"

// NewFactory returns the factory of processor:debug nodes.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Logs the data that passes through (verbosity basic, normal or detailed) and forwards it unchanged.",
		decodeConfig, newProcessor)
	f.Guarantee = declareGuarantee
	// It prints on the node goroutine, before passing the message on.
	f.ReleasesPayloads = true
	return f
}

func newProcessor(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
	log := nc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &processor{name: nc.Node.Name, s: cfg.settings(), log: log}, nil
}
