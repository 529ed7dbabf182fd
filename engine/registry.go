package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// Factory builds the nodes of one type. Exactly one of NewReceiver and
// NewProcessor is set: receivers use the first, processors and exporters
// the second.
type Factory struct {
	// Type is "KIND:NAME", e.g. "processor:fanout".
	Type string
	// Description is one line for `ackflow components`.
	Description string
	// Validate checks a node's config block and returns every problem
	// found (config.Errorf values joined). Nil means any config is valid.
	Validate func(n *config.Node) error
	// NewReceiver builds a receiver.
	NewReceiver func(nc NodeContext) (Receiver, error)
	// NewProcessor builds a processor or an exporter.
	NewProcessor func(nc NodeContext) (Processor, error)
	// Guarantee declares what a node of this type does to the promise made
	// to a client (see package guarantee): nil means it declares nothing,
	// and the report says so.
	Guarantee guarantee.Declarer
	// ReleasesPayloads declares that a node of this type reads no
	// payload's bytes after it reported that message's outcome upstream,
	// on every path but a forced shutdown, unless it holds the payload's
	// leases for as long (pdata.Lease: a batch in flight, a transport
	// writing after its call returned). A receiver may give its
	// transport's buffers back for reuse only when every node below it
	// declares this (NodeContext.ReuseBuffers); a type that does not is
	// safe, and its receivers' buffers go to the garbage collector.
	ReleasesPayloads bool
}

// Kind returns the node kind named by the factory's type.
func (f Factory) Kind() config.Kind {
	k, _ := factoryKind(f.Type)
	return k
}

func factoryKind(typeName string) (config.Kind, bool) {
	kind, name, ok := strings.Cut(typeName, ":")
	if !ok || name == "" {
		return 0, false
	}
	switch kind {
	case "receiver":
		return config.KindReceiver, true
	case "processor":
		return config.KindProcessor, true
	case "exporter":
		return config.KindExporter, true
	}
	return 0, false
}

// Registry maps node type names to factories. It implements
// config.NodeTypes so that a document is validated against it.
type Registry struct {
	byType map[string]Factory
}

// NewRegistry returns a registry of fs, rejecting duplicates and malformed
// factories.
func NewRegistry(fs ...Factory) (*Registry, error) {
	r := &Registry{byType: make(map[string]Factory, len(fs))}
	for _, f := range fs {
		kind, ok := factoryKind(f.Type)
		if !ok {
			return nil, fmt.Errorf("registry: factory type %q is not KIND:NAME with kind receiver, processor or exporter", f.Type)
		}
		if _, dup := r.byType[f.Type]; dup {
			return nil, fmt.Errorf("registry: factory %q registered twice", f.Type)
		}
		if (kind == config.KindReceiver) != (f.NewReceiver != nil) || (f.NewReceiver == nil) == (f.NewProcessor == nil) {
			return nil, fmt.Errorf("registry: factory %q: a receiver sets NewReceiver, a processor or exporter NewProcessor", f.Type)
		}
		r.byType[f.Type] = f
	}
	return r, nil
}

// MustRegistry is NewRegistry that panics on error, for static lists.
func MustRegistry(fs ...Factory) *Registry {
	r, err := NewRegistry(fs...)
	if err != nil {
		panic(err)
	}
	return r
}

// Lookup returns the factory for typeName ("processor:fanout").
func (r *Registry) Lookup(typeName string) (Factory, bool) {
	f, ok := r.byType[typeName]
	return f, ok
}

// Known implements config.NodeTypes.
func (r *Registry) Known(typeName string) bool {
	_, ok := r.byType[typeName]
	return ok
}

// ValidateConfig implements config.NodeTypes.
func (r *Registry) ValidateConfig(n *config.Node) error {
	f, ok := r.byType[n.Type]
	if !ok || f.Validate == nil {
		return nil
	}
	return f.Validate(n)
}

// Names lists the registered types, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byType))
	for t := range r.byType {
		names = append(names, t)
	}
	slices.Sort(names)
	return names
}

// Factories returns the registered factories sorted by type.
func (r *Registry) Factories() []Factory {
	out := make([]Factory, 0, len(r.byType))
	for _, n := range r.Names() {
		out = append(out, r.byType[n])
	}
	return out
}

// ProcessorFactory returns the factory of a processor or exporter type
// whose config is loaded by load: decoded over its defaults and validated,
// every problem reported at once. Validate and the builder share load, so
// a node builds with exactly the config that was checked.
func ProcessorFactory[C any](typ, desc string, load func(*config.Node) (C, error), build func(NodeContext, C) (Processor, error)) Factory {
	return Factory{
		Type:         typ,
		Description:  desc,
		Validate:     func(n *config.Node) error { _, err := load(n); return err },
		NewProcessor: func(nc NodeContext) (Processor, error) { return buildWith(typ, nc, load, build) },
	}
}

// ReceiverFactory is ProcessorFactory for a receiver type.
func ReceiverFactory[C any](typ, desc string, load func(*config.Node) (C, error), build func(NodeContext, C) (Receiver, error)) Factory {
	return Factory{
		Type:        typ,
		Description: desc,
		Validate:    func(n *config.Node) error { _, err := load(n); return err },
		NewReceiver: func(nc NodeContext) (Receiver, error) { return buildWith(typ, nc, load, build) },
	}
}

func buildWith[C, N any](typ string, nc NodeContext, load func(*config.Node) (C, error), build func(NodeContext, C) (N, error)) (N, error) {
	cfg, err := load(nc.Node)
	if err != nil {
		var zero N
		return zero, fmt.Errorf("%s %q: %w", typ, nc.Node.Name, err)
	}
	return build(nc, cfg)
}
