package typerouter

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/pdata"
)

// OnFull is what the router does with a message whose output is full.
type OnFull string

// Policies for a full output, as in the reference engine.
const (
	// RejectImmediately nacks the message (transient, cause route_full):
	// the sender retries and the other outputs keep flowing.
	RejectImmediately OnFull = "reject_immediately"
	// Backpressure parks the first message per full output and offers it
	// again every ProbeInterval; the node stops taking data only while
	// every output it can select holds a parked message.
	Backpressure OnFull = "backpressure"
)

// DefaultOnFull is the reference engine's default.
const DefaultOnFull = RejectImmediately

// AdmissionPolicy is the `admission_policy` block.
type AdmissionPolicy struct {
	// OnFull is reject_immediately (default) or backpressure.
	OnFull OnFull `yaml:"on_full"`
}

// Config is the `config` block of a processor:type_router node. The ports
// are not configured here: they are the node's outputs, named after the
// signals (see PortFor).
type Config struct {
	// AdmissionPolicy says what happens when the selected output is full.
	AdmissionPolicy AdmissionPolicy `yaml:"admission_policy"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{AdmissionPolicy: AdmissionPolicy{OnFull: DefaultOnFull}}
}

// PortFor returns the output port that carries signal s: "logs",
// "metrics" or "traces".
func PortFor(s pdata.Signal) string { return s.String() }

// isSignalPort reports whether port is named after a signal.
func isSignalPort(port string) bool {
	return slices.ContainsFunc(pdata.Signals(), func(s pdata.Signal) bool { return PortFor(s) == port })
}

// Validate reports every invalid value of c, each as a *config.Error under
// p (the node's `config` path), joined.
func (c *Config) Validate(p config.Path) error {
	switch c.AdmissionPolicy.OnFull {
	case RejectImmediately, Backpressure:
		return nil
	}
	return config.Errorf(p.Key("admission_policy").Key("on_full"),
		"use reject_immediately (nack at once, the default) or backpressure (hold one message per output and stop taking data when every output is full)",
		"unknown policy %q", c.AdmissionPolicy.OnFull)
}

// validateOutputs checks the node's declared outputs against what the
// router can send on: the signal ports, and the fallback port (see
// fallbackPort). A port it would never use is most likely a typo ("log").
func validateOutputs(n *config.Node) error {
	fallback := fallbackPort(n.DefaultOutput, n.Ports())
	named := 0
	var errs []error
	for i, o := range n.Outputs {
		switch {
		case isSignalPort(o):
			named++
		case o != fallback:
			hint := "name it logs, metrics or traces, or make it the default_output (where signals without a port of their own go)"
			if s := closestSignalPort(o); s != "" {
				hint = fmt.Sprintf("did you mean %q? ", s) + hint
			}
			errs = append(errs, config.Errorf(n.Path.Key("outputs").Index(i), hint,
				"%s never sends on port %q: it sends each signal on the port named after it, and the others on the default output", n.Type, o))
		}
	}
	if named == 0 && len(errs) == 0 {
		errs = append(errs, config.Errorf(n.Path.Key("outputs"),
			"declare the ports it routes to, e.g. outputs: [logs, metrics, traces], and connect each: from: 'router[\"logs\"]'",
			"%s declares none of the ports logs, metrics and traces, so it would send every signal to the same output", n.Type))
	}
	return errors.Join(errs...)
}

// fallbackPort is where a signal without a port of its own goes, among
// ports: default_output when it is one of them, else the only port when
// it is not named after a signal (as the engine's default port, minus the
// case where it would send, say, metrics into the logs port), else "".
func fallbackPort(defaultOutput string, ports []string) string {
	switch {
	case defaultOutput != "":
		if slices.Contains(ports, defaultOutput) {
			return defaultOutput
		}
		return ""
	case len(ports) == 1 && !isSignalPort(ports[0]):
		return ports[0]
	}
	return ""
}

// closestSignalPort returns the signal port within two edits of port
// (case ignored), or "".
func closestSignalPort(port string) string {
	port = strings.ToLower(port)
	for _, s := range pdata.Signals() {
		if config.EditDistance(port, PortFor(s)) <= 2 {
			return PortFor(s)
		}
	}
	return ""
}

// decodeConfig decodes and validates the node's config block and its
// outputs.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), validateOutputs(n))
	})
}
