package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ackflow/ackflow/guarantee"
)

// graphFormats are the values of graph's --format.
var graphFormats = []string{"mermaid", "dot"}

// cmdGraph prints the pipelines of a configuration as a diagram, each node
// annotated with its guarantee.
func cmdGraph(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration `file` to draw")
	format := fs.String("format", "mermaid", "diagram format: mermaid or dot (Graphviz)")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if *path == "" {
		fmt.Fprintln(stderr, "ackflow graph: --config FILE is required")
		return exitUsage
	}
	if !slices.Contains(graphFormats, *format) {
		fmt.Fprintf(stderr, "ackflow graph: --format %q: use mermaid or dot\n", *format)
		return exitUsage
	}
	reg := registry()
	doc, err := load(*path, reg)
	if err != nil {
		printConfigError(stderr, err)
		return exitUsage
	}
	if err := writeGraph(stdout, guarantees(doc, reg), *path, *format); err != nil {
		fmt.Fprintf(stderr, "ackflow graph: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// writeGraph renders rep's pipelines in format (mermaid or dot); title
// names the source in a comment.
func writeGraph(w io.Writer, rep *guarantee.Report, title, format string) error {
	var b strings.Builder
	if format == "dot" {
		writeDOT(&b, rep, title)
	} else {
		writeMermaid(&b, rep, title)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// graphLegend explains the styles, in a comment of either format.
const graphLegend = "solid edges are awaited (the sender's answer waits for their outcome), dashed ones are not; nodes with warnings are red and dashed"

// nodeID is a node's identifier in either format: p<pipeline>_n<node>,
// safe whatever the node is called.
func nodeID(pi, ni int) string { return fmt.Sprintf("p%d_n%d", pi, ni) }

// nodeIndex maps a pipeline's node names to their index.
func nodeIndex(p guarantee.PipelineReport) map[string]int {
	m := make(map[string]int, len(p.Nodes))
	for i, n := range p.Nodes {
		m[n.Name] = i
	}
	return m
}

// edgeLabel is an edge's port, and what is special about it.
func edgeLabel(e guarantee.Edge) string {
	l := e.Port
	if e.Competing {
		l += ", competing"
	}
	if !e.Awaited {
		l += ", not awaited"
	}
	return l
}

// wrap cuts s into lines of about width characters at spaces.
func wrap(s string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(s) {
		if cur.Len() > 0 && cur.Len()+1+len(word) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// nodeLines are a node's label lines: name, type, guarantee, warnings.
func nodeLines(n guarantee.NodeReport) []string {
	lines := append([]string{n.Name, n.Type}, wrap(n.Guarantee, 44)...)
	if n.Warnings > 0 {
		lines = append(lines, "⚠ "+plural(n.Warnings, "warning"))
	}
	return lines
}

// writeMermaid renders a Mermaid flowchart, one subgraph per pipeline.
func writeMermaid(b *strings.Builder, rep *guarantee.Report, title string) {
	b.WriteString("flowchart LR\n")
	fmt.Fprintf(b, "  %%%% ackflow graph of %s\n", mermaidComment(title))
	fmt.Fprintf(b, "  %%%% %s\n", graphLegend)
	var warned []string
	for pi, p := range rep.Pipelines {
		fmt.Fprintf(b, "  subgraph p%d[\"%s\"]\n", pi, mermaidText(p.Name))
		for ni, n := range p.Nodes {
			lines := nodeLines(n)
			for i := range lines {
				lines[i] = mermaidText(lines[i])
			}
			fmt.Fprintf(b, "    %s[\"%s\"]\n", nodeID(pi, ni), strings.Join(lines, "<br/>"))
			if n.Warnings > 0 {
				warned = append(warned, nodeID(pi, ni))
			}
		}
		b.WriteString("  end\n")
		idx := nodeIndex(p)
		for _, e := range p.Edges {
			arrow := "-->"
			if !e.Awaited {
				arrow = "-.->"
			}
			fmt.Fprintf(b, "  %s %s|\"%s\"| %s\n", nodeID(pi, idx[e.From]), arrow, mermaidText(edgeLabel(e)), nodeID(pi, idx[e.To]))
		}
		for _, w := range p.Warnings {
			fmt.Fprintf(b, "  %%%% warning %s at %s: %s\n", w.Code, mermaidComment(w.Node), mermaidComment(w.Message))
		}
	}
	if len(warned) > 0 {
		b.WriteString("  classDef warning stroke:#d00,stroke-width:2px,stroke-dasharray:5 5,color:#d00\n")
		fmt.Fprintf(b, "  class %s warning\n", strings.Join(warned, ","))
	}
}

// mermaidText escapes s for a quoted Mermaid label: entity codes for the
// characters the syntax gives a meaning to.
func mermaidText(s string) string {
	return strings.NewReplacer(
		"#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "|", "#124;", "`", "#96;", "\n", " ",
	).Replace(s)
}

// mermaidComment keeps a comment on its line.
func mermaidComment(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// writeDOT renders a Graphviz digraph, one cluster per pipeline.
func writeDOT(b *strings.Builder, rep *guarantee.Report, title string) {
	fmt.Fprintf(b, "// ackflow graph of %s\n", mermaidComment(title))
	fmt.Fprintf(b, "// %s\n", graphLegend)
	b.WriteString("digraph ackflow {\n")
	b.WriteString("  rankdir=LR;\n")
	b.WriteString("  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for pi, p := range rep.Pipelines {
		fmt.Fprintf(b, "  subgraph cluster_%d {\n", pi)
		fmt.Fprintf(b, "    label=%s;\n", dotString(p.Name))
		for ni, n := range p.Nodes {
			attrs := "label=" + dotString(strings.Join(nodeLines(n), "\n"))
			if n.Warnings > 0 {
				var msgs []string
				for _, w := range p.Warnings {
					if w.Node == n.Name {
						msgs = append(msgs, w.Code+": "+w.Message)
					}
				}
				attrs += `, color="#dd0000", fontcolor="#dd0000", style="rounded,dashed", penwidth=2, tooltip=` + dotString(strings.Join(msgs, "\n"))
			}
			fmt.Fprintf(b, "    %s [%s];\n", nodeID(pi, ni), attrs)
		}
		b.WriteString("  }\n")
		idx := nodeIndex(p)
		for _, e := range p.Edges {
			attrs := "label=" + dotString(edgeLabel(e))
			if !e.Awaited {
				attrs += ", style=dashed"
			}
			fmt.Fprintf(b, "  %s -> %s [%s];\n", nodeID(pi, idx[e.From]), nodeID(pi, idx[e.To]), attrs)
		}
	}
	b.WriteString("}\n")
}

// dotString quotes s as a DOT string: backslashes and quotes escaped,
// line breaks as \n.
func dotString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "").Replace(s) + `"`
}
