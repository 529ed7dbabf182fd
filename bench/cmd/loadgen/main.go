// Command loadgen is ackflow's OTLP load generator (package loadgen) as a
// program of its own, so the benchmark runner can pin it to a CPU apart
// from the system under test. `ackflow loadgen` takes the same flags.
//
// Usage:
//
//	loadgen --endpoint 127.0.0.1:4317 --duration 10s --json
package main

import (
	"os"

	"github.com/ackflow/ackflow/loadgen"
)

func main() { os.Exit(loadgen.Main(os.Args[1:], os.Stdout, os.Stderr)) }
