package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// mergeBomb returns a document whose group g<levels> merges the one before
// it nine times, level after level: 9^levels keys once expanded, in a file
// of about a kilobyte.
func mergeBomb(levels int) string {
	var b strings.Builder
	b.WriteString("version: otel_dataflow/v1\ngroups:\n  g0: &m0 { a: 1 }\n")
	for i := 1; i <= levels; i++ {
		ref := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "  g%d: &m%d { <<: [%s] }\n", i, i, ref)
	}
	return b.String()
}

// aliasBomb returns the "billion laughs": lists of nine aliases to the list
// before, under the top-level key where.
func aliasBomb(where string, levels int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n  l0: &l0 [lol]\n", where)
	for i := 1; i <= levels; i++ {
		ref := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, ref)
	}
	return b.String()
}

func TestParseAliasErrors(t *testing.T) {
	tests := []errorCase{
		{
			name: "merge of the mapping that holds it",
			yaml: "version: otel_dataflow/v1\ngroups:\n  g: &self\n    <<: *self\n" +
				"    pipelines: { p: { nodes: { in: { type: receiver:otlp }, out: { type: exporter:noop } }, connections: [{ from: in, to: out }] } }\n",
			wantErr: "test.yaml:4:9: groups.g.<<: alias *self refers to a value that contains it (anchor &self at line 3), which would repeat forever",
			hint:    "<<: *base",
			class:   ErrAlias,
		},
		{
			name:    "alias inside its own list",
			yaml:    "version: otel_dataflow/v1\nx: &l [a, *l]\n",
			wantErr: "test.yaml:2:11: x[1]: alias *l refers to a value that contains it (anchor &l at line 2)",
			hint:    "an alias can only repeat a value that does not contain it",
			class:   ErrAlias,
		},
		{
			name:    "cycle through a nested mapping",
			yaml:    "version: otel_dataflow/v1\nx: &outer\n  y: { z: [*outer] }\n",
			wantErr: "test.yaml:3:12: x.y.z[0]: alias *outer refers to a value that contains it (anchor &outer at line 2)",
			hint:    "move the shared keys into a mapping of their own",
			class:   ErrAlias,
		},
		{
			name: "cycle inside a node's config block",
			yaml: pipe("in: { type: receiver:otlp, config: &c { protocols: { grpc: *c } } }\nout: { type: exporter:noop }",
				"- { from: in, to: out }"),
			wantErr: nodes + "in.config.protocols.grpc: alias *c refers to a value that contains it",
			hint:    "an alias can only repeat a value that does not contain it",
			class:   ErrAlias,
		},
		{
			name:    "merge keys nested nine levels",
			yaml:    mergeBomb(9),
			wantErr: "test.yaml:9:33: groups.g6.<<[3]: alias *m5 stands for 199290 values, and with it aliases would add more than 1000000 values to the document, the limit",
			hint:    "aliases nested in aliases multiply",
			class:   ErrAlias,
		},
		{
			name:    "billion laughs",
			yaml:    "version: otel_dataflow/v1\n" + aliasBomb("x", 9),
			wantErr: "test.yaml:9:42: x.l6[6]: alias *l5 stands for 125479 values",
			hint:    "write the repeated parts out, or refer to each anchor from fewer places",
			class:   ErrAlias,
		},
		{
			name: "billion laughs in a node's config",
			// The lists up to l5 add 141111 values; each *l5 adds 125478.
			yaml: aliasBomb("lols", 5) +
				pipe("in: { type: receiver:otlp, config: { x: [*l5, *l5, *l5, *l5, *l5, *l5, *l5] } }\nout: { type: exporter:noop }", "- { from: in, to: out }"),
			wantErr: nodes + "in.config.x[6]: alias *l5 stands for 125479 values",
			hint:    "aliases nested in aliases multiply",
			class:   ErrAlias,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Load("test.yaml", []byte(tt.yaml), fakeTypes())
			if d != nil {
				t.Error("Load returned a document along with an error")
			}
			requireError(t, err, tt)
			// Nothing else is checked in such a document: every other
			// check would have to follow the aliases.
			if n := len(Errors(err)); n != 1 {
				t.Errorf("got %d errors, want only the alias one:\n%v", n, err)
			}
		})
	}
}

