package guarantee_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fanConfig is the config block of the fake processor:fan, the shape of
// processor:fanout's.
type fanConfig struct {
	AwaitAck     string `yaml:"await_ack"`
	Destinations []struct {
		Port        string           `yaml:"port"`
		Primary     bool             `yaml:"primary"`
		FallbackFor string           `yaml:"fallback_for"`
		Timeout     *config.Duration `yaml:"timeout"`
	} `yaml:"destinations"`
}

func loadFan(n *config.Node) (fanConfig, error) {
	return config.DecodeNodeConfig(n, fanConfig{AwaitAck: "primary"}, nil)
}

func fixed(n guarantee.Node) guarantee.Declarer {
	return func(*config.Node) (guarantee.Node, error) { return n, nil }
}

// declarers are the fake node types of these tests, by type.
var declarers = map[string]guarantee.Declarer{
	"receiver:wait":   fixed(guarantee.Receiver(guarantee.ClientIntake("", true, "wait_for_result", 30*time.Second))),
	"receiver:nowait": fixed(guarantee.Receiver(guarantee.ClientIntake("", false, "wait_for_result", 30*time.Second))),
	"receiver:gen":    fixed(guarantee.Receiver(guarantee.Intake{Answer: guarantee.AnswerNone, Line: "awaits nothing"})),
	"receiver:mixed": fixed(guarantee.Receiver(
		guarantee.ClientIntake("grpc", true, "wait_for_result", 30*time.Second),
		guarantee.ClientIntake("http", false, "protocols.http.wait_for_result", 30*time.Second))),
	"receiver:same": fixed(guarantee.Receiver(
		guarantee.ClientIntake("grpc", true, "wait_for_result", 10*time.Second),
		guarantee.ClientIntake("http", true, "wait_for_result", 10*time.Second))),
	"processor:pass":         fixed(guarantee.PassThrough("")),
	"processor:batch":        fixed(guarantee.Batch(200 * time.Millisecond)),
	"processor:longbatch":    fixed(guarantee.Batch(time.Minute)),
	"processor:retry":        fixed(guarantee.Retry(5*time.Minute, 0)),
	"processor:shortretry":   fixed(guarantee.Retry(10*time.Second, 3)),
	"processor:foreverretry": fixed(guarantee.Retry(0, 0)),
	"processor:durable":      fixed(guarantee.Durable("fsync")),
	"processor:writebuf":     fixed(guarantee.Durable("write", "the oldest data at the size cap")),
	"processor:filter":       fixed(guarantee.Filter("filtered", "")),
	"processor:router":       fixed(guarantee.Route("")),
	"processor:failing": func(n *config.Node) (guarantee.Node, error) {
		return guarantee.Node{}, fmt.Errorf("cannot read %s", n.Name)
	},
	"processor:fan": guarantee.From(loadFan, func(c fanConfig, _ *config.Node) guarantee.Node {
		f := guarantee.Fanout{Await: c.AwaitAck}
		for i, d := range c.Destinations {
			gd := guarantee.Destination{Port: d.Port, Primary: d.Primary, FallbackFor: d.FallbackFor, Index: i}
			if d.Timeout != nil {
				gd.Timeout = time.Duration(*d.Timeout)
			}
			f.Destinations = append(f.Destinations, gd)
		}
		return guarantee.FanOut(f)
	}),
	"exporter:out":      fixed(guarantee.Deliver("http://127.0.0.1:4317", 15*time.Second)),
	"exporter:slow":     fixed(guarantee.Deliver("", time.Minute)),
	"exporter:sink":     fixed(guarantee.Discard("")),
	"exporter:nobroker": fixed(guarantee.Early("acks before the brokers have the data", "required_acks: none")),
}

// types is config.NodeTypes for the fake types, plus processor:mystery,
// which declares nothing.
type types struct{}

func (types) Known(t string) bool               { _, ok := declarers[t]; return ok || t == "processor:mystery" }
func (types) ValidateConfig(*config.Node) error { return nil }

func lookup(t string) guarantee.Declarer { return declarers[t] }

