package config

import (
	"fmt"
	"os"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Version is the only document version ackflow reads: the reference
// engine's, so that one file runs on either engine.
const Version = "otel_dataflow/v1"

// DefaultPort is the output port that `from: node` (no selector) uses.
const DefaultPort = "default"

// Document is a parsed configuration file. Parse and Load return it only
// when it is free of errors; the engine treats it as read-only.
type Document struct {
	File     string   // file name used in error messages ("" prints as "<config>")
	Version  string   // always Version once parsed
	Engine   Engine   // engine-wide settings, defaults filled in
	Policies Policies // top-level policies: the outermost level of resolution
	Groups   []*Group // in document order

	// root is the parsed YAML, kept so that errors reported later (by node
	// validators) can be positioned from their path.
	root *yaml.Node
	// ignored are the keys accepted without effect that Parse found,
	// nodeIgnored those of the nodes' config blocks that Validate found
	// (replaced at each Validate). See Ignored.
	ignored, nodeIgnored []IgnoredKey
}

// Engine holds engine-wide settings (`engine:`).
type Engine struct {
	HTTPAdmin       HTTPAdmin // `http_admin`
	ShutdownTimeout Duration  // `shutdown_timeout`: drain deadline, default DefaultShutdownTimeout
	// MemoryLimit is `memory_limit`: the process's soft memory limit, its
	// resident memory as a container counts it. The Go runtime's limit
	// (GOMEMLIMIT) is set to it less the binary's resident pages, and
	// receivers heed that to refuse new requests before the heap outgrows
	// it; 0, the default, sets none (a GOMEMLIMIT in the environment
	// still applies, as the runtime's limit).
	MemoryLimit Size
}

// HTTPAdmin configures the admin HTTP server (`engine.http_admin`).
type HTTPAdmin struct {
	// BindAddress is `bind_address`, default DefaultBindAddress. An
	// address that is not loopback needs AuthToken or AuthTokenFile.
	BindAddress string
	// AuthToken is `auth_token`: when set, every endpoint but /livez and
	// /readyz needs the header "Authorization: Bearer TOKEN".
	AuthToken string
	// AuthTokenFile is `auth_token_file`: a file holding the token (its
	// surrounding white space ignored), read at start-up; exclusive with
	// AuthToken. See Token.
	AuthTokenFile string
	// PProf is `pprof`: serve Go's profiler under /debug/pprof/ (off by
	// default: a profile can reveal data and costs CPU).
	PProf bool
	// TLS is `tls`: serve HTTPS with this certificate; nil serves HTTP.
	TLS *AdminTLS
}

// AdminTLS is the admin server's certificate (`engine.http_admin.tls`).
type AdminTLS struct {
	CertFile string // `cert_file`: PEM certificate chain
	KeyFile  string // `key_file`: PEM private key of CertFile
}

// Protected reports whether the admin API asks for a token.
func (h HTTPAdmin) Protected() bool { return h.AuthToken != "" || h.AuthTokenFile != "" }

// Group is a named set of pipelines sharing group-level policies.
type Group struct {
	Name      string
	Policies  Policies    // group level: between the pipeline's and the top level
	Pipelines []*Pipeline // in document order
}

// Pipeline is one dataflow graph: nodes joined by connections.
type Pipeline struct {
	Group       string        // name of the enclosing group
	Name        string        // unique within its group
	Policies    Policies      // pipeline level: the innermost level of resolution
	Nodes       []*Node       // in document order
	Connections []*Connection // in document order

	// byName indexes Nodes on a parsed pipeline (nil on one built by hand),
	// so that wiring a pipeline of n nodes takes O(n) lookups, not O(n²).
	byName map[string]*Node
}

// Node returns the node called name, or nil. On a pipeline from Parse it is
// a map lookup; on one built by hand (or whose Nodes changed) a scan.
func (p *Pipeline) Node(name string) *Node {
	if p.byName != nil && len(p.byName) == len(p.Nodes) {
		return p.byName[name]
	}
	for _, n := range p.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// index builds byName once the nodes are read. Parse reports duplicate
// names, so each name is there once.
func (p *Pipeline) index() {
	p.byName = make(map[string]*Node, len(p.Nodes))
	for _, n := range p.Nodes {
		p.byName[n.Name] = n
	}
}

// Kind is what a node does in the graph, taken from its type.
type Kind uint8

// Node kinds. The zero Kind is invalid: a node whose type could not be
// parsed has no kind.
const (
	KindReceiver  Kind = iota + 1 // source: has outputs, no inputs
	KindProcessor                 // middle: inputs and outputs
	KindExporter                  // sink: inputs, no outputs
)

// String returns "receiver", "processor" or "exporter" (the spelling used in
// node types), or "unknown".
func (k Kind) String() string {
	switch k {
	case KindReceiver:
		return "receiver"
	case KindProcessor:
		return "processor"
	case KindExporter:
		return "exporter"
	default:
		return "unknown"
	}
}

// Node is one declared node of a pipeline.
type Node struct {
	Name          string
	Kind          Kind       // from the type
	Type          string     // normalised "KIND:NAME", e.g. "processor:fanout"
	Description   string     // free text, for humans
	Outputs       []string   // declared output ports; empty means the single port "default"
	DefaultOutput string     // port that `from: node` selects when Outputs is set; may be ""
	Config        *yaml.Node // the raw `config` block for the node's own validator; nil if absent or null
	Path          Path       // groups.G.pipelines.P.nodes.NAME

	// outputSet indexes Outputs when there are many (set by Parse), so that
	// resolving the ports of many connections stays linear.
	outputSet map[string]bool
	// ignored collects the keys of the config block accepted without
	// effect, only while Document.Validate runs the node's validator; nil
	// otherwise (see record).
	ignored *[]IgnoredKey
}

// manyOutputs is the number of outputs from which a parsed node indexes
// them.
const manyOutputs = 16

// Ports returns the node's output ports: Outputs if declared, else
// ["default"]. Exporters have none.
func (n *Node) Ports() []string {
	switch {
	case n.Kind == KindExporter:
		return nil
	case len(n.Outputs) > 0:
		return slices.Clone(n.Outputs)
	default:
		return []string{DefaultPort}
	}
}

// ResolvePort maps a port used in a connection to the output it means, and
// reports whether the node has it. "default" means DefaultOutput when that is
// set; otherwise a port must be declared in Outputs, or be "default" on a
// node that declares none.
func (n *Node) ResolvePort(port string) (string, bool) {
	if n.Kind == KindExporter {
		return "", false
	}
	if len(n.Outputs) == 0 {
		return port, port == DefaultPort
	}
	if port == DefaultPort && n.DefaultOutput != "" {
		return n.DefaultOutput, true
	}
	if n.outputSet != nil && len(n.outputSet) == len(n.Outputs) {
		return port, n.outputSet[port]
	}
	return port, slices.Contains(n.Outputs, port)
}

// Connection joins output ports to nodes. Several From entries are a fan-in;
// several To entries compete for the messages (each message goes to one of
// them). Copying data to several destinations is the fan-out processor's job.
type Connection struct {
	From []PortRef // sources, at least one
	To   []string  // destination node names, at least one
	Path Path      // groups.G.pipelines.P.connections[i]

	// fromPaths and toPaths locate each entry (from, or from[j] in a list),
	// so that an error names the entry and not just the connection.
	fromPaths, toPaths []Path
}

func (c *Connection) fromPath(i int) Path {
	if i < len(c.fromPaths) {
		return c.fromPaths[i]
	}
	return c.Path.Key("from")
}

func (c *Connection) toPath(i int) Path {
	if i < len(c.toPaths) {
		return c.toPaths[i]
	}
	return c.Path.Key("to")
}

// PortRef names one output port of a node: `node` or `node["port"]`.
type PortRef struct {
	Node string
	Port string // DefaultPort when the selector is omitted
}

// String renders the reference as written in YAML: node or node["port"].
func (r PortRef) String() string {
	if r.Port == DefaultPort {
		return r.Node
	}
	return r.Node + `["` + r.Port + `"]`
}

// Token returns the admin API's token: AuthToken, or the content of
// AuthTokenFile without its surrounding white space; "" when neither is
// set. An unreadable or empty file is an error naming the key.
func (h HTTPAdmin) Token() (string, error) {
	if h.AuthTokenFile == "" {
		return h.AuthToken, nil
	}
	b, err := os.ReadFile(h.AuthTokenFile)
	if err != nil {
		return "", fmt.Errorf("engine.http_admin.auth_token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("engine.http_admin.auth_token_file: %s is empty: write a long random secret into it, such as the output of: openssl rand -hex 32", h.AuthTokenFile)
	}
	return tok, nil
}
