package batch

import (
	"errors"
	"fmt"
	"time"

	"github.com/ackflow/ackflow/config"
)

// Defaults of the configuration keys: the reference engine's batch
// processor's names and values.
const (
	DefaultFormat               = FormatPreserve
	DefaultOTLPMinSize          = 256 << 10 // bytes
	DefaultOTAPMinSize          = 8192      // items
	DefaultMaxBatchDuration     = 200 * time.Millisecond
	DefaultInboundRequestLimit  = 1024
	DefaultOutboundRequestLimit = 512

	DefaultMaxSplitFragments         = 65536
	DefaultMaxSplitOverheadBytes     = 8 << 20
	DefaultMaxSplitFragmentsPerFlush = 65536
)

// Format says which payload form the batches are built in.
type Format string

// Formats accepted by the `format` key.
const (
	// FormatOTLP batches everything as OTLP bytes, encoding decoded inputs.
	FormatOTLP Format = "otlp"
	// FormatOTAP batches everything in decoded form. ackflow has no OTAP
	// (Arrow) payload yet, so `otap` means "the decoded pdata form", sized
	// in items like the reference engine's OTAP batches.
	FormatOTAP Format = "otap"
	// FormatPreserve batches each input in the form it arrived in; the two
	// forms are never mixed in one batch.
	FormatPreserve Format = "preserve"
)

// Sizer names the unit a format block measures batches in.
type Sizer string

// Sizers. The reference engine parses all three; each block accepts only
// its own.
const (
	SizerBytes    Sizer = "bytes"    // OTLP: encoded request bytes
	SizerItems    Sizer = "items"    // decoded: log records, data points, spans
	SizerRequests Sizer = "requests" // accepted by the parser, refused by validation
)

// Config is the `config` block of a processor:batch node.
type Config struct {
	// Format is otlp, otap or preserve (default preserve).
	Format Format `yaml:"format"`
	// OTLP sizes the batches of OTLP bytes. A block written by the user
	// replaces the default entirely, as in the reference engine: a block
	// that omits min_size has no min_size. Absent: {min_size: 256KiB,
	// sizer: bytes}.
	OTLP *FormatConfig `yaml:"otlp"`
	// OTAP sizes the batches of decoded payloads, in items. Absent:
	// {min_size: 8192, sizer: items}.
	OTAP *FormatConfig `yaml:"otap"`
	// MaxBatchDuration flushes a batch this long after its first input
	// arrived (default 200ms). 0 means split-only: every input is flushed
	// at once, cut to max_size.
	MaxBatchDuration config.Duration `yaml:"max_batch_duration"`
	// FlushWhenIdle also flushes a (signal, form)'s pending batch when
	// nothing more is ready for the node and none of its batches awaits
	// an outcome, or when the last one's outcome arrives (Nagle's rule;
	// default false). Batches then grow with the load, and at low load an
	// input waits neither for min_size nor for max_batch_duration: with
	// wait_for_result receivers, that wait is in every client's answer.
	FlushWhenIdle bool `yaml:"flush_when_idle"`
	// InboundRequestLimit bounds the inputs held per signal and form
	// (pending or awaiting the outcome of their batches); at the limit the
	// node stops accepting data (default 1024).
	InboundRequestLimit int `yaml:"inbound_request_limit"`
	// OutboundRequestLimit bounds the batches awaiting an outcome per
	// signal and form; at the limit further batches wait (default 512).
	OutboundRequestLimit int `yaml:"outbound_request_limit"`

	// Set by fillDefaults: the block was absent and took its default, so
	// an error about it must not point at keys the user never wrote.
	otlpDefaulted, otapDefaulted bool
}

// FormatConfig sizes the batches of one payload form.
type FormatConfig struct {
	// MinSize flushes a batch as soon as it holds this much. Unset: the
	// lower limit is max_size.
	MinSize *config.Size `yaml:"min_size"`
	// MaxSize caps a batch; larger inputs are split. Unset: no cap.
	MaxSize *config.Size `yaml:"max_size"`
	// Sizer must be bytes in the otlp block and items in the otap block.
	// Omitted, it defaults to the block's own sizer (the reference engine
	// requires it; ackflow does not).
	Sizer Sizer `yaml:"sizer"`
	// MaxSplitFragments caps the fragments one oversize resource entry is
	// split into; beyond it the entry is sent whole (OTLP only; default
	// 65536).
	MaxSplitFragments *int `yaml:"max_split_fragments"`
	// MaxSplitOverheadBytes caps the bytes that splitting one oversize
	// resource entry adds (its headers repeated in every fragment); beyond
	// it the entry is sent whole (OTLP only; default 8MiB).
	MaxSplitOverheadBytes *config.Size `yaml:"max_split_overhead_bytes"`
	// MaxSplitFragmentsPerFlush caps the fragments made in one flush;
	// oversize entries beyond it are sent whole (OTLP only; default 65536).
	MaxSplitFragmentsPerFlush *int `yaml:"max_split_fragments_per_flush"`
}