// analyze loads a pipeline p of group g from nodes and connections and
// analyses it.
func analyze(t *testing.T, body string) guarantee.PipelineReport {
	t.Helper()
	doc, err := config.Load("test.yaml", []byte("version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p:\n"+indent(body, "        ")), types{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	rep := guarantee.Analyze(doc, lookup)
	if len(rep.Pipelines) != 1 {
		t.Fatalf("%d pipelines", len(rep.Pipelines))
	}
	return rep.Pipelines[0]
}

// pipeline returns the nodes and connections of a test pipeline, for
// analyze. Each node is "name type", optionally followed by more fields of
// its YAML flow mapping ("fan processor:fan outputs: [a, b]"), and the
// nodes are declared in this order. Each route is a path written as
// Path.Text prints it, "in → fan[a] → out_a": every hop sends to the next
// one, fan[a] naming port a of fan. Connections are declared in the order
// they first appear in the routes.
func pipeline(nodes []string, routes ...string) string {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for _, n := range nodes {
		name, spec, _ := strings.Cut(n, " ")
		typ, more, _ := strings.Cut(spec, " ")
		if more != "" {
			more = ", " + more
		}
		fmt.Fprintf(&b, "  %s: { type: %s%s }\n", name, typ, more)
	}
	b.WriteString("connections:\n")
	seen := map[string]bool{}
	for _, r := range routes {
		hops := strings.Split(r, " → ")
		for i := 1; i < len(hops); i++ {
			from := hops[i-1]
			if node, port, ok := strings.Cut(strings.TrimSuffix(from, "]"), "["); ok {
				from = fmt.Sprintf("'%s[\"%s\"]'", node, port)
			}
			to, _, _ := strings.Cut(hops[i], "[")
			if c := fmt.Sprintf("  - { from: %s, to: %s }\n", from, to); !seen[c] {
				seen[c] = true
				b.WriteString(c)
			}
		}
	}
	return b.String()
}

// line is a pipeline whose nodes send one to the next, in order.
func line(nodes ...string) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i], _, _ = strings.Cut(n, " ")
	}
	return pipeline(nodes, strings.Join(names, " → "))
}

// fanNode is node fan, a processor:fan with outputs ports ("a, b") and the
// config block cfg, written as a YAML flow mapping.
func fanNode(ports, cfg string) string {
	return "fan processor:fan outputs: [" + ports + "], config: " + cfg
}

// fanTo is a pipeline in (receiver:wait) → fan, which sends on each port p
// to its own exporter out_p (exporter:out). cfg is fan's config block.
func fanTo(cfg string, ports ...string) string {
	nodes := []string{"in receiver:wait", fanNode(strings.Join(ports, ", "), cfg)}
	var routes []string
	for _, p := range ports {
		nodes = append(nodes, "out_"+p+" exporter:out")
		routes = append(routes, "in → fan["+p+"] → out_"+p)
	}
	return pipeline(nodes, routes...)
}

func indent(s, by string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.Trim(s, "\n"), "\n") {
		b.WriteString(by + l + "\n")
	}
	return b.String()
}

// path returns the path whose text is text.
func path(t *testing.T, p guarantee.PipelineReport, text string) guarantee.Path {
	t.Helper()
	for _, x := range p.Paths {
		if x.Text == text {
			return x
		}
	}
	var have []string
	for _, x := range p.Paths {
		have = append(have, x.Text)
	}
	t.Fatalf("no path %q; have %q", text, have)
	return guarantee.Path{}
}

func codes(p guarantee.PipelineReport) []string {
	var out []string
	for _, w := range p.Warnings {
		out = append(out, w.Code+"@"+w.Node)
	}
	return out
}

func requireCodes(t *testing.T, p guarantee.PipelineReport, want ...string) {
	t.Helper()
	got := codes(p)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("warnings %q, want %q\n%s", got, want, dump(p))
	}
}

func dump(p guarantee.PipelineReport) string {
	b, _ := json.MarshalIndent(p, "", "  ")
	return string(b)
}

