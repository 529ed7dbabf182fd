package guarantee

import (
	"slices"

	"github.com/ackflow/ackflow/config"
)

// pnode is one node of a pipeline with its declaration and resolved
// outputs.
type pnode struct {
	cfg      *config.Node
	decl     Node
	declared bool
	// out maps a resolved output port to the nodes it feeds, in document
	// order (several: they compete for its messages).
	out map[string][]string
	// ports lists the keys of out: declared outputs first, in order.
	ports []string
}

// graph is a pipeline's nodes, indexed by name.
type graph struct {
	nodes  []*pnode
	byName map[string]*pnode
}

// newGraph resolves the connections of pl and asks every node's type for
// its declaration.
func newGraph(pl *config.Pipeline, declarerOf func(typeName string) Declarer) *graph {
	g := &graph{byName: make(map[string]*pnode, len(pl.Nodes))}
	for _, n := range pl.Nodes {
		pn := &pnode{cfg: n, out: map[string][]string{}}
		var d Declarer
		if declarerOf != nil {
			d = declarerOf(n.Type)
		}
		if d != nil {
			decl, err := d(n)
			if err != nil {
				pn.decl = undeclared(n.Type, err)
			} else {
				pn.decl, pn.declared = decl, true
			}
		} else {
			pn.decl = undeclared(n.Type, nil)
		}
		g.nodes = append(g.nodes, pn)
		g.byName[n.Name] = pn
	}
	for _, c := range pl.Connections {
		for _, r := range c.From {
			src := g.byName[r.Node]
			if src == nil {
				continue
			}
			port, _ := src.cfg.ResolvePort(r.Port)
			for _, to := range c.To {
				if g.byName[to] != nil && !slices.Contains(src.out[port], to) {
					src.out[port] = append(src.out[port], to)
				}
			}
		}
	}
	for _, pn := range g.nodes {
		for _, p := range pn.cfg.Ports() {
			if _, ok := pn.out[p]; ok {
				pn.ports = append(pn.ports, p)
			}
		}
		var rest []string
		for p := range pn.out {
			if !slices.Contains(pn.ports, p) {
				rest = append(rest, p)
			}
		}
		slices.Sort(rest)
		pn.ports = append(pn.ports, rest...)
	}
	return g
}

// sendPorts returns the ports n sends on, connected or not.
func (pn *pnode) sendPorts() []string {
	n := pn.cfg
	if n.Kind == config.KindExporter {
		return nil
	}
	if f := pn.decl.Fanout; pn.decl.Effect == EffectFanout && f != nil {
		ports := make([]string, 0, len(f.Destinations))
		for _, d := range f.Destinations {
			ports = append(ports, d.Port)
		}
		return ports
	}
	if pn.decl.Sends == SendsEach {
		return n.Ports()
	}
	// The engine's default port: default_output, else the only connected
	// port, else the node's single declared port.
	switch {
	case n.DefaultOutput != "":
		return []string{n.DefaultOutput}
	case len(pn.ports) >= 1:
		return slices.Clone(pn.ports)
	default:
		return n.Ports()[:1]
	}
}

// awaited reports whether pn's answer upstream waits for the outcome of
// what it sends on port.
func (pn *pnode) awaited(port string) bool {
	switch pn.decl.Effect {
	case EffectReceive:
		for _, in := range pn.decl.Intakes {
			if in.Answer == AnswerAfterOutcome {
				return true
			}
		}
		return false
	case EffectPersist, EffectEarly:
		return false
	case EffectFanout:
		f := pn.decl.Fanout
		switch f.Await {
		case AwaitNone:
			return false
		case AwaitPrimary:
			d, ok := f.dest(port)
			return ok && f.inPrimaryChain(d)
		}
		return true
	}
	return true
}

// dest returns the destination on port.
func (f *Fanout) dest(port string) (Destination, bool) {
	for _, d := range f.Destinations {
		if d.Port == port {
			return d, true
		}
	}
	return Destination{}, false
}

// primary returns the primary destination.
func (f *Fanout) primary() (Destination, bool) {
	for _, d := range f.Destinations {
		if d.Primary {
			return d, true
		}
	}
	if len(f.Destinations) > 0 {
		return f.Destinations[0], true
	}
	return Destination{}, false
}

// root returns the first destination of d's chain (d itself when it is
// not a fallback). Chains are acyclic in a validated config; the walk is
// bounded anyway.
func (f *Fanout) root(d Destination) Destination {
	for range f.Destinations {
		if d.FallbackFor == "" {
			return d
		}
		o, ok := f.dest(d.FallbackFor)
		if !ok {
			return d
		}
		d = o
	}
	return d
}

// inPrimaryChain reports whether d is the primary or one of its
// fallbacks.
func (f *Fanout) inPrimaryChain(d Destination) bool {
	p, ok := f.primary()
	return ok && f.root(d).Port == p.Port
}
