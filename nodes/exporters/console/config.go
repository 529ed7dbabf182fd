package console

import (
	"errors"
	"time"

	"github.com/ackflow/ackflow/config"
)

// Defaults and limits of the configuration keys.
const (
	// DefaultInterval is the time between two summaries.
	DefaultInterval = time.Second
	// DefaultVerbosity prints summaries only.
	DefaultVerbosity = "basic"
	// minInterval keeps a typo ("1ns") from flooding the console.
	minInterval = time.Millisecond
)

// Config is the `config` block of an exporter:console node.
type Config struct {
	// Interval is the time between two summaries (default 1s).
	Interval config.Duration `yaml:"interval"`
	// Verbosity is basic (summaries only, the default) or detailed (also
	// one line per message).
	Verbosity string `yaml:"verbosity"`

	// The reference engine's console exporter prints every record; these
	// keys shape that printing, which this exporter does not do.
	Format     any `yaml:"format" ackflow:"ignored,not taken: ackflow's console exporter prints a summary per signal, not the records; put a processor:debug (verbosity: detailed) before it to see them"`
	Color      any `yaml:"color" ackflow:"ignored,not taken: ackflow's console exporter prints plain summary lines"`
	Unicode    any `yaml:"unicode" ackflow:"ignored,not taken: ackflow's console exporter prints plain summary lines"`
	Pretty     any `yaml:"pretty" ackflow:"ignored,not taken: ackflow's console exporter prints a summary per signal, not the records; put a processor:debug (verbosity: detailed) before it to see them"`
	RecordJSON any `yaml:"record_json" ackflow:"ignored,not taken: ackflow's console exporter prints a summary per signal, not the records; put a processor:debug (verbosity: detailed) before it to see them"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{Interval: config.Duration(DefaultInterval), Verbosity: DefaultVerbosity}
}

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path), joined.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	if d := time.Duration(c.Interval); d < minInterval {
		errs = append(errs, config.Errorf(p.Key("interval"), "use a duration such as 1s or 10s",
			"must be at least %s, got %s", minInterval, d))
	}
	if c.Verbosity != "basic" && c.Verbosity != "detailed" {
		errs = append(errs, config.Errorf(p.Key("verbosity"),
			"use basic (summaries only) or detailed (also one line per message)",
			"unknown verbosity %q", c.Verbosity))
	}
	return errors.Join(errs...)
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), (*Config).Validate)
}
