package perf

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/config"
)

// Defaults and limits of the configuration keys, as in the reference
// engine.
const (
	// DefaultFrequency is the time between two reports.
	DefaultFrequency = time.Second
	// DefaultSmoothingFactor weighs the latest rate in the smoothed one.
	DefaultSmoothingFactor = 0.3
	// minFrequency keeps a unit mistake ("frequency: 1" is a millisecond)
	// from flooding the log.
	minFrequency = 10 * time.Millisecond
)

// Millis is a time written as an integer number of milliseconds, the
// reference engine's unit for frequency, or as a duration ("1s", "500ms").
type Millis time.Duration

// millisHint is the fix suggested for a malformed value.
const millisHint = "write milliseconds as an integer (1000), or a duration such as 1s or 500ms"

// UnmarshalYAML reads an integer (milliseconds) or a duration.
func (d *Millis) UnmarshalYAML(n *yaml.Node) error {
	fail := func(format string, args ...any) error {
		return &config.Error{Msg: fmt.Sprintf(format, args...), Hint: millisHint, Err: config.ErrInvalidValue, Line: n.Line, Column: n.Column}
	}
	if n.Kind != yaml.ScalarNode {
		return fail("want milliseconds or a duration, got a %s", kindName(n.Kind))
	}
	if n.ShortTag() == "!!int" {
		ms, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
			return fail("invalid number of milliseconds %q", n.Value)
		}
		*d = Millis(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := config.ParseDuration(n.Value)
	if err != nil {
		return fail("invalid duration %q", n.Value)
	}
	*d = Millis(v)
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	}
	return "value"
}

// Config is the `config` block of an exporter:perf node: the reference
// engine's keys.
type Config struct {
	// Frequency is the time between two reports: milliseconds, or a
	// duration (default 1000, at least 10ms).
	Frequency Millis `yaml:"frequency"`
	// SmoothingFactor is the weight of the latest interval in the smoothed
	// rates, an exponential moving average (default 0.3, in (0, 1]; 1
	// reports the latest interval alone).
	SmoothingFactor float64 `yaml:"smoothing_factor"`
	// SelfUsage reports the Go runtime: goroutines, heap, GC cycles
	// (default true).
	SelfUsage bool `yaml:"self_usage"`
	// CPUUsage reports the process's CPU use (100% is one core) and the
	// host's (100% is every core) (default true).
	CPUUsage bool `yaml:"cpu_usage"`
	// MemUsage reports the process's resident and virtual memory (default
	// true).
	MemUsage bool `yaml:"mem_usage"`
	// DiskUsage reports the bytes the process read from and wrote to
	// storage (default true).
	DiskUsage bool `yaml:"disk_usage"`
	// IOUsage reports the host's network traffic per interface (default
	// true).
	IOUsage bool `yaml:"io_usage"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{
		Frequency:       Millis(DefaultFrequency),
		SmoothingFactor: DefaultSmoothingFactor,
		SelfUsage:       true, CPUUsage: true, MemUsage: true, DiskUsage: true, IOUsage: true,
	}
}

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path), joined.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	if d := time.Duration(c.Frequency); d < minFrequency {
		errs = append(errs, config.Errorf(p.Key("frequency"),
			"use milliseconds such as 1000 (one report a second), or a duration such as 5s",
			"must be at least %s, got %s", minFrequency, d))
	}
	if f := c.SmoothingFactor; !(f > 0 && f <= 1) {
		errs = append(errs, config.Errorf(p.Key("smoothing_factor"),
			"use a number above 0 and at most 1: 0.3 (the default) smooths, 1 reports each interval alone",
			"must be in (0, 1], got %v", f))
	}
	return errors.Join(errs...)
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return c.Validate(p)
	})
}
