package config

import "strings"

// DecodeNodeConfig is how a node type reads its config block: decoded
// strictly (unknown keys are errors) over cfg, which holds the type's
// defaults, then checked by validate (which may also fill derived
// defaults), every problem reported at once under its YAML path. A nil
// validate checks nothing more.
//
// Keys accepted without effect (fields tagged `ackflow:"ignored,REASON"`,
// and Ignore entries validate returns) are not errors: they are recorded
// for Document.Ignored while Document.Validate runs, and dropped otherwise.
func DecodeNodeConfig[C any](n *Node, cfg C, validate func(c *C, p Path) error) (C, error) {
	p := n.Path.Key("config")
	ignored, err := decodeReport(n.Config, &cfg, p)
	n.record(ignored)
	if err != nil || validate == nil {
		return cfg, err
	}
	err, ignored = splitIgnored(validate(&cfg, p))
	n.record(ignored)
	return cfg, err
}

// ConfigHas reports whether the node's config block sets the key at keys
// (each a mapping key, from the block down) to something other than null:
// for validators that must tell a key left out from one given its default
// value, such as two spellings of one setting given together.
func (n *Node) ConfigHas(keys ...string) bool {
	v := resolve(n.Config)
	for _, k := range keys {
		if v = child(v, segment{key: k}); v == nil {
			return false
		}
	}
	return v != nil && !isNull(v)
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
