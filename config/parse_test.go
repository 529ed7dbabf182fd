package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// pipe returns a complete document whose single pipeline (groups.g.pipelines.p)
// has the given nodes and connections blocks, each written at column 0 and
// indented here.
func pipe(nodes, conns string) string {
	var b strings.Builder
	b.WriteString("version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p:\n        nodes:\n")
	b.WriteString(indent(nodes, 10))
	if conns != "" {
		b.WriteString("        connections:\n")
		b.WriteString(indent(conns, 10))
	}
	return b.String()
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	var b strings.Builder
	for line := range strings.Lines(strings.TrimLeft(s, "\n")) {
		b.WriteString(pad + line)
	}
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteByte('\n')
	}
	return b.String()
}

// basicNodes is a valid receiver -> processor -> exporter chain.
const basicNodes = `
in: { type: receiver:otlp }
proc: { type: processor:batch }
out: { type: exporter:noop }
`

const basicConns = `
- { from: in, to: proc }
- { from: proc, to: out }
`

const nodes = "groups.g.pipelines.p.nodes."
const conns = "groups.g.pipelines.p.connections"

// errorCase is one expected configuration error: wantErr must appear in the
// error text (it names the path and the problem), hint must appear in the
// hint, and the error must wrap class.
type errorCase struct {
	name    string
	yaml    string
	wantErr string
	hint    string
	class   error
}

