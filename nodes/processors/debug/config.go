package debug

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/pdata"
)

// verbosity is how much the node logs about each message.
type verbosity uint8

// Verbosity levels, as in the reference engine's debug processor.
const (
	// verbosityBasic logs one line per message: signal, items, bytes.
	verbosityBasic verbosity = iota + 1
	// verbosityNormal adds the resource and scope counts (and the metric
	// count), which decodes the payload.
	verbosityNormal
	// verbosityDetailed also logs every resource, scope and item.
	verbosityDetailed
)

var verbosityStrings = [...]string{verbosityBasic: "basic", verbosityNormal: "normal", verbosityDetailed: "detailed"}

// verbosityNamed returns the verbosity called name in the configuration.
func verbosityNamed(name string) (verbosity, bool) {
	for v := verbosityBasic; int(v) < len(verbosityStrings); v++ {
		if verbosityStrings[v] == name {
			return v, true
		}
	}
	return 0, false
}

// String returns the name used in the configuration.
func (v verbosity) String() string {
	if v >= verbosityBasic && int(v) < len(verbosityStrings) {
		return verbosityStrings[v]
	}
	return "verbosity(?)"
}

// Defaults: the reference engine's.
const (
	DefaultVerbosity = "normal"
	DefaultMode      = ModeBatch
)

// Display modes (`mode`), as in the reference engine.
const (
	// ModeBatch reports each message as a whole: its summary line, then
	// (detailed) its resources, scopes and items.
	ModeBatch = "batch"
	// ModeSignal reports each item on its own: one line per log record,
	// metric data point or span, which sampling counts one by one.
	ModeSignal = "signal"
)

// Sampling types (`sampling.type`), as in the reference engine.
const (
	NoSampling  = "no_sampling"
	ZapSampling = "zap_sampling"
)

// Filter modes (`filters[].mode`).
const (
	FilterInclude = "include"
	FilterExclude = "exclude"
)

// signalNamed reads a value of `signals`; "spans" is the reference
// engine's name, "traces" ackflow's.
func signalNamed(name string) (pdata.Signal, bool) {
	switch name {
	case "logs":
		return pdata.Logs, true
	case "metrics":
		return pdata.Metrics, true
	case "spans", "traces":
		return pdata.Traces, true
	}
	return 0, false
}

// Config is the `config` block of a processor:debug node.
type Config struct {
	// Verbosity is basic, normal (default) or detailed.
	Verbosity string `yaml:"verbosity"`
	// Mode is batch (default: a report per message) or signal (a report
	// per item).
	Mode string `yaml:"mode"`
	// Signals lists the signals to log: logs, metrics, spans (or traces).
	// Default: all; empty: none (the node only forwards). Messages of
	// other signals are forwarded silently.
	Signals []string `yaml:"signals"`
	// Output is where the lines go: the node's logger (absent, the
	// default) or a file, appended to.
	Output Output `yaml:"output"`
	// Filters select the items shown, in order: an item is shown when it
	// passes every rule. Forwarding is never filtered.
	Filters []Filter `yaml:"filters"`
	// Sampling thins the reports out (default: no_sampling).
	Sampling Sampling `yaml:"sampling"`
}

// Output is the `output` key: absent for the node's logger, a file path,
// or (in the reference engine) a list of output ports, which ackflow
// refuses.
type Output struct {
	File  string   // append the lines to this file
	Ports []string // the reference engine's port form: refused by Validate
	set   bool
}

// UnmarshalYAML reads a path or a list of ports.
func (o *Output) UnmarshalYAML(n *yaml.Node) error {
	o.set = true
	if n.Kind == yaml.SequenceNode {
		return n.Decode(&o.Ports)
	}
	return n.Decode(&o.File)
}

// Filter is one rule of `filters`.
type Filter struct {
	Predicate Predicate `yaml:"predicate"`
	// Mode is include (show only the items that match) or exclude (hide
	// them).
	Mode string `yaml:"mode"`
}

// Predicate says what an item must have to match: one of the attributes
// listed in Value (field: attribute is the only field).
type Predicate struct {
	Field string      `yaml:"field"`
	Value []Attribute `yaml:"value"`
}

// Attribute is a key and the value it must have: a string, number,
// boolean or a list of them.
type Attribute struct {
	Key   string `yaml:"key"`
	Value any    `yaml:"value"`
}

// Sampling is the `sampling` block.
type Sampling struct {
	// Type is no_sampling (default) or zap_sampling.
	Type string `yaml:"type"`
	// SamplingInitial reports are shown in each interval before
	// thinning starts; then one in SamplingThereafter.
	SamplingInitial    int `yaml:"sampling_initial"`
	SamplingThereafter int `yaml:"sampling_thereafter"`
	// SamplingInterval is the length of an interval: whole seconds (the
	// reference engine's form) or a duration.
	SamplingInterval Seconds `yaml:"sampling_interval"`
}

// Seconds is a duration written as a number of seconds or as a duration.
type Seconds time.Duration