// DefaultConfig returns the configuration used for absent keys. Its format
// blocks are nil: absent blocks take their defaults after decoding, so
// that a block written by the user replaces the default instead of being
// merged with it.
func DefaultConfig() Config {
	return Config{
		Format:               DefaultFormat,
		MaxBatchDuration:     config.Duration(DefaultMaxBatchDuration),
		InboundRequestLimit:  DefaultInboundRequestLimit,
		OutboundRequestLimit: DefaultOutboundRequestLimit,
	}
}

func defaultOTLP() *FormatConfig {
	minSize := config.Size(DefaultOTLPMinSize)
	return &FormatConfig{MinSize: &minSize, Sizer: SizerBytes}
}

func defaultOTAP() *FormatConfig {
	minSize := config.Size(DefaultOTAPMinSize)
	return &FormatConfig{MinSize: &minSize, Sizer: SizerItems}
}

// fillDefaults gives absent format blocks and absent sizers their defaults.
func (c *Config) fillDefaults() {
	if c.OTLP == nil {
		c.OTLP, c.otlpDefaulted = defaultOTLP(), true
	}
	if c.OTAP == nil {
		c.OTAP, c.otapDefaulted = defaultOTAP(), true
	}
	if c.OTLP.Sizer == "" {
		c.OTLP.Sizer = SizerBytes
	}
	if c.OTAP.Sizer == "" {
		c.OTAP.Sizer = SizerItems
	}
}

// usesOTLP and usesOTAP say which format blocks are active: only those are
// validated and only their buffers exist.
func (c *Config) usesOTLP() bool { return c.Format == FormatOTLP || c.Format == FormatPreserve }
func (c *Config) usesOTAP() bool { return c.Format == FormatOTAP || c.Format == FormatPreserve }

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path) naming the key and the fix, joined. It
// expects the format blocks filled (decodeConfig does it).
func (c *Config) Validate(p config.Path) error {
	var errs []error
	bad := func(path config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(path, hint, format, args...))
	}
	switch c.Format {
	case FormatOTLP, FormatOTAP, FormatPreserve:
	default:
		bad(p.Key("format"), "use otlp, otap or preserve",
			"unknown format %q", c.Format)
	}
	d := time.Duration(c.MaxBatchDuration)
	if d < 0 {
		bad(p.Key("max_batch_duration"), "use a positive duration such as 200ms, or 0s for split-only mode",
			"must not be negative, got %s", d)
	}
	if c.InboundRequestLimit <= 0 {
		bad(p.Key("inbound_request_limit"), "use a positive number of requests such as 1024",
			"must be greater than 0, got %d", c.InboundRequestLimit)
	}
	if c.OutboundRequestLimit <= 0 {
		bad(p.Key("outbound_request_limit"), "use a positive number of requests such as 512",
			"must be greater than 0, got %d", c.OutboundRequestLimit)
	}
	if c.usesOTLP() && c.OTLP != nil {
		errs = append(errs, c.validateBlock(p, "otlp", c.OTLP, c.otlpDefaulted, SizerBytes, d))
	}
	if c.usesOTAP() && c.OTAP != nil {
		errs = append(errs, c.validateBlock(p, "otap", c.OTAP, c.otapDefaulted, SizerItems, d))
	}
	return errors.Join(errs...)
}

// validateBlock validates an active format block. The default blocks set
// only min_size, which split-only mode refuses: say so in terms of the
// block to write rather than of keys the user never wrote.
func (c *Config) validateBlock(p config.Path, block string, f *FormatConfig, defaulted bool, want Sizer, d time.Duration) error {
	if defaulted && d == 0 {
		other := FormatOTAP
		if block == "otap" {
			other = FormatOTLP
		}
		return config.Errorf(p.Key(block),
			fmt.Sprintf("write an %s block with max_size and without min_size, or set format: %s so that the %s block does not apply", block, other, block),
			"max_batch_duration 0s (split-only mode) needs max_size in the %s block, which is absent (its default has only min_size)", block)
	}
	return f.validate(p.Key(block), block, want, d)
}

