package config

import "strings"

// DecodeNodeConfig is how a node type reads its config block: decoded
// strictly (unknown keys are errors) over cfg, which holds the type's
// defaults, then checked by validate (which may also fill derived
// defaults), every problem reported at once under its YAML path. A nil
// validate checks nothing more.
func DecodeNodeConfig[C any](n *Node, cfg C, validate func(c *C, p Path) error) (C, error) {
	p := n.Path.Key("config")
	if err := DecodeStrict(n.Config, &cfg, p); err != nil {
		return cfg, err
	}
	if validate == nil {
		return cfg, nil
	}
	return cfg, validate(&cfg, p)
}

// CheckSingleOutput is the rule of every node type that sends on one
// port: with several outputs declared it needs a default_output, or every
// send would fail at run time.
func (n *Node) CheckSingleOutput() error {
	ports := n.Ports()
	if len(ports) <= 1 || n.DefaultOutput != "" {
		return nil
	}
	return Errorf(n.Path.Key("outputs"),
		"declare a single output, or name the one it sends to with default_output; to copy data to several destinations put a processor:fanout after it",
		"%s sends on a single output, got %d (%s) and no default_output", n.Type, len(ports), strings.Join(ports, ", "))
}
