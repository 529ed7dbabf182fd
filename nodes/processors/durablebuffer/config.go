package durablebuffer

import (
	"errors"
	"fmt"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/storage/wal"
)

// Defaults of the configuration keys: the reference engine's, plus
// ackflow's durability (fsync before the upstream ack).
const (
	DefaultRetentionSizeCap       = config.Size(10 << 30)
	DefaultPollInterval           = 100 * time.Millisecond
	DefaultMaxSegmentOpenDuration = time.Second
	DefaultInitialRetryInterval   = time.Second
	DefaultMaxRetryInterval       = 30 * time.Second
	DefaultRetryMultiplier        = 2.0
	DefaultMaxInFlight            = 1000
	// maxSegmentSize is the storage's segment size, smaller when the cap
	// is small: a copy's cap holds at least capSegments segments, so that
	// drop_oldest and deletion of delivered segments free space in steps
	// much smaller than the cap.
	maxSegmentSize = 32 << 20
	capSegments    = 8
	// minRetentionSizeCap is the smallest cap accepted.
	minRetentionSizeCap = config.Size(1 << 20)
)

// segmentSize is the segment size for a copy's cap.
func segmentSize(capPerCopy int64) int64 { return min(maxSegmentSize, capPerCopy/capSegments) }

// SizeCapPolicy says what happens when the buffer reaches its disk cap.
type SizeCapPolicy string

// Size cap policies.
const (
	// Backpressure stops taking data (the inbox gate) until space is
	// freed: pressure reaches the receivers and their clients; nothing is
	// lost.
	Backpressure SizeCapPolicy = "backpressure"
	// DropOldest deletes the oldest sealed segment with nothing in flight
	// and counts the loss (reason drop_oldest).
	DropOldest SizeCapPolicy = "drop_oldest"
)

// OTLPHandling says how OTLP payloads are stored.
type OTLPHandling string

// OTLP handling modes.
const (
	// PassThrough stores OTLP requests as the bytes received.
	PassThrough OTLPHandling = "pass_through"
	// ConvertToArrow is the reference engine's conversion of OTLP to Arrow
	// before storing, accepted as PassThrough (and reported).
	ConvertToArrow OTLPHandling = "convert_to_arrow"
)