func TestParseErrors(t *testing.T) {
	tests := []errorCase{
		{
			name:    "version missing",
			yaml:    "groups: {}\n",
			wantErr: "version: version is missing",
			hint:    "version: otel_dataflow/v1",
			class:   ErrVersion,
		},
		{
			name:    "version wrong",
			yaml:    strings.Replace(pipe(basicNodes, basicConns), "otel_dataflow/v1", "otel_dataflow/v2", 1),
			wantErr: `version: unsupported version "otel_dataflow/v2"`,
			hint:    "version: otel_dataflow/v1",
			class:   ErrVersion,
		},
		{
			name:    "yaml syntax",
			yaml:    "version: otel_dataflow/v1\ngroups: [a\n",
			wantErr: "invalid YAML",
			hint:    "fix the YAML syntax",
			class:   ErrSyntax,
		},
		{
			name:    "empty document",
			yaml:    "# nothing\n",
			wantErr: "the document is empty",
			hint:    "version: otel_dataflow/v1",
			class:   ErrMissing,
		},
		{
			name:    "unknown top-level field",
			yaml:    pipe(basicNodes, basicConns) + "pipelines: {}\n",
			wantErr: `pipelines: unknown field "pipelines"`,
			hint:    "allowed fields: version, engine, policies, groups",
			class:   ErrUnknownField,
		},
		{
			name:    "unknown node field names the allowed ones",
			yaml:    pipe("in: { type: receiver:otlp, ouputs: [a] }\nout: { type: exporter:noop }", "- { from: in, to: out }"),
			wantErr: nodes + `in.ouputs: unknown field "ouputs"`,
			hint:    `did you mean "outputs"? allowed fields: type, description, outputs, default_output, config`,
			class:   ErrUnknownField,
		},
		{
			name:    "unknown policy field",
			yaml:    "policies:\n  channel_capacity: { pdata: 10, pdatas: 3 }\n" + pipe(basicNodes, basicConns),
			wantErr: `policies.channel_capacity.pdatas: unknown field "pdatas"`,
			hint:    "allowed fields: control, pdata",
			class:   ErrUnknownField,
		},
		{
			name:    "unknown connection field",
			yaml:    pipe(basicNodes, "- { from: in, to: proc, via: x }\n- { from: proc, to: out }"),
			wantErr: conns + `[0].via: unknown field "via"`,
			hint:    "allowed fields: from, to, policies",
			class:   ErrUnknownField,
		},
		{
			name:    "duplicate node name",
			yaml:    pipe(basicNodes+"out: { type: exporter:noop }\n", basicConns),
			wantErr: nodes + `out: key "out" is set twice (first at line 9)`,
			hint:    "remove one of them",
			class:   ErrDuplicate,
		},
		{
			name:    "no groups",
			yaml:    "version: otel_dataflow/v1\n",
			wantErr: "groups: no groups defined",
			hint:    "define at least one group",
			class:   ErrMissing,
		},
		{
			name:    "group without pipelines",
			yaml:    "version: otel_dataflow/v1\ngroups:\n  g: {}\n",
			wantErr: `groups.g.pipelines: group "g" has no pipelines`,
			hint:    "add a pipelines: block",
			class:   ErrMissing,
		},
		{
			name:    "pipeline without nodes",
			yaml:    "version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p: { connections: [] }\n",
			wantErr: `groups.g.pipelines.p.nodes: pipeline "p" has no nodes`,
			hint:    "add a nodes: block",
			class:   ErrMissing,
		},
		{
			name:    "node type missing",
			yaml:    pipe(basicNodes+"extra: { description: no type }\n", basicConns),
			wantErr: nodes + `extra.type: node "extra" has no type`,
			hint:    "add type: KIND:NAME",
			class:   ErrMissing,
		},
		{
			name:    "node type with unknown kind",
			yaml:    pipe(basicNodes+"extra: { type: connector:x }\n", basicConns),
			wantErr: nodes + `extra.type: malformed node type "connector:x": unknown kind "connector"`,
			hint:    "write KIND:NAME or urn:otel:KIND:NAME",
			class:   ErrInvalidValue,
		},
		{
			name:    "node type with a misspelled kind",
			yaml:    pipe(basicNodes+"extra: { type: recever:otlp }\n", basicConns),
			wantErr: nodes + `extra.type: malformed node type "recever:otlp": unknown kind "recever"`,
			hint:    `did you mean "receiver"? write KIND:NAME`,
			class:   ErrInvalidValue,
		},
		{
			name:    "node type without kind",
			yaml:    pipe(basicNodes+"extra: { type: batch }\n", basicConns),
			wantErr: nodes + `extra.type: malformed node type "batch"`,
			hint:    "where KIND is receiver, processor or exporter",
			class:   ErrInvalidValue,
		},
		{
			name:    "node type with foreign urn namespace",
			yaml:    pipe(basicNodes+"extra: { type: 'urn:acme:processor:x' }\n", basicConns),
			wantErr: nodes + `extra.type: malformed node type "urn:acme:processor:x": unknown URN namespace "acme"`,
			hint:    "urn:otel:KIND:NAME",
			class:   ErrInvalidValue,
		},
		{
			name:    "node is not a mapping",
			yaml:    pipe(basicNodes+"extra: exporter:noop\n", basicConns),
			wantErr: nodes + `extra: got "exporter:noop", want a node declaration`,
			hint:    "declare the node as a mapping",
			class:   ErrType,
		},
		{
			name:    "connection to unknown node",
			yaml:    pipe(basicNodes, "- { from: in, to: proc }\n- { from: proc, to: otu }"),
			wantErr: conns + `[1].to: no node named "otu" in this pipeline`,
			hint:    `did you mean "out"? name one of the pipeline's nodes: in, proc, out`,
			class:   ErrUnknownNode,
		},
		{
			name:    "connection from unknown node in a list",
			yaml:    pipe(basicNodes, "- { from: [in, nope], to: proc }\n- { from: proc, to: out }"),
			wantErr: conns + `[0].from[1]: no node named "nope"`,
			hint:    "name one of the pipeline's nodes",
			class:   ErrUnknownNode,
		},
		{
			name:    "from names an exporter",
			yaml:    pipe(basicNodes, basicConns+"- { from: out, to: proc }"),
			wantErr: conns + `[2].from: "out" is an exporter and sends nothing on`,
			hint:    "exporters are sinks",
			class:   ErrWiring,
		},
		{
			name:    "to names a receiver",
			yaml:    pipe(basicNodes, basicConns+"- { from: proc, to: [out, in] }"),
			wantErr: conns + `[2].to[1]: "in" is a receiver and takes no input`,
			hint:    "receivers are sources",
			class:   ErrWiring,
		},
		{
			name:    "port selector without quotes",
			yaml:    pipe(basicNodes, "- { from: in, to: proc }\n- { from: 'proc[default]', to: out }"),
			wantErr: conns + `[1].from: malformed port selector proc[default]`,
			hint:    `select a port as node["port"] or node['port']`,
			class:   ErrInvalidValue,
		},
		{
			name:    "port selector with mismatched quotes",
			yaml:    pipe(basicNodes, "- { from: in, to: proc }\n- { from: 'proc[\"default'']', to: out }"),
			wantErr: `malformed port selector`,
			hint:    `node["port"]`,
			class:   ErrInvalidValue,
		},
		{
			name:    "port selector in to",
			yaml:    pipe(basicNodes, "- { from: in, to: 'proc[\"x\"]' }\n- { from: proc, to: out }"),
			wantErr: conns + `[0].to: proc["x"] selects a port`,
			hint:    "write the node name alone, to: proc",
			class:   ErrWiring,
		},
		{
			name: "port not declared in outputs",
			yaml: pipe(`
in: { type: receiver:otlp }
fan: { type: processor:fanout, outputs: [primary, backup] }
out: { type: exporter:noop }`, `
- { from: in, to: fan }
- { from: 'fan["primray"]', to: out }`),
			wantErr: conns + `[1].from: node "fan" has no output port "primray"`,
			hint:    `did you mean "primary"? declared outputs: primary, backup`,
			class:   ErrUnknownPort,
		},
		{
			name:    "named port on a node without outputs",
			yaml:    pipe(basicNodes, "- { from: in, to: proc }\n- { from: 'proc[\"x\"]', to: out }"),
			wantErr: conns + `[1].from: node "proc" has no output port "x"`,
			hint:    `"proc" declares no outputs, so it has only its default port`,
			class:   ErrUnknownPort,
		},
		{
			name: "bare from on a node with outputs and no default_output",
			yaml: pipe(`
in: { type: receiver:otlp }
fan: { type: processor:fanout, outputs: [primary, backup] }
out: { type: exporter:noop }`, `
- { from: in, to: fan }
- { from: fan, to: out }`),
			wantErr: conns + `[1].from: node "fan" declares outputs but no default_output`,
			hint:    `select a port, e.g. from: 'fan["primary"]', or set default_output`,
			class:   ErrUnknownPort,
		},
		{
			name:    "default_output not among outputs",
			yaml:    pipe(basicNodes+"fan: { type: processor:fanout, outputs: [a, b], default_output: c }\n", basicConns),
			wantErr: nodes + `fan.default_output: default_output "c" is not among the node's outputs`,
			hint:    "name one of the declared outputs: a, b",
			class:   ErrUnknownPort,
		},
		{
			name:    "outputs on an exporter",
			yaml:    pipe("in: { type: receiver:otlp }\nout: { type: exporter:noop, outputs: [x] }", "- { from: in, to: out }"),
			wantErr: nodes + `out.outputs: exporter "out" cannot declare outputs`,
			hint:    "exporter is a sink",
			class:   ErrInvalidValue,
		},
		{
			name:    "duplicate output",
			yaml:    pipe(basicNodes+"fan: { type: processor:fanout, outputs: [a, b, a] }\n", basicConns),
			wantErr: nodes + `fan.outputs[2]: output "a" is declared twice`,
			hint:    "remove the repeated name",
			class:   ErrDuplicate,
		},
		{
			name:    "output name with a quote",
			yaml:    pipe(basicNodes+"fan: { type: processor:fanout, outputs: ['a\"b'] }\n", basicConns),
			wantErr: nodes + `fan.outputs[0]: output name "a\"b" contains a bracket or quote`,
			hint:    "rename the port",
			class:   ErrInvalidValue,
		},
		{
			name: "cycle",
			yaml: pipe(basicNodes+"proc2: { type: processor:batch }\n",
				basicConns+"- { from: proc, to: proc2 }\n- { from: proc2, to: proc }"),
			wantErr: conns + `[3]: connections form a cycle: proc -> proc2 -> proc`,
			hint:    "a pipeline must be acyclic",
			class:   ErrCycle,
		},
		{
			name:    "self loop",
			yaml:    pipe(basicNodes, basicConns+"- { from: proc, to: proc }"),
			wantErr: conns + `[2]: connections form a cycle: proc -> proc`,
			hint:    "remove one of these connections",
			class:   ErrCycle,
		},
		{
			name:    "zero pdata capacity",
			yaml:    "policies:\n  channel_capacity: { pdata: 0 }\n" + pipe(basicNodes, basicConns),
			wantErr: "policies.channel_capacity.pdata: capacity must be at least 1, got 0",
			hint:    "use a positive number",
			class:   ErrInvalidValue,
		},
		{
			name: "negative control capacity at pipeline level",
			yaml: strings.Replace(pipe(basicNodes, basicConns), "      p:\n",
				"      p:\n        policies: { channel_capacity: { control: { node: -4 } } }\n", 1),
			wantErr: "groups.g.pipelines.p.policies.channel_capacity.control.node: capacity must be at least 1, got -4",
			hint:    "use a positive number",
			class:   ErrInvalidValue,
		},
		{
			name:    "capacity of the wrong type",
			yaml:    "policies:\n  channel_capacity: { pdata: lots }\n" + pipe(basicNodes, basicConns),
			wantErr: `policies.channel_capacity.pdata: got "lots", want an integer`,
			hint:    "write a whole number",
			class:   ErrType,
		},
		{
			name:    "core_count with a negative count",
			yaml:    "policies:\n  resources: { core_allocation: { type: core_count, count: -1 } }\n" + pipe(basicNodes, basicConns),
			wantErr: "policies.resources.core_allocation.count: count must not be negative, got -1",
			hint:    "use 1 or more, or 0 for one per CPU",
			class:   ErrInvalidValue,
		},
		{
			name:    "core_set without a set",
			yaml:    "policies:\n  resources: { core_allocation: { type: core_set } }\n" + pipe(basicNodes, basicConns),
			wantErr: "policies.resources.core_allocation.set: core_set needs a non-empty set",
			hint:    "inclusive ranges of core ids",
			class:   ErrMissing,
		},
		{
			name:    "core_set with overlapping ranges",
			yaml:    "policies:\n  resources: { core_allocation: { type: core_set, set: [{start: 0, end: 3}, {start: 2, end: 5}] } }\n" + pipe(basicNodes, basicConns),
			wantErr: "policies.resources.core_allocation.set[1]: core range 2-5 overlaps range 0-3",
			hint:    "list each core once",
			class:   ErrInvalidValue,
		},
		{
			name:    "core_set with a reversed range",
			yaml:    "policies:\n  resources: { core_allocation: { type: core_set, set: [{start: 3, end: 1}] } }\n" + pipe(basicNodes, basicConns),
			wantErr: "policies.resources.core_allocation.set[0]: invalid core range 3-1",
			hint:    "start <= end",
			class:   ErrInvalidValue,
		},
		{
			name:    "strategy and type disagree",
			yaml:    "policies:\n  resources: { core_allocation: { type: all_cores, strategy: core_count, count: 2 } }\n" + pipe(basicNodes, basicConns),
			wantErr: `policies.resources.core_allocation.strategy: strategy "core_count" and type "all_cores" disagree`,
			hint:    "keep one of them",
			class:   ErrInvalidValue,
		},
		{
			name:    "set without core_set",
			yaml:    "policies:\n  resources: { core_allocation: { type: all_cores, set: [{start: 0, end: 1}] } }\n" + pipe(basicNodes, basicConns),
			wantErr: "policies.resources.core_allocation.set: set is only used with type core_set",
			hint:    "use type: core_set",
			class:   ErrInvalidValue,
		},
		{
			name:    "misspelt reference key at the pipeline level",
			yaml:    strings.Replace(pipe(basicNodes, basicConns), "      p:\n", "      p:\n        extension: {}\n", 1),
			wantErr: `groups.g.pipelines.p.extension: unknown field "extension"`,
			hint:    `did you mean "extensions"?`,
			class:   ErrUnknownField,
		},
		{
			name:    "misspelt reference key in the engine block",
			yaml:    "engine: { telemtry: {} }\n" + pipe(basicNodes, basicConns),
			wantErr: `engine.telemtry: unknown field "telemtry"`,
			hint:    `did you mean "telemetry"?`,
			class:   ErrUnknownField,
		},
		{
			name:    "core_count without count",
			yaml:    "policies:\n  resources: { core_allocation: { type: core_count } }\n" + pipe(basicNodes, basicConns),
			wantErr: "policies.resources.core_allocation.count: core_count needs a count",
			hint:    "add count: N",
			class:   ErrMissing,
		},
		{
			name:    "unknown core allocation type",
			yaml:    "policies:\n  resources: { core_allocation: { type: all_core } }\n" + pipe(basicNodes, basicConns),
			wantErr: `policies.resources.core_allocation.type: unknown core_allocation type "all_core"`,
			hint:    `did you mean "all_cores"?`,
			class:   ErrInvalidValue,
		},
		{
			name:    "unknown runtime_metrics level",
			yaml:    "policies:\n  telemetry: { runtime_metrics: verbose }\n" + pipe(basicNodes, basicConns),
			wantErr: `policies.telemetry.runtime_metrics: unknown runtime_metrics level "verbose"`,
			hint:    "use one of none, basic, normal, detailed",
			class:   ErrInvalidValue,
		},
		{
			name:    "empty to",
			yaml:    pipe(basicNodes, "- { from: in, to: [] }\n- { from: proc, to: out }"),
			wantErr: conns + "[0].to: to is empty",
			hint:    "name the downstream node",
			class:   ErrMissing,
		},
		{
			name:    "missing from",
			yaml:    pipe(basicNodes, "- { to: proc }\n- { from: proc, to: out }"),
			wantErr: conns + "[0].from: from is empty",
			hint:    "name the upstream node",
			class:   ErrMissing,
		},
		{
			name:    "connection is not a mapping",
			yaml:    pipe(basicNodes, "- in -> proc\n- { from: proc, to: out }"),
			wantErr: conns + `[0]: got "in -> proc", want a connection`,
			hint:    "- { from: a, to: b }",
			class:   ErrType,
		},
		{
			name: "broadcast dispatch",
			yaml: pipe("in: { type: receiver:otlp }\na: { type: processor:batch }\nb: { type: processor:batch }\nout: { type: exporter:noop }",
				"- { from: in, to: [a, b], policies: { dispatch: broadcast } }\n- { from: [a, b], to: out }"),
			wantErr: conns + "[0].policies.dispatch: dispatch broadcast is not supported",
			hint:    "processor:fanout",
			class:   ErrInvalidValue,
		},
		{
			name:    "pipeline without receiver",
			yaml:    pipe("proc: { type: processor:batch }\nout: { type: exporter:noop }", "- { from: proc, to: out }"),
			wantErr: `groups.g.pipelines.p.nodes: pipeline "p" has no receiver`,
			hint:    "add a receiver node",
			class:   ErrMissing,
		},
		{
			name:    "bind_address without port",
			yaml:    "engine: { http_admin: { bind_address: localhost } }\n" + pipe(basicNodes, basicConns),
			wantErr: `engine.http_admin.bind_address: bind_address "localhost" is not host:port`,
			hint:    "write host:port",
			class:   ErrInvalidValue,
		},
		{
			name:    "bind_address with a named port",
			yaml:    "engine: { http_admin: { bind_address: 'localhost:http' } }\n" + pipe(basicNodes, basicConns),
			wantErr: `engine.http_admin.bind_address: bind_address "localhost:http" is not host:port: port "http" is not a number`,
			hint:    "write host:port",
			class:   ErrInvalidValue,
		},
		{
			name:    "zero shutdown_timeout",
			yaml:    "engine: { shutdown_timeout: 0s }\n" + pipe(basicNodes, basicConns),
			wantErr: "engine.shutdown_timeout: shutdown_timeout must be greater than zero, got 0s",
			hint:    "positive deadline",
			class:   ErrInvalidValue,
		},
		{
			name:    "memory_limit too small",
			yaml:    "engine: { memory_limit: 1MiB }\n" + pipe(basicNodes, basicConns),
			wantErr: "engine.memory_limit: memory_limit must be at least 32MiB, got 1MiB",
			hint:    "such as 512MiB",
			class:   ErrInvalidValue,
		},
		{
			name:    "malformed shutdown_timeout",
			yaml:    "engine: { shutdown_timeout: 5 parsecs }\n" + pipe(basicNodes, basicConns),
			wantErr: `engine.shutdown_timeout: invalid duration "5 parsecs": unknown unit "parsecs"`,
			hint:    "use a Go duration such as 200ms, 5s or 1h30m",
			class:   ErrInvalidValue,
		},
		{
			name:    "group is a list",
			yaml:    "version: otel_dataflow/v1\ngroups:\n  g: [a, b]\n",
			wantErr: "groups.g: got a list, want a group",
			hint:    "write the group as a mapping",
			class:   ErrType,
		},
		{
			name:    "two documents in one file",
			yaml:    pipe(basicNodes, basicConns) + "---\nversion: otel_dataflow/v1\n",
			wantErr: "the file holds more than one YAML document",
			hint:    "remove the --- separator",
			class:   ErrSyntax,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse("test.yaml", []byte(tt.yaml))
			if d != nil {
				t.Errorf("Parse returned a document along with an error")
			}
			requireError(t, err, tt)
		})
	}
}

