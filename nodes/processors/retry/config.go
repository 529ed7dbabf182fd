package retry

import (
	"errors"
	"math"
	"time"

	"github.com/ackflow/ackflow/config"
)

// Defaults of the configuration keys, as in issue 7 (the reference engine's
// retry processor, with OTel's retry_on_failure multiplier and jitter).
const (
	DefaultInitialInterval     = time.Second
	DefaultMaxInterval         = 30 * time.Second
	DefaultMultiplier          = 1.5
	DefaultRandomizationFactor = 0.5
	DefaultMaxElapsedTime      = 5 * time.Minute
	DefaultMaxRetries          = 0 // no limit: max_elapsed_time bounds the retries
	// DefaultMaxParked is how many messages a node can hold for a retry,
	// as OTel's sending_queue holds 1000 requests.
	DefaultMaxParked = 1000
)

// Config is the `config` block of a processor:retry node.
//
// The wait before retry n (1 for the first retry) is
//
//	min(initial_interval × multiplier^(n-1), max_interval) × (1 + randomization_factor × u)
//
// with u uniform in [-1, 1), so one wait may exceed max_interval by up to
// randomization_factor × max_interval, as in OTel's retry_on_failure.
type Config struct {
	// InitialInterval is the wait before the first retry (default 1s).
	InitialInterval config.Duration `yaml:"initial_interval"`
	// MaxInterval caps the wait before jitter (default 30s).
	MaxInterval config.Duration `yaml:"max_interval"`
	// Multiplier grows the wait after each failed attempt (default 1.5).
	Multiplier float64 `yaml:"multiplier"`
	// RandomizationFactor spreads each wait by ± this fraction (default
	// 0.5), so that senders failing together do not retry together.
	RandomizationFactor float64 `yaml:"randomization_factor"`
	// MaxElapsedTime bounds the time from the first attempt to the last
	// retry; a retry that would start later is not made (default 5m, 0 =
	// no limit).
	MaxElapsedTime config.Duration `yaml:"max_elapsed_time"`
	// MaxRetries bounds the number of retries after the first attempt
	// (default 0 = no limit).
	MaxRetries int `yaml:"max_retries"`
	// MaxParked is how many messages the node can hold for their retry
	// (default 1000, at least 1). Any message it sends may come back for a
	// retry, so it admits at most this many at once: sent and awaiting
	// their outcome, plus parked. At the bound intake pauses (engine.Gate,
	// backpressure); a transient failure is never refused for room.
	MaxParked int `yaml:"max_parked"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{
		InitialInterval:     config.Duration(DefaultInitialInterval),
		MaxInterval:         config.Duration(DefaultMaxInterval),
		Multiplier:          DefaultMultiplier,
		RandomizationFactor: DefaultRandomizationFactor,
		MaxElapsedTime:      config.Duration(DefaultMaxElapsedTime),
		MaxRetries:          DefaultMaxRetries,
		MaxParked:           DefaultMaxParked,
	}
}

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path) naming the key and the fix, joined.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	bad := func(key, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(p.Key(key), hint, format, args...))
	}
	initial, maxIv, elapsed := time.Duration(c.InitialInterval), time.Duration(c.MaxInterval), time.Duration(c.MaxElapsedTime)
	if initial <= 0 {
		bad("initial_interval", "use a positive duration such as 1s",
			"must be greater than 0, got %s", initial)
	}
	switch {
	case maxIv <= 0:
		bad("max_interval", "use a positive duration such as 30s",
			"must be greater than 0, got %s", maxIv)
	case initial > 0 && maxIv < initial:
		bad("max_interval", "raise max_interval to at least initial_interval, or lower initial_interval",
			"%s is less than initial_interval %s", maxIv, initial)
	}
	// !(x >= 1) also catches NaN, which YAML spells .nan.
	if !(c.Multiplier >= 1) || math.IsInf(c.Multiplier, 0) {
		bad("multiplier", "use a finite number of at least 1 (1 keeps the wait constant, 2 doubles it)",
			"must be at least 1, got %v", c.Multiplier)
	}
	if !(c.RandomizationFactor >= 0 && c.RandomizationFactor < 1) {
		bad("randomization_factor", "use a number from 0 (no jitter) up to, but not including, 1; 0.5 is usual",
			"must be in [0, 1), got %v", c.RandomizationFactor)
	}
	switch {
	case elapsed < 0:
		bad("max_elapsed_time", "use a positive duration such as 5m, or 0 for no limit",
			"must not be negative, got %s", elapsed)
	case elapsed > 0 && initial > 0 && elapsed < initial:
		// A limit below the first wait would make the node a pass-through
		// that only adds latency: almost surely a unit mistake.
		bad("max_elapsed_time", "raise max_elapsed_time to at least initial_interval, or set 0 for no limit",
			"%s is less than initial_interval %s: no retry could ever be made", elapsed, initial)
	}
	if c.MaxRetries < 0 {
		bad("max_retries", "use a whole number of retries such as 5, or 0 for no limit",
			"must not be negative, got %d", c.MaxRetries)
	}
	if c.MaxParked < 1 {
		bad("max_parked", "use a number of messages such as 1000 (the default): the node admits no more messages than it can hold for a retry, and pauses intake at the bound",
			"must be at least 1, got %d", c.MaxParked)
	}
	return errors.Join(errs...)
}

// policy is a validated Config in the units the core works in.
type policy struct {
	initial    time.Duration
	maxIv      time.Duration
	multiplier float64
	rf         float64
	maxElapsed time.Duration // 0: no limit
	maxRetries uint64        // 0: no limit
	maxParked  int
}

func (c Config) policy() policy {
	return policy{
		initial:    time.Duration(c.InitialInterval),
		maxIv:      time.Duration(c.MaxInterval),
		multiplier: c.Multiplier,
		rf:         c.RandomizationFactor,
		maxElapsed: time.Duration(c.MaxElapsedTime),
		maxRetries: uint64(c.MaxRetries),
		maxParked:  c.MaxParked,
	}
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), n.CheckSingleOutput())
	})
}