// validate checks one format block, named block, whose sizer must be want.
func (f *FormatConfig) validate(p config.Path, block string, want Sizer, d time.Duration) error {
	var errs []error
	bad := func(path config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(path, hint, format, args...))
	}
	unit := "bytes"
	if want == SizerItems {
		unit = "items"
	}
	if f.Sizer != want {
		bad(p.Key("sizer"), fmt.Sprintf("set sizer: %s (the %s block is sized in %s)", want, block, unit),
			"sizer %q is not supported for %s batches", f.Sizer, block)
	}
	if f.MinSize != nil && *f.MinSize <= 0 {
		bad(p.Key("min_size"), fmt.Sprintf("use a positive number of %s, or remove min_size", unit),
			"must be greater than 0, got %d", int64(*f.MinSize))
	}
	if f.MaxSize != nil && *f.MaxSize <= 0 {
		bad(p.Key("max_size"), fmt.Sprintf("use a positive number of %s, or remove max_size", unit),
			"must be greater than 0, got %d", int64(*f.MaxSize))
	}
	if f.MinSize == nil && f.MaxSize == nil {
		bad(p, fmt.Sprintf("set min_size (flush when a batch holds that many %s), max_size (cap each batch), or both", unit),
			"neither min_size nor max_size is set")
	}
	if f.MinSize != nil && f.MaxSize != nil && *f.MaxSize > 0 && *f.MaxSize < *f.MinSize {
		bad(p.Key("max_size"), "raise max_size to at least min_size, lower min_size, or remove max_size",
			"max_size (%d) is less than min_size (%d)", int64(*f.MaxSize), int64(*f.MinSize))
	}
	if d == 0 && f.MinSize != nil {
		bad(p.Key("min_size"), "remove min_size (split-only mode flushes every input at once), or set max_batch_duration above 0",
			"min_size needs max_batch_duration above 0, and max_batch_duration is 0s")
	}
	if d == 0 && f.MaxSize == nil {
		bad(p.Key("max_size"), "set max_size (split-only mode cuts every input to it), or set max_batch_duration above 0",
			"max_batch_duration 0s (split-only mode) needs max_size")
	}
	positive := func(key string, v *int) {
		if v != nil && *v <= 0 {
			bad(p.Key(key), "use a positive number, or remove the key for the default",
				"must be greater than 0, got %d", *v)
		}
	}
	positive("max_split_fragments", f.MaxSplitFragments)
	positive("max_split_fragments_per_flush", f.MaxSplitFragmentsPerFlush)
	if f.MaxSplitOverheadBytes != nil && *f.MaxSplitOverheadBytes <= 0 {
		bad(p.Key("max_split_overhead_bytes"), "use a positive size such as 8MiB, or remove the key for the default",
			"must be greater than 0, got %d", int64(*f.MaxSplitOverheadBytes))
	}
	return errors.Join(errs...)
}

// limits is a validated format block in the units the core works in.
type limits struct {
	lower int // flush as soon as a batch reaches it: min_size, else max_size
	max   int // cap per batch; 0: none

	// Budgets for splitting oversize OTLP resource entries.
	maxFragments         int
	maxOverhead          int
	maxFragmentsPerFlush int
}

func (f *FormatConfig) limits() limits {
	l := limits{
		maxFragments:         DefaultMaxSplitFragments,
		maxOverhead:          DefaultMaxSplitOverheadBytes,
		maxFragmentsPerFlush: DefaultMaxSplitFragmentsPerFlush,
	}
	if f.MaxSize != nil {
		l.max = int(*f.MaxSize)
	}
	if f.MinSize != nil {
		l.lower = int(*f.MinSize)
	} else {
		l.lower = l.max
	}
	if f.MaxSplitFragments != nil {
		l.maxFragments = *f.MaxSplitFragments
	}
	if f.MaxSplitOverheadBytes != nil {
		l.maxOverhead = int(*f.MaxSplitOverheadBytes)
	}
	if f.MaxSplitFragmentsPerFlush != nil {
		l.maxFragmentsPerFlush = *f.MaxSplitFragmentsPerFlush
	}
	return l
}

// settings is a validated Config in the units the core works in.
type settings struct {
	format      Format
	otlp, otap  limits
	maxDuration time.Duration // 0: split-only
	whenIdle    bool          // flush_when_idle
	inbound     int           // per (signal, form)
	outbound    int           // per (signal, form)
}

func (c *Config) settings() settings {
	return settings{
		format:      c.Format,
		otlp:        c.OTLP.limits(),
		otap:        c.OTAP.limits(),
		maxDuration: time.Duration(c.MaxBatchDuration),
		whenIdle:    c.FlushWhenIdle,
		inbound:     c.InboundRequestLimit,
		outbound:    c.OutboundRequestLimit,
	}
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		c.fillDefaults()
		// Batches go out on the default port.
		return errors.Join(c.Validate(p), n.CheckSingleOutput())
	})
}