func TestPlainPathIsDeliveredAtLeastOnce(t *testing.T) {
	p := analyze(t, line("in receiver:wait", "out exporter:out"))
	x := path(t, p, "in → out")
	if x.Promise != guarantee.PromiseDelivered || x.AnsweredAt != "out" ||
		x.Line() != "answered after out's ack (at least once to out)" {
		t.Fatalf("%+v", x)
	}
	requireCodes(t, p)
	if got := p.Nodes[0].Guarantee; got != "answers the client after the pipeline's outcome, within 30s" {
		t.Fatalf("receiver line %q", got)
	}
	if e := p.Edges; len(e) != 1 || e[0] != (guarantee.Edge{From: "in", Port: "default", To: "out", Awaited: true}) {
		t.Fatalf("edges %+v", e)
	}
}

func TestWaitForResultFalseIsAckedBeforeDelivery(t *testing.T) {
	p := analyze(t, line("in receiver:nowait", "b processor:batch", "out exporter:out"))
	x := path(t, p, "in → b → out")
	if x.Promise != guarantee.PromiseAckedBeforeDelivery || x.AnsweredAt != "in" ||
		x.Summary != "acked before delivery: wait_for_result: false at in" ||
		x.After != "then sent to out, whose outcome the client never hears" {
		t.Fatalf("%+v", x)
	}
	if !slices.Contains(x.Notes, "b: holds data up to 200ms, acks an input when every batch holding it is acked") {
		t.Fatalf("notes %q", x.Notes)
	}
	if p.Edges[0].Awaited {
		t.Fatal("the receiver's edge is awaited although it answers on admission")
	}
	requireCodes(t, p)
}

func TestFanoutPrimaryAnswersAfterThePrimaryChain(t *testing.T) {
	p := analyze(t, fanTo("{ await_ack: primary, destinations: [ { port: a, primary: true, timeout: 5s }, { port: b, fallback_for: a }, { port: c } ] }", "a", "b", "c"))
	a := path(t, p, "in → fan[a] → out_a")
	if a.Promise != guarantee.PromiseDelivered || a.Line() != "answered after out_a's ack (at least once to out_a; out_c best effort)" {
		t.Fatalf("a: %+v", a)
	}
	b := path(t, p, "in → fan[b] → out_b")
	if b.Promise != guarantee.PromiseDelivered ||
		b.Line() != "answered after out_b's ack (at least once to out_b; fallback: used only when out_a failed; out_c best effort)" {
		t.Fatalf("b: %+v", b)
	}
	c := path(t, p, "in → fan[c] → out_c")
	if c.Promise != guarantee.PromiseBestEffort || c.AnsweredAt != "fan" ||
		c.Summary != "best effort: fan[c] is a copy fan does not await (await_ack: primary answers with out_a)" ||
		c.After != "then sent to out_c, whose outcome the client never hears" {
		t.Fatalf("c: %+v", c)
	}
	var awaited []string
	for _, e := range p.Edges {
		if e.Awaited {
			awaited = append(awaited, e.From+"["+e.Port+"]")
		}
	}
	if !slices.Equal(awaited, []string{"in[default]", "fan[a]", "fan[b]"}) {
		t.Fatalf("awaited edges %q", awaited)
	}
	requireCodes(t, p)
}

func TestFallbackChainNamesEveryDestinationBefore(t *testing.T) {
	p := analyze(t, fanTo("{ destinations: [ { port: a }, { port: b, fallback_for: a }, { port: c, fallback_for: b } ] }", "a", "b", "c"))
	if x := path(t, p, "in → fan[c] → out_c"); x.Line() != "answered after out_c's ack (at least once to out_c; fallback: used only when out_a and then out_b failed)" {
		t.Fatalf("%q", x.Line())
	}
	requireCodes(t, p)
}

func TestFanoutAllWaitsForEveryChain(t *testing.T) {
	p := analyze(t, fanTo("{ await_ack: all, destinations: [ { port: a }, { port: b } ] }", "a", "b"))
	if x := path(t, p, "in → fan[a] → out_a"); x.Line() != "answered after out_a's ack (at least once to out_a; fan also waits for out_b (await_ack: all))" {
		t.Fatalf("%q", x.Line())
	}
	if x := path(t, p, "in → fan[b] → out_b"); x.Promise != guarantee.PromiseDelivered {
		t.Fatalf("%+v", x)
	}
	requireCodes(t, p)
}