// Config is the `config` block of a processor:durable_buffer node.
type Config struct {
	// Path is the directory of the buffer (required). Each pipeline copy
	// uses its own subdirectory, copy-N.
	Path string `yaml:"path"`
	// RetentionSizeCap bounds the disk used by all copies together
	// (default 10 GiB; each copy gets an equal share).
	RetentionSizeCap config.Size `yaml:"retention_size_cap"`
	// MaxAge expires sealed segments older than this, counting the loss
	// (default: no limit).
	MaxAge config.Duration `yaml:"max_age"`
	// SizeCapPolicy is backpressure (default) or drop_oldest.
	SizeCapPolicy SizeCapPolicy `yaml:"size_cap_policy"`
	// PollInterval is the period of housekeeping: sealing segments by
	// age, persisting progress, expiring, retrying sends that found the
	// output full (default 100ms).
	PollInterval config.Duration `yaml:"poll_interval"`
	// MaxSegmentOpenDuration seals the open segment after this long
	// (default 1s); segments are also sealed at 32 MiB.
	MaxSegmentOpenDuration config.Duration `yaml:"max_segment_open_duration"`
	// InitialRetryInterval is the backoff after the first transient nack
	// (default 1s).
	InitialRetryInterval config.Duration `yaml:"initial_retry_interval"`
	// MaxRetryInterval caps the backoff (default 30s).
	MaxRetryInterval config.Duration `yaml:"max_retry_interval"`
	// RetryMultiplier grows the backoff after each transient nack
	// (default 2.0).
	RetryMultiplier float64 `yaml:"retry_multiplier"`
	// MaxInFlight bounds the bundles sent downstream and not yet acked,
	// including those waiting out a backoff (default 1000).
	MaxInFlight int `yaml:"max_in_flight"`
	// OTLPHandling is pass_through (default): OTLP is stored as received.
	OTLPHandling OTLPHandling `yaml:"otlp_handling"`
	// Durability is fsync (default: upstream is acked once the data is on
	// disk) or write (acked once written to the OS).
	Durability string `yaml:"durability"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{
		RetentionSizeCap:       DefaultRetentionSizeCap,
		SizeCapPolicy:          Backpressure,
		PollInterval:           config.Duration(DefaultPollInterval),
		MaxSegmentOpenDuration: config.Duration(DefaultMaxSegmentOpenDuration),
		InitialRetryInterval:   config.Duration(DefaultInitialRetryInterval),
		MaxRetryInterval:       config.Duration(DefaultMaxRetryInterval),
		RetryMultiplier:        DefaultRetryMultiplier,
		MaxInFlight:            DefaultMaxInFlight,
		OTLPHandling:           PassThrough,
		Durability:             "fsync",
	}
}

// Validate reports every invalid value under p (the node's config path).
func (c *Config) Validate(p config.Path) error {
	var errs []error
	bad := func(key, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(p.Key(key), hint, format, args...))
	}
	if c.Path == "" {
		bad("path", "set path to a directory the buffer may own, e.g. /var/lib/ackflow/buffer", "is required")
	}
	if c.RetentionSizeCap < minRetentionSizeCap {
		bad("retention_size_cap", fmt.Sprintf("use at least %s per pipeline copy, e.g. 10GiB", minRetentionSizeCap),
			"%s is too small", c.RetentionSizeCap)
	}
	if c.MaxAge < 0 {
		bad("max_age", "use a positive duration such as 24h, or leave it out for no limit", "must not be negative, got %s", c.MaxAge)
	}
	switch c.SizeCapPolicy {
	case Backpressure, DropOldest:
	default:
		bad("size_cap_policy", "use backpressure or drop_oldest", "unknown policy %q", c.SizeCapPolicy)
	}
	positive := func(key string, d config.Duration, example string) {
		if d <= 0 {
			bad(key, "use a positive duration such as "+example, "must be greater than 0, got %s", d)
		}
	}
	positive("poll_interval", c.PollInterval, "100ms")
	positive("max_segment_open_duration", c.MaxSegmentOpenDuration, "1s")
	positive("initial_retry_interval", c.InitialRetryInterval, "1s")
	positive("max_retry_interval", c.MaxRetryInterval, "30s")
	if c.InitialRetryInterval > 0 && c.MaxRetryInterval > 0 && c.MaxRetryInterval < c.InitialRetryInterval {
		bad("max_retry_interval", "raise max_retry_interval to at least initial_retry_interval",
			"%s is less than initial_retry_interval %s", c.MaxRetryInterval, c.InitialRetryInterval)
	}
	if c.RetryMultiplier < 1 {
		bad("retry_multiplier", "use a number of at least 1, such as 2", "must be at least 1, got %g", c.RetryMultiplier)
	}
	if c.MaxInFlight < 1 {
		bad("max_in_flight", "use a positive number such as 1000", "must be at least 1, got %d", c.MaxInFlight)
	}
	switch c.OTLPHandling {
	case PassThrough:
	case ConvertToArrow:
		// The conversion is the reference engine's way to make stored
		// data queryable; what the buffer delivers is the same data.
		errs = append(errs, config.Ignore(p.Key("otlp_handling"),
			"convert_to_arrow is taken as pass_through: ackflow's buffer stores each payload in the form it arrived in"))
	default:
		bad("otlp_handling", "use pass_through (OTLP is stored as received)", "unsupported value %q", c.OTLPHandling)
	}
	if _, err := wal.ParseDurability(c.Durability); err != nil {
		bad("durability", "use fsync (acked once on disk) or write (acked once written to the OS)", "unknown durability %q", c.Durability)
	}
	return errors.Join(errs...)
}
