package console

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ackflow/ackflow/engine"
)

// Type is the node type this package provides.
const Type = "exporter:console"

// NewFactory returns the factory of exporter:console nodes, which print to
// standard output.
func NewFactory() engine.Factory { return newFactory(os.Stdout) }

// newFactory is NewFactory printing to w; tests pass a buffer.
func newFactory(w io.Writer) engine.Factory {
	f := engine.ProcessorFactory(Type,
		"Acknowledges every message and prints a periodic one-line summary per signal (items/s and totals).",
		decodeConfig,
		func(nc engine.NodeContext, cfg Config) (engine.Processor, error) {
			log := nc.Logger
			if log == nil {
				log = slog.New(slog.DiscardHandler)
			}
			return &exporter{
				name: nc.Node.Name, w: w, log: log,
				interval: time.Duration(cfg.Interval), detailed: cfg.Verbosity == "detailed",
			}, nil
		})
	f.Guarantee = declareGuarantee
	f.ReleasesPayloads = true // prints and acks on the node goroutine
	return f
}