func TestAwaitNoneInFrontOfTheOnlyExporter(t *testing.T) {
	p := analyze(t, pipeline([]string{"in receiver:wait",
		"fan processor:fan config: { await_ack: none, destinations: [ { port: default } ] }", "out exporter:out"},
		"in → fan → out"))
	x := path(t, p, "in → fan → out")
	if x.Promise != guarantee.PromiseBestEffort || x.Summary != "best effort: fan-out await_ack: none at fan" {
		t.Fatalf("%+v", x)
	}
	requireCodes(t, p, guarantee.WarnAwaitNoneSingleExporter+"@fan")
	if w := p.Warnings[0]; w.Path != "groups.g.pipelines.p.nodes.fan.config.await_ack" || !strings.Contains(w.Message, "out, the only exporter") {
		t.Fatalf("%+v", w)
	}
	if p.Nodes[1].Warnings != 1 {
		t.Fatalf("node warnings %+v", p.Nodes[1])
	}
}

// Pipelines judged by their warnings alone: the codes (code@node) and, for
// the first warning, its path or a part of its message.
func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		codes   []string
		path    string // the first warning's path, when set
		message string // a part of the first warning's message
	}{
		{
			name: "await none with two exporters is not warned",
			body: fanTo("{ await_ack: none, destinations: [ { port: a }, { port: b } ] }", "a", "b"),
		},
		{
			name: "retry behind an unawaited branch",
			body: pipeline([]string{"in receiver:wait", fanNode("a, b", "{ await_ack: primary, destinations: [ { port: a }, { port: b } ] }"),
				"retry processor:shortretry", "out_a exporter:out", "out_b exporter:out"},
				"in → fan[a] → out_a", "in → fan[b] → retry → out_b"),
			codes:   []string{guarantee.WarnRetryBehindUnawaited + "@retry"},
			message: "fan[b], which fan does not await (await_ack: primary",
		},
		{
			name: "durable buffer behind an unawaited fan-out branch",
			body: pipeline([]string{"in receiver:wait", fanNode("a, b", "{ destinations: [ { port: a }, { port: b } ] }"),
				"buf processor:durable", "out_a exporter:out", "out_b exporter:out"},
				"in → fan[a] → out_a", "in → fan[b] → buf → out_b"),
			codes: []string{guarantee.WarnEarlyAnswerBeforeDurable + "@fan"},
			path:  "groups.g.pipelines.p.nodes.fan.config.await_ack",
		},
		{
			name:    "retry without a time limit is longer than any timeout",
			body:    line("in receiver:wait", "retry processor:foreverretry", "out exporter:out"),
			codes:   []string{guarantee.WarnTimeoutExceedsReceiver + "@retry"},
			message: "retries for up to no limit (max_elapsed_time: 0)",
		},
		{
			name: "timeouts after the answer are not compared",
			body: line("in receiver:wait", "buf processor:durable", "retry processor:retry", "out exporter:slow"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := analyze(t, tc.body)
			requireCodes(t, p, tc.codes...)
			if len(tc.codes) == 0 {
				return
			}
			if w := p.Warnings[0]; (tc.path != "" && w.Path != tc.path) || !strings.Contains(w.Message, tc.message) {
				t.Fatalf("%+v", w)
			}
		})
	}
}

