package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ackflow/ackflow/components"
	"github.com/ackflow/ackflow/engine"
)

// registry is the node types of this build.
func registry() *engine.Registry { return components.Registry() }

func cmdComponents(stdout io.Writer) int {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tURN\tDESCRIPTION")
	for _, f := range registry().Factories() {
		fmt.Fprintf(tw, "%s\turn:otel:%s\t%s\n", f.Type, f.Type, f.Description)
	}
	_ = tw.Flush()
	return exitOK
}
