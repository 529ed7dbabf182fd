package retry

import (
	"log/slog"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "processor:retry"

// NewFactory returns the factory of processor:retry nodes.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Retries transient nacks with exponential backoff and jitter; permanent nacks pass through.",
		decodeConfig, newProcessor)
	f.Guarantee = declareGuarantee
	// It answers upstream only from an attempt's outcome, or for data
	// parked here (not downstream): nothing below still reads it.
	f.ReleasesPayloads = true
	return f
}

func newProcessor(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
	clk, log := nc.Clock, nc.Logger
	if clk == nil {
		clk = clock.Real()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pol := cfg.policy()
	return newCore(pol, newRand(nc.Pipeline, nc.Node.Name, nc.Copy, clk.Now()),
		newMetrics(nc.Metrics, nc.Labels, pol.maxParked), log), nil
}
