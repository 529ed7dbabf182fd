package debug

import (
	"fmt"
	"log/slog"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "processor:debug"

// NewFactory returns the factory of processor:debug nodes.
func NewFactory() engine.Factory {
	return engine.Factory{
		Type:         Type,
		Description:  "Logs the data that passes through (verbosity basic, normal or detailed) and forwards it unchanged.",
		Validate:     validate,
		NewProcessor: newProcessor,
	}
}

func validate(n *config.Node) error {
	_, err := decodeConfig(n)
	return err
}

func newProcessor(nc engine.NodeContext) (engine.Processor, error) {
	cfg, err := decodeConfig(nc.Node)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", Type, nc.Node.Name, err)
	}
	log := nc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &processor{name: nc.Node.Name, s: cfg.settings(), log: log}, nil
}
