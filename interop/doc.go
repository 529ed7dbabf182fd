// Package interop checks that ackflow speaks OTLP with the real
// OpenTelemetry Collector and telemetrygen, built from the Go module proxy
// at the versions pinned in this module's go.mod (kept apart from the main
// module so that it stays lean).
//
// # What runs
//
// TestMain builds three binaries once into a temporary directory (or takes
// them from $INTEROP_BIN_DIR): ackflow from the repository root, the
// minimal collector in cmd/otelcol and telemetrygen (a `tool` of this
// module). The tests start them as processes on 127.0.0.1 with free ports:
//
//	TestTelemetrygenToAckflowToCollector  telemetrygen → ackflow → collector → in-test sink
//	TestCollectorToAckflow                telemetrygen → collector → ackflow → exporter:noop
//	TestNackPropagatesToClients           client → (collector →) ackflow → dead port: UNAVAILABLE
//
// Every test ends ackflow with SIGTERM and checks the exit code (0) and the
// per-pipeline summary line. run.sh builds and runs it all; .ci/run calls it.
package interop
