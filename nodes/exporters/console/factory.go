package console

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "exporter:console"

// NewFactory returns the factory of exporter:console nodes, which print to
// standard output.
func NewFactory() engine.Factory { return newFactory(os.Stdout) }

// newFactory is NewFactory printing to w; tests pass a buffer.
func newFactory(w io.Writer) engine.Factory {
	return engine.Factory{
		Type:        Type,
		Description: "Acknowledges every message and prints a periodic one-line summary per signal (items/s and totals).",
		Validate:    validate,
		NewProcessor: func(nc engine.NodeContext) (engine.Processor, error) {
			cfg, err := decodeConfig(nc.Node)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", Type, nc.Node.Name, err)
			}
			log := nc.Logger
			if log == nil {
				log = slog.New(slog.DiscardHandler)
			}
			return &exporter{
				name: nc.Node.Name, w: w, log: log,
				interval: time.Duration(cfg.Interval), detailed: cfg.Verbosity == "detailed",
			}, nil
		},
	}
}

func validate(n *config.Node) error {
	_, err := decodeConfig(n)
	return err
}
