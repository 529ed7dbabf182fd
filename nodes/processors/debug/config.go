package debug

import (
	"errors"

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

var verbosityNames = map[string]verbosity{"basic": verbosityBasic, "normal": verbosityNormal, "detailed": verbosityDetailed}

var verbosityStrings = [...]string{verbosityBasic: "basic", verbosityNormal: "normal", verbosityDetailed: "detailed"}

// String returns the name used in the configuration.
func (v verbosity) String() string {
	if v >= verbosityBasic && int(v) < len(verbosityStrings) {
		return verbosityStrings[v]
	}
	return "verbosity(?)"
}

// DefaultVerbosity is the reference engine's default.
const DefaultVerbosity = "normal"

// signalNames maps the values of `signals` to signals; "spans" is the
// reference engine's name, "traces" ackflow's.
var signalNames = map[string]pdata.Signal{"logs": pdata.Logs, "metrics": pdata.Metrics, "spans": pdata.Traces, "traces": pdata.Traces}

// Config is the `config` block of a processor:debug node.
type Config struct {
	// Verbosity is basic, normal (default) or detailed.
	Verbosity string `yaml:"verbosity"`
	// Signals lists the signals to log: logs, metrics, spans (or traces).
	// Default: all. Messages of other signals are forwarded silently.
	Signals []string `yaml:"signals"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{Verbosity: DefaultVerbosity, Signals: []string{"logs", "metrics", "spans"}}
}

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path), joined.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	if _, ok := verbosityNames[c.Verbosity]; !ok {
		errs = append(errs, config.Errorf(p.Key("verbosity"), "use basic, normal or detailed",
			"unknown verbosity %q", c.Verbosity))
	}
	if len(c.Signals) == 0 {
		errs = append(errs, config.Errorf(p.Key("signals"), "list at least one of logs, metrics, spans, or remove the key to log all",
			"no signal to log"))
	}
	for i, s := range c.Signals {
		if _, ok := signalNames[s]; !ok {
			errs = append(errs, config.Errorf(p.Key("signals").Index(i), "use logs, metrics or spans (traces is accepted for spans)",
				"unknown signal %q", s))
		}
	}
	return errors.Join(errs...)
}

// settings is a validated Config.
type settings struct {
	verbosity verbosity
	signals   [3]bool // by pdata.Signal
}

func (c *Config) settings() settings {
	s := settings{verbosity: verbosityNames[c.Verbosity]}
	for _, name := range c.Signals {
		s.signals[signalNames[name]] = true
	}
	return s
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), n.CheckSingleOutput())
	})
}