// requireError checks that err contains exactly one *Error matching tt, with
// file and line, and that its text carries the path, message and hint.
func requireError(t *testing.T, err error, tt errorCase) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", tt.wantErr)
	}
	var match *Error
	for _, e := range Errors(err) {
		if strings.Contains(e.Error(), tt.wantErr) {
			if match != nil {
				t.Fatalf("two errors match %q:\n%v", tt.wantErr, err)
			}
			match = e
		}
	}
	if match == nil {
		t.Fatalf("no error contains %q; got:\n%v", tt.wantErr, err)
	}
	if !strings.Contains(match.Hint, tt.hint) {
		t.Errorf("hint %q does not contain %q", match.Hint, tt.hint)
	}
	if match.Hint != "" && !strings.Contains(match.Error(), "(hint: "+match.Hint+")") {
		t.Errorf("error text %q does not show the hint", match.Error())
	}
	if !errors.Is(err, tt.class) || !errors.Is(match, tt.class) {
		t.Errorf("error does not wrap %v: %v", tt.class, match)
	}
	if match.File != "test.yaml" || match.Line == 0 {
		t.Errorf("error is not positioned: file %q line %d", match.File, match.Line)
	}
	prefix := fmt.Sprintf("test.yaml:%d:", match.Line)
	if !strings.HasPrefix(match.Error(), prefix) {
		t.Errorf("error text %q does not start with %q", match.Error(), prefix)
	}
}