func TestFallbackThatCanNeverFire(t *testing.T) {
	tmpl := pipeline([]string{"in receiver:wait", fanNode("a, b", "{ destinations: [ { port: a %s}, { port: b, fallback_for: a } ] }"),
		"dbg processor:pass", "sink exporter:sink", "out exporter:out"},
		"in → fan[a] → dbg → sink", "in → fan[b] → out")
	p := analyze(t, fmt.Sprintf(tmpl, ""))
	requireCodes(t, p, guarantee.WarnFallbackNeverFires+"@fan")
	w := p.Warnings[0]
	if w.Path != "groups.g.pipelines.p.nodes.fan.config.destinations[1].fallback_for" || !strings.Contains(w.Message, "a has no timeout") {
		t.Fatalf("%+v", w)
	}
	if x := path(t, p, "in → fan[a] → dbg → sink"); x.Promise != guarantee.PromiseDiscarded ||
		x.Summary != "discarded: sink (exporter:sink) acks without delivering anywhere" {
		t.Fatalf("%+v", x)
	}
	// A timeout makes the origin able to fail: the fallback can fire.
	requireCodes(t, analyze(t, fmt.Sprintf(tmpl, ", timeout: 1s ")))
}

func TestRetryOnTheAwaitedPathIsFine(t *testing.T) {
	p := analyze(t, line("in receiver:wait", "retry processor:shortretry", "out exporter:out"))
	requireCodes(t, p)
	x := path(t, p, "in → retry → out")
	if x.Promise != guarantee.PromiseDelivered ||
		!slices.Contains(x.Notes, "retry: retries transient failures for up to 10s, at most 3 times, then nacks; passes acks and permanent nacks") {
		t.Fatalf("%+v", x)
	}
}

func TestDurableBuffer(t *testing.T) {
	for _, tc := range []struct {
		typ, summary string
		notes        []string
	}{
		{"processor:durable", "durable at buf (fsync: on disk) before the client's answer", []string{}},
		{"processor:writebuf", "durable at buf (write: written to the OS, not fsynced) before the client's answer",
			[]string{"buf may lose data it acked: the oldest data at the size cap"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			p := analyze(t, line("in receiver:wait", "buf "+tc.typ, "out exporter:out"))
			x := path(t, p, "in → buf → out")
			if x.Promise != guarantee.PromiseDurable || x.AnsweredAt != "buf" || x.Summary != tc.summary ||
				x.After != "then delivered from disk to out, at least once" || !slices.Equal(x.Notes, tc.notes) {
				t.Fatalf("%+v", x)
			}
			requireCodes(t, p)
			if p.Edges[1].Awaited {
				t.Fatal("the buffer's output is awaited by its answer")
			}
		})
	}
}

func TestDurableBufferBehindAnEarlyAnswer(t *testing.T) {
	p := analyze(t, line("in receiver:nowait", "buf processor:durable", "out exporter:out"))
	requireCodes(t, p, guarantee.WarnEarlyAnswerBeforeDurable+"@in")
	w := p.Warnings[0]
	if w.Path != "groups.g.pipelines.p.nodes.in.config.wait_for_result" || !strings.Contains(w.Hint, "set wait_for_result: true on in") {
		t.Fatalf("%+v", w)
	}
	x := path(t, p, "in → buf → out")
	if x.Promise != guarantee.PromiseAckedBeforeDelivery || x.After != "then stored at buf (fsync: on disk)" {
		t.Fatalf("%+v", x)
	}
}

func TestTimeoutsLongerThanTheReceivers(t *testing.T) {
	p := analyze(t, pipeline([]string{"in receiver:wait", "b processor:longbatch", "retry processor:retry",
		fanNode("a, b", "{ destinations: [ { port: a, timeout: 45s }, { port: b, timeout: 1h } ] }"), "out exporter:slow", "other exporter:out"},
		"in → b → retry → fan[a] → out", "fan[b] → other"))
	// fan's destination b is best effort: its timeout is not compared.
	requireCodes(t, p,
		guarantee.WarnTimeoutExceedsReceiver+"@b",
		guarantee.WarnTimeoutExceedsReceiver+"@retry",
		guarantee.WarnTimeoutExceedsReceiver+"@fan",
		guarantee.WarnTimeoutExceedsReceiver+"@out")
	want := map[string]string{
		"b":     "groups.g.pipelines.p.nodes.b.config.max_batch_duration",
		"retry": "groups.g.pipelines.p.nodes.retry.config.max_elapsed_time",
		"fan":   "groups.g.pipelines.p.nodes.fan.config.destinations[0].timeout",
		"out":   "groups.g.pipelines.p.nodes.out.config.timeout",
	}
	for _, w := range p.Warnings {
		if w.Path != want[w.Node] {
			t.Errorf("%s: path %s, want %s", w.Node, w.Path, want[w.Node])
		}
	}
	for _, w := range p.Warnings {
		if w.Node == "retry" && w.Message != "retry retries for up to 5m (max_elapsed_time), longer than the timeout of in, 30s: the client is answered with a timeout first and may resend while the work goes on (duplicates), and a later success is never reported" {
			t.Fatalf("%q", w.Message)
		}
	}
}

