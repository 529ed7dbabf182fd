package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/guarantee"
)

// update rewrites the golden files: go test ./cmd/ackflow -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files of testdata/guarantees")

const guaranteeData = "testdata/guarantees"

// testRegistry is the binary's registry plus processor:mystery, a type
// that declares no guarantee.
func testRegistry(t *testing.T) *engine.Registry {
	t.Helper()
	fs := registry().Factories()
	fs = append(fs, engine.Factory{
		Type: "processor:mystery", Description: "test only: declares no guarantee",
		NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return nil, errors.New("test only") },
	})
	reg, err := engine.NewRegistry(fs...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// renderAll is what the golden file of a configuration holds: the text
// report, the Mermaid graph and the DOT graph.
func renderAll(t *testing.T, rep *guarantee.Report, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("== ackflow validate ==\n")
	if err := writeReport(&b, rep, "text"); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n== ackflow graph --format mermaid ==\n")
	if err := writeGraph(&b, rep, name, "mermaid"); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n== ackflow graph --format dot ==\n")
	if err := writeGraph(&b, rep, name, "dot"); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept, then review the diff):\n%s", path, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first line that differs.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(same lines)"
}

// configs lists the golden configurations.
func configs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(guaranteeData, "*.yaml"))
	if err != nil || len(files) < 12 {
		t.Fatalf("%d configurations in %s (%v)", len(files), guaranteeData, err)
	}
	return files
}

func TestGuaranteeGolden(t *testing.T) {
	reg := testRegistry(t)
	for _, file := range configs(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			doc, err := load(file, reg)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			rep := guarantees(doc, reg)
			out := renderAll(t, rep, name+".yaml")
			golden(t, filepath.Join(guaranteeData, name+".golden"), out)
			checkMermaid(t, graphOf(t, rep, "mermaid"))
			checkDOT(t, graphOf(t, rep, "dot"))
		})
	}
}

// TestGuaranteeGoldenJSON pins the JSON form of one configuration with
// every kind of path and a warning.
func TestGuaranteeGoldenJSON(t *testing.T) {
	reg := testRegistry(t)
	doc, err := load(filepath.Join(guaranteeData, "retry_unawaited.yaml"), reg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeReport(&b, guarantees(doc, reg), "json"); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join(guaranteeData, "retry_unawaited.json.golden"), b.Bytes())
}

// The promises and warnings each configuration is about, so that a golden
// file accepted by mistake still fails here.
func TestGuaranteeGoldenSemantics(t *testing.T) {
	reg := testRegistry(t)
	for name, want := range map[string]struct {
		promises []string // promise of each path, in order
		warnings []string // code@node
	}{
		"plain":                       {[]string{"delivered"}, nil},
		"wait_for_result_false":       {[]string{"acked_before_delivery"}, nil},
		"batch":                       {[]string{"delivered"}, nil},
		"fanout_all":                  {[]string{"delivered", "delivered"}, nil},
		"fanout_primary":              {[]string{"delivered", "best_effort"}, nil},
		"fanout_none":                 {[]string{"best_effort", "best_effort"}, nil},
		"fanout_none_single_exporter": {[]string{"best_effort"}, []string{"await_none_single_exporter@fan"}},
		"fallback_chain":              {[]string{"delivered", "delivered", "delivered"}, nil},
		"fallback_never_fires":        {[]string{"discarded", "delivered"}, []string{"fallback_never_fires@fan"}},
		"retry_unawaited":             {[]string{"delivered", "best_effort"}, []string{"retry_behind_unawaited@retry"}},
		"durable_fsync":               {[]string{"durable"}, nil},
		"durable_write":               {[]string{"durable"}, nil},
		"durable_behind_wait_false":   {[]string{"acked_before_delivery"}, []string{"early_answer_before_durable@in"}},
		"timeouts": {[]string{"delivered", "best_effort"}, []string{
			"timeout_exceeds_receiver@retry", "timeout_exceeds_receiver@fan", "timeout_exceeds_receiver@out_a"}},
		"multi": {[]string{"delivered", "delivered", "delivered", "delivered", "no_client",
			"acked_before_delivery", "best_effort"}, nil},
		"undeclared": {[]string{"unknown"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := load(filepath.Join(guaranteeData, name+".yaml"), reg)
			if err != nil {
				t.Fatal(err)
			}
			var promises, warnings []string
			for _, p := range guarantees(doc, reg).Pipelines {
				for _, x := range p.Paths {
					promises = append(promises, string(x.Promise))
				}
				for _, w := range p.Warnings {
					warnings = append(warnings, w.Code+"@"+w.Node)
				}
			}
			if strings.Join(promises, " ") != strings.Join(want.promises, " ") || strings.Join(warnings, " ") != strings.Join(want.warnings, " ") {
				t.Fatalf("promises %q warnings %q, want %q %q", promises, warnings, want.promises, want.warnings)
			}
		})
	}
}

