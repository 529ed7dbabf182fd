package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/guarantee"
)

// guarantees derives what doc promises its clients, from the declarations
// of reg's node types.
func guarantees(doc *config.Document, reg *engine.Registry) *guarantee.Report {
	return guarantee.Analyze(doc, func(typeName string) guarantee.Declarer {
		f, _ := reg.Lookup(typeName)
		return f.Guarantee
	})
}

// reportFormats are the values of validate's --format.
var reportFormats = []string{"text", "json"}

// writeReport writes rep in format (text or json).
func writeReport(w io.Writer, rep *guarantee.Report, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeReportText(w, rep)
}

// writeReportText writes the report for a person: per pipeline, each
// path with its promise and notes, then the warnings with their fix.
func writeReportText(w io.Writer, rep *guarantee.Report) error {
	var b strings.Builder
	b.WriteString("\nWhat this configuration promises, per path from a receiver to an exporter:\n")
	for _, p := range rep.Pipelines {
		fmt.Fprintf(&b, "\npipeline %s: %s, %s\n", p.Name, plural(len(p.Paths)+p.PathsOmitted, "path"), plural(len(p.Warnings), "warning"))
		for _, path := range p.Paths {
			fmt.Fprintf(&b, "  [%s] %s\n", path.Promise, path.Text)
			fmt.Fprintf(&b, "      %s\n", path.Line())
			for _, n := range path.Notes {
				fmt.Fprintf(&b, "      - %s\n", n)
			}
		}
		if p.PathsOmitted > 0 {
			fmt.Fprintf(&b, "  ... %s not analysed (at most %d per pipeline)\n", plural(p.PathsOmitted, "more path"), guarantee.MaxPaths)
		}
		for _, warn := range p.Warnings {
			fmt.Fprintf(&b, "  warning %s at %s: %s\n", warn.Code, warn.Node, warn.Message)
			fmt.Fprintf(&b, "      fix %s: %s\n", warn.Path, warn.Hint)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// plural writes "1 path", "2 paths".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
