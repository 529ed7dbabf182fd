package config

import (
	"slices"
	"strings"
)

// NodeTypes is the engine's registry of node types, as config sees it.
// Config knows no node by name: it asks the registry.
type NodeTypes interface {
	// Known reports whether typeName (normalised, "processor:fanout") is
	// registered.
	Known(typeName string) bool
	// ValidateConfig checks one node's raw config block (n.Config, nil
	// when absent) and returns every problem found, joined: *Error values
	// with their full path (n.Path.Key("config")...), such as DecodeStrict
	// and Errorf produce. Any other error is reported at the node's config.
	ValidateConfig(n *Node) error
}

// typeNamer is optionally implemented by a NodeTypes, so that an unknown
// type's error can list the known ones.
type typeNamer interface {
	Names() []string
}

// Validate checks d against the node types the engine provides: every node
// type must be known, and every known node's config must pass its
// validator. It returns all the errors, joined and sorted by position, with
// file, line and node filled in. types must not be nil.
func (d *Document) Validate(types NodeTypes) error {
	return d.validate(types).finish(d.File, d.root)
}

func (d *Document) validate(types NodeTypes) errorList {
	var errs errorList
	var keys []IgnoredKey // reused by every node: one allocation, not one per node
	d.nodeIgnored = nil
	var known []string
	if tn, ok := types.(typeNamer); ok {
		known = slices.Sorted(slices.Values(tn.Names()))
	}
	for _, g := range d.Groups {
		for _, p := range g.Pipelines {
			for _, n := range p.Nodes {
				if n.Type == "" {
					continue // malformed type: already reported by Parse
				}
				if !types.Known(n.Type) {
					hint := "check the spelling, or use a build of ackflow that includes this node"
					if len(known) > 0 {
						hint = suggest(n.Type, known) + "known types: " + strings.Join(known, ", ")
					}
					errs.add(nil, ErrUnknownNodeType, n.Path.Key("type"), hint, "unknown node type %q", n.Type)
					continue
				}
				errs.addErr(d.validateNode(types, n, &keys), n.Path.Key("config"))
			}
		}
	}
	return errs
}

// validateNode runs n's validator, collecting the keys it accepts without
// effect into d.nodeIgnored (through keys, a scratch list), and returns the
// errors.
func (d *Document) validateNode(types NodeTypes, n *Node, keys *[]IgnoredKey) error {
	*keys = (*keys)[:0]
	n.ignored = keys
	defer func() { n.ignored = nil }()
	err, more := splitIgnored(types.ValidateConfig(n))
	d.nodeIgnored = append(d.nodeIgnored, *keys...)
	d.nodeIgnored = append(d.nodeIgnored, more...)
	return err
}

// LoadReport is Load that also returns the keys accepted without effect
// (Document.Ignored), even when the document has errors: those of the
// nodes whose config could be validated, and all of those Parse found.
// doc is nil when err is not.
func LoadReport(file string, data []byte, types NodeTypes) (doc *Document, ignored []IgnoredKey, err error) {
	d, errs := parse(file, data)
	if d != nil {
		errs = append(errs, d.validate(types)...)
		ignored = d.Ignored()
	}
	if err := errs.finish(file, rootOf(d)); err != nil {
		return nil, ignored, err
	}
	return d, ignored, nil
}

// Load parses data and validates it against types: Parse, then Validate,
// with the errors of both reported together. A node's config is validated
// even when another part of the document has errors, so that one run shows
// everything to fix. types must not be nil.
func Load(file string, data []byte, types NodeTypes) (*Document, error) {
	d, errs := parse(file, data)
	if d != nil {
		errs = append(errs, d.validate(types)...)
	}
	if err := errs.finish(file, rootOf(d)); err != nil {
		return nil, err
	}
	return d, nil
}