func TestReportHidesEndpointCredentials(t *testing.T) {
	reg := testRegistry(t)
	doc, err := load(filepath.Join(guaranteeData, "batch.yaml"), reg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeReport(&b, guarantees(doc, reg), "json"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "secret") || !strings.Contains(b.String(), "https://collector.example.com:4318") {
		t.Fatalf("endpoint in the report:\n%s", b.String())
	}
}

func graphOf(t *testing.T, rep *guarantee.Report, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := writeGraph(&b, rep, "t.yaml", format); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkMermaid checks that every line is one of the forms the renderer
// writes, that subgraphs are closed, and that edges join declared nodes.
func checkMermaid(t *testing.T, g string) {
	t.Helper()
	var (
		comment  = regexp.MustCompile(`^\s*%%[^\n]*$`)
		subgraph = regexp.MustCompile(`^  subgraph p\d+\["[^"]*"\]$`)
		node     = regexp.MustCompile(`^    (p\d+_n\d+)\["[^"]*"\]$`)
		edge     = regexp.MustCompile(`^  (p\d+_n\d+) (-->|-\.->)\|"[^"|]*"\| (p\d+_n\d+)$`)
		classDef = regexp.MustCompile(`^  classDef warning [a-z-]+:[^ ]+( [^ ]+)*$`)
		class    = regexp.MustCompile(`^  class (p\d+_n\d+)(,p\d+_n\d+)* warning$`)
	)
	lines := strings.Split(strings.TrimSuffix(g, "\n"), "\n")
	declared := map[string]bool{}
	open, sawHeader := false, false
	for i, l := range lines {
		switch {
		case comment.MatchString(l):
		case l == "flowchart LR" && !sawHeader:
			sawHeader = true
		case subgraph.MatchString(l) && !open:
			open = true
		case l == "  end" && open:
			open = false
		case node.MatchString(l) && open:
			declared[node.FindStringSubmatch(l)[1]] = true
		case edge.MatchString(l):
			m := edge.FindStringSubmatch(l)
			if !declared[m[1]] || !declared[m[3]] {
				t.Errorf("mermaid line %d: edge between undeclared nodes: %s", i+1, l)
			}
		case classDef.MatchString(l), class.MatchString(l):
		default:
			t.Errorf("mermaid line %d does not parse: %q", i+1, l)
		}
	}
	if !sawHeader || open {
		t.Errorf("mermaid: header %v, unclosed subgraph %v", sawHeader, open)
	}
}

// TestDOTChecker makes sure the structural DOT check rejects broken input.
func TestDOTChecker(t *testing.T) {
	for _, bad := range []string{
		`digraph x { a -> b; `,
		`digraph x { a [label="x]; }`,
		`digraph x { a [label="x" }`,
		`digraph x { a -> ; }`,
		`graph x { a -> b; }`,
	} {
		if err := parseDOT(bad); err == nil {
			t.Errorf("parseDOT accepted %q", bad)
		}
	}
	if err := parseDOT(`// c
digraph g { rankdir=LR; node [shape=box]; subgraph cluster_0 { label="a\"b"; n [label="x\ny"]; } n -> m [style=dashed]; }`); err != nil {
		t.Fatal(err)
	}
}

func checkDOT(t *testing.T, g string) {
	t.Helper()
	if err := parseDOT(g); err != nil {
		t.Errorf("DOT does not parse: %v\n%s", err, g)
	}
}

// parseDOT is a recursive-descent check of the DOT subset the renderer
// writes (graphviz's dot is not installed on the test machines): a
// digraph of attribute statements, subgraphs, node and edge statements,
// with quoted strings and // comments.
func parseDOT(s string) error {
	toks, err := dotTokens(s)
	if err != nil {
		return err
	}
	p := &dotParser{toks: toks}
	if !p.eat("digraph") {
		return errors.New("want digraph")
	}
	if !p.id() {
		return errors.New("want the graph's name")
	}
	if err := p.block(); err != nil {
		return err
	}
	if p.i != len(p.toks) {
		return errors.New("text after the graph: " + p.toks[p.i])
	}
	return nil
}

type dotParser struct {
	toks []string
	i    int
}

func (p *dotParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *dotParser) eat(tok string) bool {
	if p.peek() == tok {
		p.i++
		return true
	}
	return false
}

var dotID = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*|-?[0-9.]+|".*")$`)

func (p *dotParser) id() bool {
	t := p.peek()
	if t == "" || !dotID.MatchString(t) {
		return false
	}
	p.i++
	return true
}

func (p *dotParser) block() error {
	if !p.eat("{") {
		return errors.New("want {")
	}
	for !p.eat("}") {
		if p.i >= len(p.toks) {
			return errors.New("unclosed {")
		}
		if err := p.stmt(); err != nil {
			return err
		}
		p.eat(";")
	}
	return nil
}

func (p *dotParser) stmt() error {
	switch {
	case p.eat("subgraph"):
		p.id()
		return p.block()
	case p.peek() == "node" || p.peek() == "edge" || p.peek() == "graph":
		p.i++
		return p.attrs()
	}
	if !p.id() {
		return errors.New("want a statement, got " + p.peek())
	}
	switch {
	case p.eat("="):
		if !p.id() {
			return errors.New("want a value after =")
		}
		return nil
	case p.eat("->"):
		if !p.id() {
			return errors.New("want a node after ->")
		}
	}
	if p.peek() == "[" {
		return p.attrs()
	}
	return nil
}

func (p *dotParser) attrs() error {
	if !p.eat("[") {
		return errors.New("want [")
	}
	for !p.eat("]") {
		if !p.id() || !p.eat("=") || !p.id() {
			return errors.New("want key=value in an attribute list, at " + p.peek())
		}
		p.eat(",")
		if p.i >= len(p.toks) {
			return errors.New("unclosed [")
		}
	}
	return nil
}

// dotTokens splits s into DOT tokens, keeping quoted strings whole.
func dotTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "->"):
			toks = append(toks, "->")
			i += 2
		case strings.ContainsRune("{}[];=,", rune(c)):
			toks = append(toks, string(c))
			i++
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
				if j < len(s) && s[j] == '\n' {
					return nil, errors.New("line break in a quoted string")
				}
			}
			if j >= len(s) {
				return nil, errors.New("unterminated string")
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{}[];=,\"", rune(s[j])) && !strings.HasPrefix(s[j:], "->") {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func TestValidateFormatJSONIsTheReportAlone(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain([]string{"validate", "--config", filepath.Join(guaranteeData, "fanout_primary.yaml"), "--format", "json"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep guarantee.Report
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not the report: %v", err)
	}
	if rep.Version != guarantee.ReportVersion || len(rep.Pipelines) != 1 || len(rep.Pipelines[0].Paths) != 2 {
		t.Fatalf("%+v", rep)
	}
	if !strings.Contains(errb.String(), "is valid") {
		t.Fatalf("stderr %q", errb.String())
	}
}

func TestGuaranteeFlagErrors(t *testing.T) {
	file := filepath.Join(guaranteeData, "plain.yaml")
	for _, args := range [][]string{
		{"validate", "--config", file, "--format", "yaml"},
		{"graph", "--config", file, "--format", "svg"},
		{"graph"},
		{"graph", "--config", filepath.Join(guaranteeData, "undeclared.yaml")}, // unknown type outside the test registry
	} {
		var out, errb bytes.Buffer
		if code := runMain(args, &out, &errb); code != exitUsage || errb.Len() == 0 {
			t.Errorf("ackflow %q: exit %d, stderr %q; want %d and a message", args, code, errb.String(), exitUsage)
		}
	}
}

// The built binary, once end to end: validate prints the report after
// "is valid", --format json the report alone, graph both diagram forms.
func TestValidateAndGraphThroughTheBinary(t *testing.T) {
	file := filepath.Join(guaranteeData, "durable_behind_wait_false.yaml")
	stdout, stderr, code := runBinary(t, "validate", "--config", file)
	if code != exitOK {
		t.Fatalf("validate: exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{
		file + " is valid\n",
		"[acked_before_delivery] in → buffer → out",
		"acked before delivery: wait_for_result: false at in; then stored at buffer (fsync: on disk)",
		"warning early_answer_before_durable at in:",
		"fix groups.g.pipelines.p.nodes.in.config.wait_for_result:",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, stderr, code = runBinary(t, "validate", "--config", file, "--format", "json")
	var rep guarantee.Report
	if err := json.Unmarshal([]byte(stdout), &rep); code != exitOK || err != nil || rep.Warnings() != 1 {
		t.Fatalf("validate --format json: exit %d, %v, stderr %s, stdout:\n%s", code, err, stderr, stdout)
	}
	stdout, stderr, code = runBinary(t, "graph", "--config", file)
	if code != exitOK || !strings.Contains(stdout, "flowchart LR") || !strings.Contains(stdout, "class p0_n0 warning") {
		t.Fatalf("graph: exit %d, stderr %s, stdout:\n%s", code, stderr, stdout)
	}
	checkMermaid(t, stdout)
	stdout, stderr, code = runBinary(t, "graph", "--config", file, "--format", "dot")
	if code != exitOK || !strings.HasPrefix(stdout, "// ackflow graph of") {
		t.Fatalf("graph --format dot: exit %d, stderr %s, stdout:\n%s", code, stderr, stdout)
	}
	checkDOT(t, stdout)
	stdout, _, _ = runBinary(t, "help")
	if !strings.Contains(stdout, "ackflow graph --config FILE [--format mermaid|dot]") {
		t.Fatalf("usage lacks graph:\n%s", stdout)
	}
}

// A running instance serves the report of the configuration it runs.
func TestRunServesTheGuarantees(t *testing.T) {
	cmd, url := started(t, writeConfig(t, endlessConfig))
	body := get(t, url+"/api/v1/guarantees", http.StatusOK)
	var rep guarantee.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || len(rep.Pipelines) != 1 || rep.Pipelines[0].Name != "g/p" ||
		len(rep.Pipelines[0].Paths) == 0 {
		t.Fatalf("/api/v1/guarantees: %v\n%s", err, body)
	}
	resp, err := http.Post(url+"/api/v1/shutdown", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/shutdown: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := waitExit(t, cmd); code != exitOK {
		t.Fatalf("exit %d, want 0:\n%s", code, cmd)
	}
}

// Names and lines may hold any character: the diagrams stay well formed.
func TestGraphEscapesEveryCharacter(t *testing.T) {
	odd := "a\"b<c>|#`\\d\n[e]{f};"
	rep := &guarantee.Report{Version: guarantee.ReportVersion, Pipelines: []guarantee.PipelineReport{{
		Name: odd + "/p",
		Nodes: []guarantee.NodeReport{
			{Name: odd, Type: "receiver:x", Guarantee: odd, Warnings: 1},
			{Name: "out", Type: "exporter:y", Guarantee: "acks"},
		},
		Edges:    []guarantee.Edge{{From: odd, Port: odd, To: "out", Awaited: false, Competing: true}},
		Warnings: []guarantee.Warning{{Code: guarantee.WarnCycle, Node: odd, Message: odd}},
	}}}
	m := graphOf(t, rep, "mermaid")
	checkMermaid(t, m)
	if !strings.Contains(m, "a#quot;b#lt;c#gt;#124;#35;#96;") {
		t.Errorf("mermaid escaping:\n%s", m)
	}
	checkDOT(t, graphOf(t, rep, "dot"))
}