func TestParseErrorPosition(t *testing.T) {
	src := pipe(basicNodes, "- { from: in, to: proc }\n- { from: proc, to: otu }")
	_, err := Parse("cfg.yaml", []byte(src))
	errs := Errors(err)
	if len(errs) != 1 {
		t.Fatalf("want 1 error, got %d: %v", len(errs), err)
	}
	e := errs[0]
	// Line 12 is "- { from: proc, to: otu }"; "otu" starts at column 31.
	if e.Line != 12 || e.Column != 31 {
		t.Errorf("position %d:%d, want 12:31 (%v)", e.Line, e.Column, e)
	}
	want := `cfg.yaml:12:31: groups.g.pipelines.p.connections[1].to: no node named "otu" in this pipeline (hint: did you mean "out"? name one of the pipeline's nodes: in, proc, out)`
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e.Error(), want)
	}
}

func TestParseNodeNameOnErrors(t *testing.T) {
	src := pipe(basicNodes+"fan: { type: processor:fanout, outputs: [a, a] }\n", basicConns)
	_, err := Parse("", []byte(src))
	errs := Errors(err)
	if len(errs) != 1 || errs[0].Node != "fan" {
		t.Fatalf("want one error on node fan, got %v", err)
	}
	if !strings.HasPrefix(errs[0].Error(), "<config>:") {
		t.Errorf("unnamed file should print as <config>: %v", errs[0])
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, p *Pipeline)
	}{
		{
			name: "unconnected node is not an error",
			yaml: pipe(basicNodes+"spare: { type: exporter:noop }\n", basicConns),
			check: func(t *testing.T, p *Pipeline) {
				if p.Node("spare") == nil {
					t.Error("spare node missing")
				}
			},
		},
		{
			name: "urn type is normalised",
			yaml: pipe("in: { type: 'urn:otel:receiver:otlp' }\nout: { type: exporter:noop }", "- { from: in, to: out }"),
			check: func(t *testing.T, p *Pipeline) {
				if n := p.Node("in"); n.Type != "receiver:otlp" || n.Kind != KindReceiver {
					t.Errorf("got type %q kind %v", n.Type, n.Kind)
				}
			},
		},
		{
			name: "single-quoted selector, default_output, fan-in and competing destinations",
			yaml: pipe(`
in: { type: receiver:otlp }
in2: { type: receiver:otlp }
r: { type: processor:router, outputs: [a, b], default_output: b, description: routes }
x: { type: exporter:noop }
y: { type: exporter:noop }`, `
- { from: [in, in2], to: r }
- { from: "r['a']", to: [x, y] }
- { from: r, to: y }`),
			check: func(t *testing.T, p *Pipeline) {
				c := p.Connections
				if got := c[0].From; len(got) != 2 || got[1] != (PortRef{"in2", DefaultPort}) {
					t.Errorf("fan-in from = %v", got)
				}
				if got := c[1].From[0]; got != (PortRef{"r", "a"}) {
					t.Errorf("selector = %+v", got)
				}
				if got := c[1].To; len(got) != 2 || got[0] != "x" || got[1] != "y" {
					t.Errorf("to = %v", got)
				}
				r := p.Node("r")
				if port, ok := r.ResolvePort(c[2].From[0].Port); !ok || port != "b" {
					t.Errorf("bare from resolves to %q, %v; want the default_output b", port, ok)
				}
				if r.Description != "routes" || r.DefaultOutput != "b" {
					t.Errorf("node = %+v", r)
				}
			},
		},
		{
			name: "null config is nil, dispatch one_of is accepted",
			yaml: pipe("in: { type: receiver:otlp, config: ~ }\nout: { type: exporter:noop, config: {} }",
				"- { from: in, to: out, policies: { dispatch: one_of } }"),
			check: func(t *testing.T, p *Pipeline) {
				if p.Node("in").Config != nil {
					t.Error("config: ~ should leave Config nil")
				}
				if p.Node("out").Config == nil {
					t.Error("config: {} should be kept")
				}
			},
		},
		{
			name: "anchors and merge keys",
			yaml: "version: otel_dataflow/v1\n" +
				"groups:\n  g:\n    pipelines:\n      p:\n        nodes:\n" +
				"          a: &recv { type: receiver:otlp, description: shared }\n" +
				"          b: { <<: *recv, type: exporter:noop }\n" +
				"        connections: [{ from: a, to: b }]\n",
			check: func(t *testing.T, p *Pipeline) {
				b := p.Node("b")
				if b.Kind != KindExporter || b.Description != "shared" {
					t.Errorf("merged node = %+v", b)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse("ok.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			tt.check(t, d.Groups[0].Pipelines[0])
		})
	}
}

func TestParseDesignExample(t *testing.T) {
	data, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse("design.yaml", data)
	if err != nil {
		t.Fatalf("testdata/design.yaml (the design example) does not parse:\n%v", err)
	}
	if d.Version != Version || d.File != "design.yaml" {
		t.Errorf("version %q file %q", d.Version, d.File)
	}
	if d.Engine.HTTPAdmin.BindAddress != "127.0.0.1:8080" || d.Engine.ShutdownTimeout != DefaultShutdownTimeout || d.Engine.MemoryLimit != 0 {
		t.Errorf("engine = %+v", d.Engine)
	}
	if cc := d.Policies.ChannelCapacity; cc == nil || cc.PData != 128 || cc.Control.Node != 256 {
		t.Errorf("top-level channel_capacity = %+v", cc)
	}
	if len(d.Groups) != 1 || d.Groups[0].Name != "default" || len(d.Groups[0].Pipelines) != 1 {
		t.Fatalf("groups = %+v", d.Groups)
	}
	p := d.Groups[0].Pipelines[0]
	if p.Group != "default" || p.Name != "main" {
		t.Errorf("pipeline %s/%s", p.Group, p.Name)
	}
	var got []string
	for _, n := range p.Nodes {
		got = append(got, n.Name+"="+n.Type+"/"+n.Kind.String())
	}
	want := "in=receiver:otlp/receiver fan=processor:fanout/processor out_a=exporter:otlp_grpc/exporter out_b=exporter:otlp_grpc/exporter"
	if strings.Join(got, " ") != want {
		t.Errorf("nodes in order:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	fan := p.Node("fan")
	if strings.Join(fan.Outputs, ",") != "primary,backup" || fan.Config == nil {
		t.Errorf("fan = %+v", fan)
	}
	if fan.Path.String() != "groups.default.pipelines.main.nodes.fan" {
		t.Errorf("fan path = %s", fan.Path)
	}
	var wiring []string
	for _, c := range p.Connections {
		wiring = append(wiring, fmt.Sprintf("%v->%v", c.From, c.To))
	}
	wantWiring := `[in]->[fan] [fan["primary"]]->[out_a] [fan["backup"]]->[out_b]`
	if strings.Join(wiring, " ") != wantWiring {
		t.Errorf("connections:\n got %s\nwant %s", strings.Join(wiring, " "), wantWiring)
	}
	if p.Connections[2].Path.String() != "groups.default.pipelines.main.connections[2]" {
		t.Errorf("connection path = %s", p.Connections[2].Path)
	}

	// The node configs are intact for their validators.
	if _, err := Load("design.yaml", data, fakeTypes()); err != nil {
		t.Fatalf("Load of testdata/design.yaml:\n%v", err)
	}
}

func TestParseCollectsAllErrors(t *testing.T) {
	src := `version: otel_dataflow/v1
engine: { shutdown_timeout: -1s, http_admin: { bind_address: nowhere } }
policies:
  channel_capacity: { pdata: 0 }
  telemetry: { runtime_metrics: loud }
groups:
  g:
    pipelines:
      p:
        nodes:
          in: { type: receiver:otlp }
          fan: { type: processor:fanout, outputs: [a, b], default_output: c }
          out: { type: exporter:noop, colour: red }
        connections:
          - { from: in, to: fan }
          - { from: 'fan["z"]', to: out }
          - { from: out, to: ghost }
`
	_, err := Parse("multi.yaml", []byte(src))
	errs := Errors(err)
	want := []string{
		"multi.yaml:2:29: engine.shutdown_timeout: shutdown_timeout must be greater than zero",
		`multi.yaml:2:62: engine.http_admin.bind_address: bind_address "nowhere" is not host:port`,
		"multi.yaml:4:30: policies.channel_capacity.pdata: capacity must be at least 1",
		`multi.yaml:5:33: policies.telemetry.runtime_metrics: unknown runtime_metrics level "loud"`,
		`multi.yaml:12:75: groups.g.pipelines.p.nodes.fan.default_output: default_output "c"`,
		`multi.yaml:13:39: groups.g.pipelines.p.nodes.out.colour: unknown field "colour"`,
		`multi.yaml:16:21: groups.g.pipelines.p.connections[1].from: node "fan" has no output port "z"`,
		`multi.yaml:17:21: groups.g.pipelines.p.connections[2].from: "out" is an exporter`,
		`multi.yaml:17:30: groups.g.pipelines.p.connections[2].to: no node named "ghost"`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, errs[i], w)
		}
	}
	// The joined error prints one problem per line, in document order.
	if lines := strings.Split(err.Error(), "\n"); len(lines) != len(want) {
		t.Errorf("joined error has %d lines, want %d", len(lines), len(want))
	}
}

// TestParseNoCascade checks that one mistake gives one error, not a trail of
// consequences.
func TestParseNoCascade(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"groups is a list", "version: otel_dataflow/v1\ngroups: [a]\n"},
		{"pipeline is a scalar", "version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p: nothing\n"},
		{"nodes is a list", "version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p:\n        nodes: [a]\n"},
		{"malformed type does not trigger kind checks", pipe("in: { type: recever:otlp }\nout: { type: exporter:noop }", "- { from: in, to: out }")},
		{"wrong-typed outputs are not half-used", pipe(basicNodes+"fan: { type: processor:fanout, outputs: primary }\n", basicConns)},
		{"wrong-typed capacity is not also zero", "policies: { channel_capacity: { pdata: many } }\n" + pipe(basicNodes, basicConns)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if n := len(Errors(err)); n != 1 {
				t.Errorf("got %d errors, want 1:\n%v", n, err)
			}
		})
	}
}

func TestEngineMemoryLimit(t *testing.T) {
	d, err := Parse("m.yaml", []byte("engine: { memory_limit: 256MiB }\n"+pipe(basicNodes, basicConns)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Engine.MemoryLimit != 256<<20 {
		t.Fatalf("memory_limit = %d, want 256 MiB", d.Engine.MemoryLimit)
	}
}