func TestMultipleReceiversAndExporters(t *testing.T) {
	p := analyze(t, `
nodes:
  in1: { type: receiver:wait }
  in2: { type: receiver:gen }
  r: { type: processor:router, outputs: [x, y] }
  out_x: { type: exporter:out }
  out_y: { type: exporter:sink }
connections:
  - { from: [in1, in2], to: r }
  - { from: 'r["x"]', to: out_x }
  - { from: 'r["y"]', to: out_y }
`)
	var got []string
	for _, x := range p.Paths {
		got = append(got, string(x.Promise)+" "+x.Text)
	}
	want := []string{
		"delivered in1 → r[x] → out_x",
		"discarded in1 → r[y] → out_y",
		"no_client in2 → r[x] → out_x",
		"no_client in2 → r[y] → out_y",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paths %q, want %q", got, want)
	}
	if x := p.Paths[2]; x.Summary != "no client: in2 awaits no outcome" {
		t.Fatalf("%q", x.Summary)
	}
	requireCodes(t, p)
}

func TestReceiverIntakesThatDiffer(t *testing.T) {
	p := analyze(t, line("in receiver:mixed", "out exporter:out"))
	if x := path(t, p, "in (grpc) → out"); x.Promise != guarantee.PromiseDelivered || x.Hops[0].Intake != "grpc" {
		t.Fatalf("%+v", x)
	}
	if x := path(t, p, "in (http) → out"); x.Summary != "acked before delivery: protocols.http.wait_for_result: false at in" {
		t.Fatalf("%+v", x)
	}
	if got := p.Nodes[0].Guarantee; got != "grpc: answers the client after the pipeline's outcome, within 30s; http: answers OK on admission, before delivery (protocols.http.wait_for_result: false)" {
		t.Fatalf("%q", got)
	}
	// Alike intakes fold into one.
	p = analyze(t, line("in receiver:same", "out exporter:out"))
	if len(p.Paths) != 1 || p.Paths[0].Text != "in → out" {
		t.Fatalf("%+v", p.Paths)
	}
}

func TestUndeclaredNodeType(t *testing.T) {
	p := analyze(t, line("in receiver:wait", "m processor:mystery", "bad processor:failing", "out exporter:out"))
	x := path(t, p, "in → m → bad → out")
	if x.Promise != guarantee.PromiseUnknown || x.AnsweredAt != "" ||
		x.Summary != "unknown: node type processor:mystery declares no guarantee (at m)" || x.After != "" {
		t.Fatalf("%+v", x)
	}
	if n := p.Nodes[1]; n.Declared || n.Effect != "unknown" || n.Guarantee != "unknown: node type processor:mystery declares no guarantee" {
		t.Fatalf("%+v", n)
	}
	if n := p.Nodes[2]; n.Declared || n.Guarantee != "unknown: cannot read bad" {
		t.Fatalf("%+v", n)
	}
}

func TestNilLookupDeclaresNothing(t *testing.T) {
	doc, err := config.Load("t.yaml", []byte(`
version: otel_dataflow/v1
groups: { g: { pipelines: { p: { nodes: { in: { type: receiver:wait }, out: { type: exporter:out } }, connections: [ { from: in, to: out } ] } } } }
`), types{})
	if err != nil {
		t.Fatal(err)
	}
	rep := guarantee.Analyze(doc, nil)
	x := rep.Pipelines[0].Paths[0]
	if x.Promise != guarantee.PromiseUnknown || x.Summary != "unknown: node type receiver:wait declares no guarantee (at in)" {
		t.Fatalf("%+v", x)
	}
	if rep := guarantee.Analyze(nil, nil); rep.Version != guarantee.ReportVersion || len(rep.Pipelines) != 0 {
		t.Fatalf("%+v", rep)
	}
}

