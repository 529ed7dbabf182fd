package batch

import (
	"fmt"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "processor:batch"

// NewFactory returns the factory of processor:batch nodes.
func NewFactory() engine.Factory {
	return engine.Factory{
		Type:         Type,
		Description:  "Merges small inputs into batches and splits large ones, per signal and form; acks each input when every batch holding its data is acked.",
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
	set := cfg.settings()
	return newCore(set, newMetrics(nc.Metrics, nc.Labels, set.activeBuffers())), nil
}