// UnmarshalYAML reads 2 (seconds) or 2s.
func (s *Seconds) UnmarshalYAML(n *yaml.Node) error {
	var secs int64
	if n.Kind == yaml.ScalarNode && n.Decode(&secs) == nil {
		*s = Seconds(time.Duration(secs) * time.Second)
		return nil
	}
	var d config.Duration
	if err := d.UnmarshalYAML(n); err != nil {
		return err
	}
	*s = Seconds(d)
	return nil
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{
		Verbosity: DefaultVerbosity,
		Mode:      DefaultMode,
		Signals:   []string{"logs", "metrics", "spans"},
		Sampling:  Sampling{Type: NoSampling},
	}
}

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path), joined.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	bad := func(path config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(path, hint, format, args...))
	}
	if _, ok := verbosityNamed(c.Verbosity); !ok {
		bad(p.Key("verbosity"), "use basic, normal or detailed", "unknown verbosity %q", c.Verbosity)
	}
	if c.Mode != ModeBatch && c.Mode != ModeSignal {
		bad(p.Key("mode"), "use batch (a report per message) or signal (a report per item)", "unknown mode %q", c.Mode)
	}
	for i, s := range c.Signals {
		if _, ok := signalNamed(s); !ok {
			bad(p.Key("signals").Index(i), "use logs, metrics or spans (traces is accepted for spans)", "unknown signal %q", s)
		}
	}
	switch o := c.Output; {
	case len(o.Ports) > 0:
		bad(p.Key("output"),
			"remove output to log through the node's logger, or give a file path; to see the data on another branch, copy it there with a processor:fanout",
			"sending debug copies to output ports is not supported")
	case o.set && o.File == "":
		bad(p.Key("output"), "give a file path, or remove output to log through the node's logger", "output is empty")
	}
	for i, f := range c.Filters {
		errs = append(errs, f.validate(p.Key("filters").Index(i)))
	}
	errs = append(errs, c.Sampling.validate(p.Key("sampling")))
	return errors.Join(errs...)
}

func (f *Filter) validate(p config.Path) error {
	var errs []error
	if f.Mode != FilterInclude && f.Mode != FilterExclude {
		errs = append(errs, config.Errorf(p.Key("mode"), "use include (show only the matching items) or exclude (hide them)",
			"unknown filter mode %q", f.Mode))
	}
	pp := p.Key("predicate")
	if f.Predicate.Field != "attribute" {
		errs = append(errs, config.Errorf(pp.Key("field"), "use field: attribute (the only field)", "unknown predicate field %q", f.Predicate.Field))
	}
	if len(f.Predicate.Value) == 0 {
		errs = append(errs, config.Errorf(pp.Key("value"), "list the attributes to match: value: [{key: service.name, value: checkout}]",
			"the predicate lists no attribute"))
	}
	for i, a := range f.Predicate.Value {
		if a.Key == "" {
			errs = append(errs, config.Errorf(pp.Key("value").Index(i).Key("key"), "name the attribute", "key is empty"))
		}
		if err := pcommon.NewValueEmpty().FromRaw(a.Value); err != nil || a.Value == nil {
			errs = append(errs, config.Errorf(pp.Key("value").Index(i).Key("value"), "use a string, number, boolean or a list of them",
				"cannot match an attribute against %v", a.Value))
		}
	}
	return errors.Join(errs...)
}

func (s *Sampling) validate(p config.Path) error {
	switch s.Type {
	case NoSampling:
		return nil
	case ZapSampling:
	default:
		return config.Errorf(p.Key("type"), "use no_sampling or zap_sampling", "unknown sampling type %q", s.Type)
	}
	var errs []error
	if s.SamplingInitial < 0 {
		errs = append(errs, config.Errorf(p.Key("sampling_initial"), "use 0 or more", "sampling_initial must not be negative, got %d", s.SamplingInitial))
	}
	if s.SamplingThereafter < 1 {
		errs = append(errs, config.Errorf(p.Key("sampling_thereafter"), "use 1 (show every report) or more (one in N)",
			"sampling_thereafter must be at least 1, got %d", s.SamplingThereafter))
	}
	if s.SamplingInterval <= 0 {
		errs = append(errs, config.Errorf(p.Key("sampling_interval"), "use a number of seconds such as 2, or a duration such as 500ms",
			"sampling_interval must be positive, got %s", time.Duration(s.SamplingInterval)))
	}
	return errors.Join(errs...)
}

// settings is a validated Config.
type settings struct {
	verbosity verbosity
	signal    bool    // mode signal: a report per item
	signals   [3]bool // by pdata.Signal
	file      string  // output file; "" for the node's logger
	filters   []rule
	sampling  sampler // its zero value (interval 0) samples nothing out
}

// rule is a validated Filter.
type rule struct {
	include bool
	attrs   []matchAttr
}

type matchAttr struct {
	key   string
	value pcommon.Value
}

func (c *Config) settings() settings {
	v, _ := verbosityNamed(c.Verbosity) // checked by Validate
	s := settings{verbosity: v, signal: c.Mode == ModeSignal, file: c.Output.File}
	for _, name := range c.Signals {
		sig, _ := signalNamed(name)
		s.signals[sig] = true
	}
	for _, f := range c.Filters {
		r := rule{include: f.Mode == FilterInclude}
		for _, a := range f.Predicate.Value {
			v := pcommon.NewValueEmpty()
			_ = v.FromRaw(a.Value) // checked by Validate
			r.attrs = append(r.attrs, matchAttr{a.Key, v})
		}
		s.filters = append(s.filters, r)
	}
	if z := c.Sampling; z.Type == ZapSampling {
		s.sampling = sampler{initial: uint64(z.SamplingInitial), thereafter: uint64(z.SamplingThereafter), interval: time.Duration(z.SamplingInterval)}
	}
	return s
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), n.CheckSingleOutput())
	})
}
