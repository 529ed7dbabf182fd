package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/exporters/console"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/exporters/otlpgrpc"
	"github.com/ackflow/ackflow/nodes/exporters/otlphttp"
	"github.com/ackflow/ackflow/nodes/processors/batch"
	"github.com/ackflow/ackflow/nodes/processors/debug"
	"github.com/ackflow/ackflow/nodes/processors/fanout"
	"github.com/ackflow/ackflow/nodes/processors/retry"
	"github.com/ackflow/ackflow/nodes/receivers/otlp"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
)

// components lists every node type of this build. Registration is an
// explicit list, not init() side effects, so the build says what it has.
func components() *engine.Registry {
	return engine.MustRegistry(
		otlp.NewFactory(),
		trafficgen.NewFactory(),
		batch.NewFactory(),
		debug.NewFactory(),
		fanout.NewFactory(),
		retry.NewFactory(),
		noop.NewFactory(),
		otlpgrpc.NewFactory(),
		otlphttp.NewFactory(),
		console.NewFactory(),
	)
}

func cmdComponents(stdout io.Writer) int {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tURN\tDESCRIPTION")
	for _, f := range components().Factories() {
		fmt.Fprintf(tw, "%s\turn:otel:%s\t%s\n", f.Type, f.Type, f.Description)
	}
	_ = tw.Flush()
	return exitOK
}
