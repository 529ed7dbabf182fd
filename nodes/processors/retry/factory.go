package retry

import (
	"fmt"
	"log/slog"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "processor:retry"

// NewFactory returns the factory of processor:retry nodes.
func NewFactory() engine.Factory {
	return engine.Factory{
		Type:         Type,
		Description:  "Retries transient nacks with exponential backoff and jitter; permanent nacks pass through.",
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
	clk, log := nc.Clock, nc.Logger
	if clk == nil {
		clk = clock.Real()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &processor{
		pol: cfg.policy(),
		rng: newRand(nc.Pipeline, nc.Node.Name, nc.Copy, clk.Now()),
		m:   newMetrics(nc.Metrics, nc.Labels),
		log: log,
	}, nil
}
