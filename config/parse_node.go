package config

import (
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// rawNode is a node declaration as written. Config is a yaml.Node value:
// yaml.v3 fills a *yaml.Node field wrongly.
type rawNode struct {
	Type          string    `yaml:"type"`
	Description   string    `yaml:"description"`
	Outputs       []string  `yaml:"outputs"`
	DefaultOutput string    `yaml:"default_output"`
	Config        yaml.Node `yaml:"config"`

	// The reference engine's node keys that ackflow does not act on.
	Capabilities      any `yaml:"capabilities" ackflow:"ignored,ackflow has no extensions: the node runs without the capabilities bound to it"`
	RateLimiters      any `yaml:"rate_limiters" ackflow:"ignored,ackflow has no rate limiters; its receivers refuse new requests at their own limits (max_concurrent_requests, max_in_flight_bytes)"`
	Entity            any `yaml:"entity" ackflow:"ignored,not needed: ackflow labels a node's telemetry with its pipeline and node names"`
	HeaderCapture     any `yaml:"header_capture" ackflow:"ignored,ackflow does not capture or propagate transport headers"`
	HeaderPropagation any `yaml:"header_propagation" ackflow:"ignored,ackflow does not capture or propagate transport headers"`
	Policies          any `yaml:"policies" ackflow:"ignored,not needed: ackflow counts every node's items (ackflow_node_*_items_total) whatever the policy"`
}

// node reads one node declaration. Type, outputs and default_output are
// checked here; ports used by connections are checked with the graph.
func (p *parser) node(e entry, path Path) *Node {
	n := &Node{Name: e.key.Value, Path: path}
	if msg := checkName(n.Name); msg != "" {
		p.errs.add(e.key, ErrInvalidValue, path, "rename the node: names are used in port selectors such as node[\"port\"]",
			"node name %q %s", n.Name, msg)
	}
	var raw rawNode
	if v := resolve(e.val); v != nil && v.Kind != yaml.MappingNode && !isNull(v) {
		p.errs.add(v, ErrType, path, "declare the node as a mapping with at least a type: { type: exporter:noop }",
			"got %s, want a node declaration", describeNode(v))
		return n
	}
	p.decode(e.val, &raw, path)
	n.Description = raw.Description
	if c := resolve(&raw.Config); c != nil && c.Kind != 0 && !isNull(c) {
		n.Config = c
	}

	tn := child(resolve(e.val), segment{key: "type"})
	switch {
	case raw.Type == "" && (tn == nil || isNull(tn) || tn.Kind == yaml.ScalarNode && tn.Value == ""):
		p.errs.add(e.val, ErrMissing, path.Key("type"), "add type: KIND:NAME, such as processor:batch",
			"node %q has no type", n.Name)
	case raw.Type != "":
		kind, typ, msg, guess := parseNodeType(raw.Type)
		if msg != "" {
			p.errs.add(nil, ErrInvalidValue, path.Key("type"),
				guess+"write KIND:NAME or urn:otel:KIND:NAME, where KIND is receiver, processor or exporter, e.g. processor:fanout",
				"malformed node type %q: %s", raw.Type, msg)
		} else {
			n.Kind, n.Type = kind, typ
		}
	}

	p.outputs(n, raw, path)
	return n
}

// outputs checks and stores the node's declared output ports.
func (p *parser) outputs(n *Node, raw rawNode, path Path) {
	if n.Kind == KindExporter {
		if len(raw.Outputs) > 0 {
			p.errs.add(nil, ErrInvalidValue, path.Key("outputs"), "remove outputs: an exporter is a sink and sends nothing on",
				"exporter %q cannot declare outputs", n.Name)
		}
		if raw.DefaultOutput != "" {
			p.errs.add(nil, ErrInvalidValue, path.Key("default_output"), "remove default_output: an exporter is a sink",
				"exporter %q cannot have a default_output", n.Name)
		}
		return
	}
	seen := map[string]bool{}
	for i, o := range raw.Outputs {
		op := path.Key("outputs").Index(i)
		if msg := checkName(o); msg != "" {
			p.errs.add(nil, ErrInvalidValue, op, "rename the port: it is written inside node[\"port\"] selectors",
				"output name %q %s", o, msg)
			continue
		}
		if seen[o] {
			p.errs.add(nil, ErrDuplicate, op, "remove the repeated name", "output %q is declared twice", o)
			continue
		}
		seen[o] = true
		n.Outputs = append(n.Outputs, o)
	}
	if len(n.Outputs) >= manyOutputs {
		n.outputSet = seen // holds exactly the outputs kept
	}
	if d := raw.DefaultOutput; d != "" {
		ports := n.Ports()
		if !slices.Contains(ports, d) {
			hint := "name one of the declared outputs: " + strings.Join(ports, ", ")
			if len(raw.Outputs) == 0 {
				hint = "declare the ports with outputs: [" + d + ", ...], or remove default_output"
			}
			p.errs.add(nil, ErrUnknownPort, path.Key("default_output"), hint,
				"default_output %q is not among the node's outputs", d)
		} else {
			n.DefaultOutput = d
		}
	}
}

// checkName returns why a node or port name is unusable, or "". Brackets
// and quotes would make `node["port"]` selectors ambiguous.
func checkName(s string) string {
	switch {
	case s == "":
		return "is empty"
	case strings.ContainsAny(s, "[]\"'"):
		return "contains a bracket or quote"
	case strings.TrimSpace(s) != s || strings.ContainsAny(s, "\t\n"):
		return "has surrounding or control whitespace"
	}
	return ""
}

// parseNodeType splits "KIND:NAME" or "urn:otel:KIND:NAME" and returns the
// normalised "KIND:NAME", or why it is malformed (msg) and possibly a
// did-you-mean for the kind (guess).
func parseNodeType(s string) (kind Kind, typ, msg, guess string) {
	parts := strings.Split(s, ":")
	if parts[0] == "urn" {
		if len(parts) != 4 {
			return 0, "", "a URN has four parts, urn:otel:KIND:NAME", ""
		}
		if parts[1] != "otel" {
			return 0, "", fmt.Sprintf("unknown URN namespace %q, want otel", parts[1]), ""
		}
		parts = parts[2:]
	}
	if len(parts) != 2 {
		return 0, "", "want exactly one ':' between KIND and NAME", ""
	}
	switch parts[0] {
	case "receiver":
		kind = KindReceiver
	case "processor":
		kind = KindProcessor
	case "exporter":
		kind = KindExporter
	default:
		return 0, "", fmt.Sprintf("unknown kind %q", parts[0]),
			suggest(parts[0], []string{"receiver", "processor", "exporter"})
	}
	name := parts[1]
	if name == "" {
		return 0, "", "the NAME is empty", ""
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-' || r == '.') {
			return 0, "", fmt.Sprintf("NAME %q may only use letters, digits, '_', '-' and '.'", name), ""
		}
	}
	return kind, parts[0] + ":" + name, "", ""
}

