// Command ackflow runs telemetry pipelines described by an otel_dataflow/v1
// document, with end-to-end acknowledgements.
//
// Usage:
//
//	ackflow run [--config FILE] [--log-format text|json] [--log-level LEVEL]
//	ackflow validate --config FILE
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
  ackflow validate --config FILE
        Check FILE and list every error with its YAML path.
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
