package trafficgen

import (
	"fmt"
	"log/slog"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "receiver:traffic_generator"

// NewFactory returns the factory of receiver:traffic_generator nodes.
func NewFactory() engine.Factory {
	f := engine.ReceiverFactory(Type,
		"Generates synthetic logs, metrics and traces at a set rate or as fast as possible, for demos and benchmarks.",
		decodeConfig, newReceiver)
	f.Guarantee = declareGuarantee
	return f
}

func newReceiver(nc engine.NodeContext, cfg Config) (engine.Receiver, error) {
	clk, log := nc.Clock, nc.Logger
	if clk == nil {
		clk = clock.Real()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := cfg.settings()
	g := synth{base: pcommon.NewTimestampFromTime(clk.Now()), node: nc.Node.Name, bodySize: s.bodySize}
	p, err := newPool(g, s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: generate payloads: %w", Type, nc.Node.Name, err)
	}
	return newGenerator(nc.Node.Name, s, p, clk, log, newMetrics(nc.Metrics, nc.Labels)), nil
}