// rawConnection is a connection as written. From and To are read by hand:
// each is a name or a list of names.
type rawConnection struct {
	From     yaml.Node          `yaml:"from"`
	To       yaml.Node          `yaml:"to"`
	Policies *rawConnectionPols `yaml:"policies"`
}

// rawConnectionPols accepts the reference engine's connection policy.
type rawConnectionPols struct {
	Dispatch string `yaml:"dispatch"`
}

func (p *parser) connection(n *yaml.Node, path Path) *Connection {
	if v := resolve(n); v == nil || v.Kind != yaml.MappingNode {
		p.errs.add(v, ErrType, path, "write a connection as a mapping: - { from: a, to: b }",
			"got %s, want a connection", describeNodeOrNothing(v))
		return nil
	}
	var raw rawConnection
	p.decode(n, &raw, path)
	c := &Connection{Path: path}
	for _, ref := range p.names(&raw.From, n, path.Key("from"), "from", "name the upstream node: from: in, or a port: from: 'fan[\"primary\"]'") {
		node, port, ok := parsePortRef(ref.name)
		if !ok {
			p.errs.add(ref.at, ErrInvalidValue, ref.path,
				`select a port as node["port"] or node['port'], quoted in YAML: from: 'fan["primary"]'`,
				"malformed port selector %s", ref.name)
			continue
		}
		c.From = append(c.From, PortRef{Node: node, Port: port})
		c.fromPaths = append(c.fromPaths, ref.path)
	}
	for _, ref := range p.names(&raw.To, n, path.Key("to"), "to", "name the downstream node: to: out, or a list: to: [a, b]") {
		c.To = append(c.To, ref.name)
		c.toPaths = append(c.toPaths, ref.path)
	}
	if pol := raw.Policies; pol != nil {
		p.dispatch(pol.Dispatch, len(c.To), path.Key("policies").Key("dispatch"))
	}
	return c
}

