package engine

import (
	"errors"
	"slices"
	"strings"

	"github.com/ackflow/ackflow/config"
)

// wiring is a pipeline's connections resolved into hyper-edges: one bounded
// channel per distinct destination set (docs/ENGINE.md, "Channels and wiring"). Sources that name the
// same destination set share the channel (fan-in); the destinations of one
// set compete for its messages.
type wiring struct {
	edges []*edgeSpec
	out   map[portKey]*edgeSpec // source port -> edge
	in    map[string]*edgeSpec  // destination node -> its input edge
}

type portKey struct{ node, port string }

type edgeSpec struct {
	name    string
	dests   []string
	sources []portKey
}

// wire resolves p's connections. It reports, as positioned config errors,
// what the document model alone cannot see: a source port wired to two
// different destination sets (broadcasting is processor:fanout's job) and a
// node fed by two different destination sets.
func wire(p *config.Pipeline) (*wiring, error) {
	w := &wiring{out: map[portKey]*edgeSpec{}, in: map[string]*edgeSpec{}}
	byDests := map[string]*edgeSpec{}
	var errs []error
	for _, c := range p.Connections {
		dests := slices.Clone(c.To)
		slices.Sort(dests)
		dests = slices.Compact(dests)
		key := strings.Join(dests, ",")
		e, ok := byDests[key]
		if !ok {
			e = &edgeSpec{dests: dests}
			byDests[key] = e
			w.edges = append(w.edges, e)
		}
		for _, from := range c.From {
			port := from.Port
			if n := p.Node(from.Node); n != nil {
				port, _ = n.ResolvePort(port)
			}
			pk := portKey{from.Node, port}
			if prev, dup := w.out[pk]; dup && prev != e {
				errs = append(errs, config.Errorf(c.Path.Key("from"),
					"wire each port to one destination set; use a list in `to` for competing consumers, or processor:fanout to send copies to several nodes",
					"port %q of node %q is already connected to %v", from.Port, from.Node, prev.dests))
				continue
			}
			if !slices.Contains(e.sources, pk) {
				e.sources = append(e.sources, pk)
			}
			w.out[pk] = e
		}
	}
	for _, e := range w.edges {
		for _, d := range e.dests {
			if prev, dup := w.in[d]; dup && prev != e {
				errs = append(errs, config.Errorf(pipelinePath(p).Key("connections"),
					"connect every source of this node with the same `to` list, so that they share one input channel",
					"node %q receives from two different destination sets (%v and %v)", d, prev.dests, e.dests))
				continue
			}
			w.in[d] = e
		}
		var srcs []string
		for _, s := range e.sources {
			srcs = append(srcs, s.node+"["+s.port+"]")
		}
		e.name = strings.Join(srcs, ",") + " -> " + strings.Join(e.dests, ",")
	}
	return w, errors.Join(errs...)
}

func pipelinePath(p *config.Pipeline) config.Path {
	return config.Path{}.Key("groups").Key(p.Group).Key("pipelines").Key(p.Name)
}

// Check validates what only the engine knows about a document: the wiring
// of every pipeline. config.Load has already checked everything else.
func Check(doc *config.Document) error {
	var errs []error
	for _, g := range doc.Groups {
		for _, p := range g.Pipelines {
			if _, err := wire(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
