package logsampling

import (
	"errors"
	"time"

	"github.com/ackflow/ackflow/config"
)

// Config is the `config` block of a processor:log_sampling node: exactly
// one sampling policy, as in the reference engine.
type Config struct {
	// Policy is the sampling policy; it has no default.
	Policy Policy `yaml:"policy"`
}

// Policy holds exactly one of its fields (the reference engine's
// externally tagged enum: `policy: { ratio: {...} }`).
type Policy struct {
	// Zip keeps at most MaxItems log records per Interval.
	Zip *ZipConfig `yaml:"zip"`
	// Ratio keeps Emit log records out of every OutOf.
	Ratio *RatioConfig `yaml:"ratio"`
}

// ZipConfig is the zip policy: a budget of records per time window.
type ZipConfig struct {
	// Interval is the length of a window (required, > 0). Windows follow
	// each other from the first log message the node sees.
	Interval config.Duration `yaml:"interval"`
	// MaxItems is how many log records a window lets through (required,
	// > 0); the rest of the window's records are dropped.
	MaxItems int `yaml:"max_items"`
}

// RatioConfig is the ratio policy: a fixed fraction of the records.
type RatioConfig struct {
	// Emit is the number of records kept per cycle (required, > 0).
	Emit int `yaml:"emit"`
	// OutOf is the length of a cycle in records (required, ≥ emit).
	OutOf int `yaml:"out_of"`
}

// DefaultConfig returns the configuration used for absent keys: no
// policy, which Validate refuses (the reference engine requires one).
func DefaultConfig() Config { return Config{} }

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path), joined.
func (c *Config) Validate(p config.Path) error {
	pp := p.Key("policy")
	switch z, r := c.Policy.Zip, c.Policy.Ratio; {
	case z == nil && r == nil:
		return config.Errorf(pp,
			"add policy: { ratio: { emit: 1, out_of: 10 } } to keep one record in ten, or policy: { zip: { interval: 1m, max_items: 100 } } to keep at most 100 per minute",
			"a sampling policy is required: set exactly one of zip and ratio")
	case z != nil && r != nil:
		return config.Errorf(pp, "keep only one of zip and ratio",
			"zip and ratio are both set; a node applies exactly one policy")
	case z != nil:
		return z.validate(pp.Key("zip"))
	default:
		return r.validate(pp.Key("ratio"))
	}
}

func (z *ZipConfig) validate(p config.Path) error {
	var errs []error
	if d := time.Duration(z.Interval); d <= 0 {
		errs = append(errs, config.Errorf(p.Key("interval"), "set the window length, such as 1s or 1m",
			"must be greater than 0, got %s", d))
	}
	if z.MaxItems <= 0 {
		errs = append(errs, config.Errorf(p.Key("max_items"), "set how many log records a window lets through, such as 100",
			"must be greater than 0, got %d", z.MaxItems))
	}
	return errors.Join(errs...)
}

func (r *RatioConfig) validate(p config.Path) error {
	var errs []error
	if r.Emit <= 0 {
		errs = append(errs, config.Errorf(p.Key("emit"), "set how many records to keep per out_of records, such as emit: 1, out_of: 10",
			"must be greater than 0, got %d", r.Emit))
	}
	switch {
	case r.OutOf <= 0:
		errs = append(errs, config.Errorf(p.Key("out_of"), "set the cycle length in records, such as out_of: 10",
			"must be greater than 0, got %d", r.OutOf))
	case r.Emit > r.OutOf:
		errs = append(errs, config.Errorf(p.Key("emit"), "lower emit to at most out_of (emit = out_of keeps everything)",
			"%d is more than out_of %d", r.Emit, r.OutOf))
	}
	return errors.Join(errs...)
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), n.CheckSingleOutput())
	})
}