// dispatch checks a connection's dispatch policy. Broadcast to several
// destinations is the fan-out processor's job; to one destination it
// means the same as one_of, as in the reference engine, and is accepted
// and reported.
func (p *parser) dispatch(d string, destinations int, path Path) {
	switch {
	case d == "" || d == "one_of":
	case d == "broadcast" && destinations <= 1:
		p.ignore(path, "not needed: with one destination, broadcast and one_of both send every message to it")
	case d == "broadcast":
		p.errs.add(nil, ErrInvalidValue, path,
			"send the data through a processor:fanout node, which copies it to each destination and tracks every ack",
			"dispatch broadcast is not supported")
	default:
		p.errs.add(nil, ErrInvalidValue, path,
			"use one_of (each message goes to one destination), or remove it",
			"unknown dispatch %q", d)
	}
}

func describeNodeOrNothing(n *yaml.Node) string {
	if n == nil || isNull(n) {
		return "nothing"
	}
	return describeNode(n)
}

// nameRef is one name read from `from` or `to`, with where it was written.
type nameRef struct {
	name string
	at   *yaml.Node
	path Path
}

// names reads a scalar or a list of scalars, reporting an empty value.
func (p *parser) names(v *yaml.Node, conn *yaml.Node, path Path, field, hint string) []nameRef {
	v = resolve(v)
	var out []nameRef
	switch {
	case v == nil || v.Kind == 0 || isNull(v):
	case v.Kind == yaml.ScalarNode:
		if v.Value != "" {
			out = append(out, nameRef{v.Value, v, path})
		}
	case v.Kind == yaml.SequenceNode:
		for i, item := range v.Content {
			item = resolve(item)
			ip := path.Index(i)
			if item == nil || item.Kind != yaml.ScalarNode || item.Value == "" {
				got := "an empty name"
				if item != nil && item.Kind != yaml.ScalarNode {
					got = describeNode(item)
				}
				p.errs.add(item, ErrType, ip, hint, "got %s, want a node name", got)
				continue
			}
			out = append(out, nameRef{item.Value, item, ip})
		}
	default:
		p.errs.add(v, ErrType, path, hint, "got %s, want a node name or a list of names", describeNode(v))
		return nil
	}
	if len(out) == 0 && (v == nil || v.Kind != yaml.SequenceNode || len(v.Content) == 0) {
		at := v
		if at == nil || at.Kind == 0 {
			at = conn
		}
		p.errs.add(at, ErrMissing, path, hint, "%s is empty", field)
	}
	return out
}

// parsePortRef splits `node`, `node["port"]` or `node['port']`.
func parsePortRef(s string) (node, port string, ok bool) {
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if strings.ContainsAny(s, "]\"'") {
			return "", "", false
		}
		return s, DefaultPort, true
	}
	node, sel := s[:open], s[open:]
	if node == "" || len(sel) < 5 || sel[len(sel)-1] != ']' {
		return "", "", false
	}
	quoted := sel[1 : len(sel)-1]
	q := quoted[0]
	if (q != '"' && q != '\'') || quoted[len(quoted)-1] != q {
		return "", "", false
	}
	port = quoted[1 : len(quoted)-1]
	if port == "" || strings.ContainsAny(port, "[]\"'") || strings.ContainsAny(node, "]\"'") {
		return "", "", false
	}
	return node, port, true
}