func TestPortNotConnected(t *testing.T) {
	p := analyze(t, pipeline([]string{"in receiver:wait", fanNode("a, b", "{ await_ack: all, destinations: [ { port: a }, { port: b } ] }"),
		"b processor:batch"}, "in → fan[a] → b"))
	requireCodes(t, p, guarantee.WarnPortNotConnected+"@fan", guarantee.WarnPortNotConnected+"@b")
	x := path(t, p, "in → fan[b]")
	if x.Promise != guarantee.PromiseNoRoute || x.Summary != "no route: fan sends on port b, which is not connected, so every message is nacked" {
		t.Fatalf("%+v", x)
	}
	if x := path(t, p, "in → fan[a] → b"); x.Promise != guarantee.PromiseNoRoute ||
		!strings.HasPrefix(x.Summary, "no route: b sends on its default output, which is not connected") {
		t.Fatalf("%+v", x)
	}
}

func TestCompetingDestinations(t *testing.T) {
	p := analyze(t, `
nodes:
  in: { type: receiver:wait }
  out_a: { type: exporter:out }
  out_b: { type: exporter:out }
connections:
  - { from: in, to: [out_a, out_b] }
`)
	x := path(t, p, "in → out_b")
	if !slices.Equal(x.Notes, []string{"out_b competes with out_a for each message: one of them gets it"}) {
		t.Fatalf("%q", x.Notes)
	}
	for _, e := range p.Edges {
		if !e.Competing {
			t.Fatalf("%+v", e)
		}
	}
}

func TestEarlyExporter(t *testing.T) {
	p := analyze(t, line("in receiver:wait", "k exporter:nobroker"))
	if x := p.Paths[0]; x.Promise != guarantee.PromiseBestEffort || x.Summary != "best effort: required_acks: none at k" || x.After != "" {
		t.Fatalf("%+v", x)
	}
}

// A validated document has no cycle; one built by hand may. The analysis
// must stop, not loop.
func TestCycleDoesNotHang(t *testing.T) {
	node := func(name, typ string, kind config.Kind) *config.Node {
		return &config.Node{Name: name, Type: typ, Kind: kind, Path: config.Path{}.Key("nodes").Key(name)}
	}
	conn := func(from, to string) *config.Connection {
		return &config.Connection{From: []config.PortRef{{Node: from, Port: config.DefaultPort}}, To: []string{to}}
	}
	doc := &config.Document{Groups: []*config.Group{{Name: "g", Pipelines: []*config.Pipeline{{
		Group: "g", Name: "p",
		Nodes: []*config.Node{
			node("in", "receiver:wait", config.KindReceiver),
			node("a", "processor:router", config.KindProcessor),
			node("b", "processor:router", config.KindProcessor),
		},
		Connections: []*config.Connection{conn("in", "a"), conn("a", "b"), conn("b", "a")},
	}}}}}
	p := guarantee.Analyze(doc, lookup).Pipelines[0]
	requireCodes(t, p, guarantee.WarnCycle+"@b")
}

func TestPathsAreBounded(t *testing.T) {
	// 11 diamonds in a row: 2^11 = 2048 paths.
	var b strings.Builder
	b.WriteString("nodes:\n  in: { type: receiver:wait }\n  out: { type: exporter:out }\n")
	for i := range 11 {
		fmt.Fprintf(&b, "  r%d: { type: processor:router, outputs: [x, y] }\n  j%d: { type: processor:pass }\n", i, i)
	}
	b.WriteString("connections:\n  - { from: in, to: r0 }\n")
	for i := range 11 {
		fmt.Fprintf(&b, "  - { from: 'r%d[\"x\"]', to: j%d }\n  - { from: 'r%d[\"y\"]', to: j%d }\n", i, i, i, i)
		next := "out"
		if i < 10 {
			next = fmt.Sprintf("r%d", i+1)
		}
		fmt.Fprintf(&b, "  - { from: j%d, to: %s }\n", i, next)
	}
	p := analyze(t, b.String())
	if len(p.Paths) != guarantee.MaxPaths || p.PathsOmitted != 2048-guarantee.MaxPaths {
		t.Fatalf("%d paths, %d omitted", len(p.Paths), p.PathsOmitted)
	}
}