// Aliases and merge keys within the limit are expanded as YAML says.
func TestParseAcceptsBoundedAliases(t *testing.T) {
	src := pipe("in: &in\n  type: receiver:otlp\n  description: shared\n  config:\n"+
		indent(aliasBomb("lols", 2)+"x: [*l2, *l2]\n", 4)+ // 2 × 172 values
		"out: { <<: *in, type: exporter:noop, config: {} }\n", "- { from: in, to: out }")
	d, err := Parse("ok.yaml", []byte(src))
	if err != nil {
		t.Fatalf("bounded aliases refused:\n%v", err)
	}
	out := d.Groups[0].Pipelines[0].Node("out")
	if out.Kind != KindExporter || out.Description != "shared" {
		t.Errorf("merged node = %+v", out)
	}
	var cfg struct {
		Lols any            `yaml:"lols"`
		X    [][][][]string `yaml:"x"`
	}
	if err := DecodeStrict(d.Groups[0].Pipelines[0].Node("in").Config, &cfg, Path{}); err != nil {
		t.Fatal(err)
	}
	if len(cfg.X) != 2 || len(cfg.X[1]) != 9 || cfg.X[1][8][8][0] != "lol" {
		t.Errorf("x was not expanded: %v", cfg.X)
	}
}

func TestParseDuplicateKeys(t *testing.T) {
	tests := []errorCase{
		{
			name:    "a connection's to given twice",
			yaml:    pipe("a: { type: receiver:otlp }\nb: { type: exporter:noop }\nc: { type: exporter:noop }", "- { from: a, to: b, to: c }\n- { from: a, to: c }"),
			wantErr: conns + `[0].to: key "to" is set twice (first at line 11)`,
			hint:    "remove one of them",
			class:   ErrDuplicate,
		},
		{
			name:    "a connection's from given twice, block style",
			yaml:    pipe(basicNodes, "- from: in\n  to: proc\n  from: in\n- { from: proc, to: out }"),
			wantErr: conns + `[0].from: key "from" is set twice (first at line 11)`,
			hint:    "remove one of them",
			class:   ErrDuplicate,
		},
		{
			name:    "a node's type given twice",
			yaml:    pipe("in: { type: receiver:otlp, type: exporter:noop }\nproc: { type: processor:batch }\nout: { type: exporter:noop }", basicConns),
			wantErr: nodes + `in.type: key "type" is set twice (first at line 7)`,
			hint:    "remove one of them",
			class:   ErrDuplicate,
		},
		{
			name:    "a key inside a node's config",
			yaml:    pipe("in: { type: receiver:otlp, config: { protocols: {}, protocols: {} } }\nproc: { type: processor:batch }\nout: { type: exporter:noop }", basicConns),
			wantErr: nodes + `in.config.protocols: key "protocols" is set twice (first at line 7)`,
			hint:    "remove one of them",
			class:   ErrDuplicate,
		},
		{
			name:    "a node given twice",
			yaml:    pipe(basicNodes+"out: { type: exporter:noop }\n", basicConns),
			wantErr: nodes + `out: key "out" is set twice (first at line 9)`,
			hint:    "remove one of them",
			class:   ErrDuplicate,
		},
		{
			name:    "two merge keys",
			yaml:    pipe("in: &in { type: receiver:otlp }\nout: &out { type: exporter:noop }\nlast: { <<: *out, <<: *in }", "- { from: in, to: out }"),
			wantErr: nodes + `last.<<: key "<<" is set twice (first at line 9)`,
			hint:    "merge several mappings with one key: <<: [*a, *b]",
			class:   ErrDuplicate,
		},
		{
			name:    "a top-level key",
			yaml:    "version: otel_dataflow/v1\n" + pipe(basicNodes, basicConns),
			wantErr: `version: key "version" is set twice (first at line 1)`,
			hint:    "remove one of them",
			class:   ErrDuplicate,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("test.yaml", []byte(tt.yaml), fakeTypes())
			requireError(t, err, tt)
			// The first value wins and the document is otherwise valid:
			// the duplicate is the only error, not the first of a trail.
			if n := len(Errors(err)); n != 1 {
				t.Errorf("got %d errors, want 1:\n%v", n, err)
			}
		})
	}
}

