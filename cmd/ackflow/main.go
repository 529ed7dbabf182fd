// Command ackflow runs telemetry pipelines described by an otel_dataflow/v1
// document, with end-to-end acknowledgements.
//
// Usage:
//
//	ackflow run [--config FILE] [--log-format text|json] [--log-level LEVEL]
//	ackflow validate --config FILE [--strict] [--format text|json]
//	ackflow graph --config FILE [--format mermaid|dot]
//	ackflow top [--admin HOST:PORT] [--token T] [--interval D] [--once] [--json]
//	ackflow tap [--admin HOST:PORT] [--token T] [--pipeline P] [--limit N] [--rate R/s] NODE[:PORT]
//	ackflow components
//	ackflow loadgen [flags]
//	ackflow version
//
// Exit codes: 0 success, 1 runtime failure, 2 crash (the Go runtime's code
// for an unrecovered panic or a fatal error; ackflow never returns it), 3
// invalid configuration or usage.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ackflow/ackflow/loadgen"
)

// Exit codes. 2 is left to the Go runtime, which exits with it on an
// unrecovered panic or a fatal error (a stack overflow, out of memory), so
// that a crash is never mistaken for a bad configuration.
const (
	exitOK      = 0
	exitRuntime = 1 // a node failed, or the drain deadline left data unanswered
	exitCrash   = 2 // never returned: documents the runtime's code
	exitUsage   = 3 // invalid configuration, flags or command
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "graph":
		return cmdGraph(args[1:], stdout, stderr) // graph.go
	case "top":
		return cmdTop(args[1:], stdout, stderr) // top.go
	case "tap":
		return cmdTap(args[1:], stdout, stderr) // tap.go
	case "components":
		return cmdComponents(stdout)
	case "loadgen":
		if code := loadgen.Main(args[1:], stdout, stderr); code != loadgen.ExitUsage {
			return code
		}
		return exitUsage // loadgen's own usage code is 2, the runtime's crash code
	case "version", "--version":
		fmt.Fprintf(stdout, "ackflow %s\n", version)
		return exitOK
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "ackflow: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `ackflow: telemetry pipelines with end-to-end acknowledgements

Usage:
  ackflow run [--config FILE] [--log-format text|json] [--log-level debug|info|warn|error]
        Run the pipelines of FILE (without --config: a built-in demo pipeline).
  ackflow validate --config FILE [--strict] [--format text|json]
        Check FILE and list every error with its YAML path, then the reference
        engine's keys that ackflow accepts without acting on them (--strict:
        refuse those too).
        It then prints what the configuration promises its clients on every
        path from a receiver to an exporter, and the contradictions it finds
        (--format json: the same report as JSON, alone on standard output).
  ackflow graph --config FILE [--format mermaid|dot]
        Draw the pipelines of FILE as a Mermaid flowchart (default) or a Graphviz
        digraph, each node annotated with its guarantee, warnings in red.
  ackflow top [--admin 127.0.0.1:8080] [--token T] [--interval 1s] [--once] [--json]
        Watch a running instance, like top: per pipeline and signal what was
        admitted, delivered, nacked, dropped and is in flight (and for how long);
        per node items/s in and out, failures by cause, queues, state, outputs.
        q or Ctrl-C quits; --once prints one frame, --json the raw status.
  ackflow tap [--admin 127.0.0.1:8080] [--token T] [--pipeline P] [--limit N] [--rate 10/s] NODE[:PORT]
        Print samples of what NODE sends on PORT (default: its default output)
        as OTLP JSON, one per line. The tap never slows, blocks or acks: a
        reader slower than the traffic gets fewer samples (the count is shown).
  ackflow components
        List the node types this build knows.
  ackflow loadgen [--endpoint 127.0.0.1:4317] [--protocol grpc|http] [--rate N] [--duration D] ...
        Send OTLP load to a loopback endpoint and report throughput and latency
        (ackflow loadgen --help lists the flags).
  ackflow version
        Print the version.

Exit codes:
  0  success: a clean drain, a valid file
  1  runtime failure: a node failed, or the drain deadline was reached with data still held
  2  crash: an unrecovered panic or a fatal error of the Go runtime (a bug: please report it)
  3  invalid configuration, flags or command
`)
}