// The JSON field names are a contract with tools: this pins them.
func TestJSONShape(t *testing.T) {
	p := analyze(t, line("in receiver:nowait", "buf processor:durable", "out exporter:out"))
	b, err := json.Marshal(guarantee.Report{Version: guarantee.ReportVersion, Pipelines: []guarantee.PipelineReport{p}})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	requireKeys(t, "report", doc, "version", "pipelines")
	pl := doc["pipelines"].([]any)[0].(map[string]any)
	requireKeys(t, "pipeline", pl, "name", "group", "pipeline", "nodes", "edges", "paths", "paths_omitted", "warnings")
	requireKeys(t, "node", pl["nodes"].([]any)[0].(map[string]any), "name", "type", "kind", "declared", "effect", "guarantee", "warnings")
	requireKeys(t, "edge", pl["edges"].([]any)[0].(map[string]any), "from", "port", "to", "competing", "awaited")
	path := pl["paths"].([]any)[0].(map[string]any)
	requireKeys(t, "path", path, "hops", "text", "promise", "answered_at", "summary", "after", "notes")
	requireKeys(t, "hop", path["hops"].([]any)[0].(map[string]any), "node", "type", "port")
	requireKeys(t, "warning", pl["warnings"].([]any)[0].(map[string]any), "code", "node", "path", "message", "hint")
	if pl["name"] != "g/p" || path["promise"] != "acked_before_delivery" {
		t.Fatalf("%s", b)
	}
}

func requireKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Fatalf("%s keys %q, want %q", what, got, keys)
	}
}

func TestConstructorLines(t *testing.T) {
	for _, tc := range []struct {
		n    guarantee.Node
		want string
	}{
		{guarantee.Batch(0), "splits without holding, acks an input when every part of it is acked"},
		{guarantee.Retry(0, 0), "retries transient failures without a time limit, then nacks; passes acks and permanent nacks"},
		{guarantee.Durable("fsync"), "acks once the data is on disk (fsync), then delivers it from disk at least once, retrying transient failures without limit"},
		{guarantee.Deliver("", 0), "acks after the destination confirmed, nacks on refusal"},
		{guarantee.Deliver("http://h:1", 90*time.Minute), "acks after http://h:1 confirmed, nacks on refusal or after 1h30m"},
		{guarantee.Filter("sampled out", ""), "drops items on purpose (sampled out) and acks them; passes the outcome of the rest"},
		{guarantee.Route(""), "sends each message to one output, passes its outcome through"},
		{guarantee.PassThrough(""), "passes the outcome through"},
		{guarantee.Discard(""), "acks everything and delivers nothing"},
		{guarantee.FanOut(guarantee.Fanout{Await: "primary", Sequential: true, Destinations: []guarantee.Destination{{Port: "a"}, {Port: "b", FallbackFor: "a", Timeout: time.Second}}}),
			"await_ack: primary (sequential); a: primary; b: fallback for a, timeout 1s"},
	} {
		if tc.n.Line != tc.want {
			t.Errorf("line %q, want %q", tc.n.Line, tc.want)
		}
	}
}

func TestEndpointDropsCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:secret@collector:4317/v1?token=x#f": "https://collector:4317/v1",
		"http://127.0.0.1:4317":                           "http://127.0.0.1:4317",
		"not a url":                                       "",
		"::":                                              "",
	} {
		if got := guarantee.Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEffectAndAnswerNames(t *testing.T) {
	if guarantee.EffectPersist.String() != "persist" || guarantee.Effect(99).String() != "effect(99)" ||
		guarantee.AnswerOnAdmission.String() != "on_admission" || guarantee.Answer(9).String() != "answer(9)" {
		t.Fatal("names")
	}
}
