package config

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// pipelinePath returns groups.G.pipelines.P.
func pipelinePath(pl *Pipeline) Path {
	return Path{}.Key("groups").Key(pl.Group).Key("pipelines").Key(pl.Name)
}

// edge is one node-to-node link implied by a connection.
type edge struct {
	to   string
	conn *Connection
}

// checkGraph checks what involves several nodes of a pipeline: that there
// is a receiver, that connections name existing nodes in the right
// direction and declared ports, and that there is no cycle. Nodes whose type
// did not parse (Kind 0) are skipped by the kind checks, so that one typo
// does not cause a cascade of errors.
func checkGraph(errs *errorList, pl *Pipeline, pipeNode *yaml.Node) {
	byName := make(map[string]*Node, len(pl.Nodes))
	names := make([]string, 0, len(pl.Nodes))
	allKinds, hasReceiver := true, false
	for _, n := range pl.Nodes {
		byName[n.Name] = n
		names = append(names, n.Name)
		allKinds = allKinds && n.Kind != 0
		hasReceiver = hasReceiver || n.Kind == KindReceiver
	}
	if len(pl.Nodes) > 0 && allKinds && !hasReceiver {
		errs.add(pipeNode, ErrMissing, pipelinePath(pl).Key("nodes"),
			"add a receiver node (type receiver:NAME) and connect it: data enters a pipeline only through receivers",
			"pipeline %q has no receiver", pl.Name)
	}

	unknown := func(name string, path Path) {
		errs.add(nil, ErrUnknownNode, path,
			suggest(name, names)+"name one of the pipeline's nodes: "+listNames(names),
			"no node named %q in this pipeline", name)
	}
	out := map[string][]edge{}
	for _, c := range pl.Connections {
		var sources []string
		seenFrom := map[PortRef]bool{}
		for i, r := range c.From {
			path := c.fromPath(i)
			if seenFrom[r] {
				errs.add(nil, ErrDuplicate, path, "list each source once", "%s is listed twice", r)
				continue
			}
			seenFrom[r] = true
			n := byName[r.Node]
			switch {
			case n == nil:
				unknown(r.Node, path)
				continue
			case n.Kind == KindExporter:
				errs.add(nil, ErrWiring, path, "exporters are sinks: use them in to, not in from",
					"%q is an exporter and sends nothing on", r.Node)
				continue
			case n.Kind != 0:
				checkPort(errs, n, r, path)
			}
			sources = append(sources, r.Node)
		}
		var dests []string
		seenTo := map[string]bool{}
		for i, name := range c.To {
			path := c.toPath(i)
			if node, _, ok := strings.Cut(name, "["); ok {
				errs.add(nil, ErrWiring, path,
					fmt.Sprintf("a destination has no input ports: write the node name alone, to: %s", node),
					"%s selects a port", name)
				continue
			}
			if seenTo[name] {
				errs.add(nil, ErrDuplicate, path, "list each destination once", "%q is listed twice", name)
				continue
			}
			seenTo[name] = true
			n := byName[name]
			switch {
			case n == nil:
				unknown(name, path)
				continue
			case n.Kind == KindReceiver:
				errs.add(nil, ErrWiring, path, "receivers are sources: use them in from, not in to",
					"%q is a receiver and takes no input", name)
				continue
			}
			dests = append(dests, name)
		}
		for _, s := range sources {
			for _, d := range dests {
				out[s] = append(out[s], edge{to: d, conn: c})
			}
		}
	}
	checkCycles(errs, pl, out)
}

// checkPort reports a source port that node n does not have.
func checkPort(errs *errorList, n *Node, r PortRef, path Path) {
	if _, ok := n.ResolvePort(r.Port); ok {
		return
	}
	switch {
	case len(n.Outputs) == 0:
		errs.add(nil, ErrUnknownPort, path,
			fmt.Sprintf("%q declares no outputs, so it has only its default port: write from: %s, or declare outputs: [%s] on the node", n.Name, n.Name, r.Port),
			"node %q has no output port %q", n.Name, r.Port)
	case r.Port == DefaultPort:
		errs.add(nil, ErrUnknownPort, path,
			fmt.Sprintf(`select a port, e.g. from: '%s["%s"]', or set default_output on the node`, n.Name, n.Outputs[0]),
			"node %q declares outputs but no default_output, so a bare %q selects no port", n.Name, n.Name)
	default:
		errs.add(nil, ErrUnknownPort, path,
			suggest(r.Port, n.Outputs)+"declared outputs: "+listNames(n.Outputs),
			"node %q has no output port %q", n.Name, r.Port)
	}
}

// checkCycles reports every cycle found by a depth-first search, at the
// connection that closes it, naming the nodes in order. The search keeps
// its own stack, so a pipeline that is one long chain cannot exhaust the
// goroutine's, and each step costs O(1), so that it stays linear however
// many cycles there are.
func checkCycles(errs *errorList, pl *Pipeline, out map[string][]edge) {
	const done = -1
	// at is a node's position on the stack while it is there, then done;
	// nodes not visited yet are absent.
	at := map[string]int{}
	var stack []dfsFrame
	for _, n := range pl.Nodes {
		if _, seen := at[n.Name]; seen {
			continue
		}
		at[n.Name] = 0
		stack = append(stack[:0], dfsFrame{name: n.Name})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			edges := out[top.name]
			if top.next == len(edges) {
				at[top.name] = done
				stack = stack[:len(stack)-1]
				continue
			}
			e := edges[top.next]
			top.next++
			switch i, seen := at[e.to]; {
			case !seen:
				at[e.to] = len(stack)
				stack = append(stack, dfsFrame{name: e.to})
			case i != done:
				errs.add(nil, ErrCycle, e.conn.Path,
					"a pipeline must be acyclic: remove one of these connections; to retry failed data use processor:retry, not a loop",
					"connections form a cycle: %s", cycleText(stack[i:]))
			}
		}
	}
}

// dfsFrame is a node on checkCycles' stack.
type dfsFrame struct {
	name string
	next int // index in out[name] of the next edge to follow
}

// cycleText renders the cycle through path, back to its first node, as
// a -> b -> a, eliding the middle of a long one.
func cycleText(path []dfsFrame) string {
	const ends = maxListed / 2
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if i == ends && len(path) > 2*ends {
			fmt.Fprintf(&b, "... (%d more) -> ", len(path)-2*ends)
			i = len(path) - ends
		}
		b.WriteString(path[i].name)
		b.WriteString(" -> ")
	}
	b.WriteString(path[0].name)
	return b.String()
}