func TestParseRefusesALargeFile(t *testing.T) {
	data := []byte(pipe(basicNodes, basicConns))
	data = append(data, strings.Repeat("# padding\n", MaxFileSize/10)...)
	_, err := Parse("big.yaml", data)
	errs := Errors(err)
	if len(errs) != 1 || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want one ErrTooLarge, got %v", err)
	}
	want := fmt.Sprintf("big.yaml: the file is %d bytes, over the limit of 16777216 bytes (16MiB) (hint: ", len(data))
	if !strings.HasPrefix(errs[0].Error(), want) {
		t.Errorf("got  %s\nwant %s...", errs[0], want)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(small, []byte("version: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(small); err != nil || string(b) != "version: x\n" {
		t.Errorf("ReadFile(small) = %q, %v", b, err)
	}

	// A sparse file: refused from its size, without being read.
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadFile(big)
	want := big + ": the file is 52428800 bytes, over the limit of 16777216 bytes (16MiB)"
	if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("ReadFile(big) = %v, want %s...", err, want)
	}

	if _, err := ReadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want ErrNotExist", err)
	}
}

func TestDecodeStrictRefusesAliasCycles(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("config: &c { await_ack: all, extra: *c }\n"), &doc); err != nil {
		t.Fatal(err)
	}
	raw := child(resolve(&doc), segment{key: "config"})
	var cfg strictConfig
	err := DecodeStrict(raw, &cfg, Path{}.Key("config"))
	if !errors.Is(err, ErrAlias) || !strings.Contains(err.Error(), "config.extra: alias *c refers to a value that contains it") {
		t.Fatalf("DecodeStrict = %v, want an ErrAlias at config.extra", err)
	}
	if cfg.AwaitAck != "" {
		t.Errorf("decoded %q despite the error", cfg.AwaitAck)
	}
}

// A long cycle is named by its ends, so that the message stays readable
// (and the search linear) however long it is.
func TestParseLongCycle(t *testing.T) {
	var nodesYAML, connsYAML strings.Builder
	nodesYAML.WriteString("in: { type: receiver:otlp }\n")
	connsYAML.WriteString("- { from: in, to: p0 }\n")
	const n = 30
	for i := range n {
		fmt.Fprintf(&nodesYAML, "p%d: { type: processor:batch }\n", i)
		fmt.Fprintf(&connsYAML, "- { from: p%d, to: p%d }\n", i, (i+1)%n)
	}
	_, err := Parse("c.yaml", []byte(pipe(nodesYAML.String(), connsYAML.String())))
	errs := Errors(err)
	want := "connections form a cycle: p0 -> p1 -> p2 -> p3 -> p4 -> p5 -> p6 -> p7 -> p8 -> p9 -> ... (10 more) -> p20 -> p21 -> p22 -> p23 -> p24 -> p25 -> p26 -> p27 -> p28 -> p29 -> p0"
	if len(errs) != 1 || !errors.Is(err, ErrCycle) || !strings.Contains(errs[0].Msg, want) {
		t.Fatalf("want one cycle error %q, got:\n%v", want, err)
	}
}

// Nodes of a parsed pipeline are found by name through its index, and the
// errors of many nodes are positioned through the index of the mapping.
func TestLargePipelineIndexes(t *testing.T) {
	var b strings.Builder
	b.WriteString("in: { type: receiver:otlp }\n")
	for i := range 100 {
		fmt.Fprintf(&b, "n%d: { type: exporter:nope }\n", i)
	}
	src := pipe(b.String(), "- { from: in, to: n0 }")
	d, err := Parse("big.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p := d.Groups[0].Pipelines[0]
	if p.byName == nil || p.Node("n42") != p.Nodes[43] || p.Node("n100") != nil {
		t.Errorf("Node lookups through the index went wrong")
	}
	errs := Errors(d.Validate(fakeTypes()))
	if len(errs) != 100 {
		t.Fatalf("want 100 unknown-type errors, got %d", len(errs))
	}
	for i, e := range errs {
		if e.Line != 8+i || e.Column == 0 {
			t.Fatalf("error %d at %d:%d, want line %d: %v", i, e.Line, e.Column, 8+i, e)
		}
	}
}

// A node with many outputs resolves its ports through an index.
func TestManyOutputs(t *testing.T) {
	ports := make([]string, 40)
	for i := range ports {
		ports[i] = fmt.Sprintf("o%d", i)
	}
	src := pipe(fmt.Sprintf("in: { type: receiver:otlp, outputs: [%s] }\nout: { type: exporter:noop }", strings.Join(ports, ", ")),
		"- { from: 'in[\"o39\"]', to: out }")
	d, err := Parse("o.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	n := d.Groups[0].Pipelines[0].Node("in")
	if _, ok := n.ResolvePort("o39"); !ok || n.outputSet == nil {
		t.Errorf("o39 not resolved through the index")
	}
	if _, ok := n.ResolvePort("o40"); ok {
		t.Errorf("o40 resolved")
	}
}
