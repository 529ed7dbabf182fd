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
// Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ackflow/ackflow/loadgen"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
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
		return loadgen.Main(args[1:], stdout, stderr)
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
`)
}
