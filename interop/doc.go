// Package interop checks that ackflow speaks OTLP with the real
// OpenTelemetry Collector and telemetrygen, built from the Go module proxy
// at the versions pinned in this module's go.mod (kept apart from the main
// module so that it stays lean).
//
// # What runs
//
// TestMain builds four binaries once into a temporary directory (or takes
// them from $INTEROP_BIN_DIR): ackflow from the repository root, the
// minimal collector in cmd/otelcol, the collector with the contrib
// otelarrow receiver and exporter in otelarrowcol (its own module, on the
// older collector core those pin) and telemetrygen (a `tool` of this
// module). The tests start them as processes on 127.0.0.1 with free ports:
//
//	TestTelemetrygenToAckflowToCollector  telemetrygen → ackflow → collector → in-test sink
//	TestCollectorToAckflow                telemetrygen → collector → ackflow → exporter:noop
//	TestNackPropagatesToClients           client → (collector →) ackflow → dead port: UNAVAILABLE
//
// The OTAP tests (otap_test.go) are skipped while ackflow does not list
// the node types they need (receiver:otap, exporter:otap):
//
//	TestOTAPCollectorToAckflow        telemetrygen, client → collector otelarrow → ackflow receiver:otap → sink
//	TestOTAPAckflowToCollector        telemetrygen, client → ackflow exporter:otap → collector otelarrow → sink
//	TestOTAPAckflowToAckflow          telemetrygen, client → ackflow exporter:otap → ackflow receiver:otap → sink
//	TestOTAPNacks{AckflowToAckflow,CollectorToAckflow,AckflowToCollector}
//	                                  the sink refuses (INVALID_ARGUMENT, UNAVAILABLE): the client is told so
//
// TestOTAPControlCollectorToCollector runs the same clients, collector
// configurations and checks with the collector on both sides of the OTAP
// hop, always: a failure there is the harness's, not ackflow's.
//
// Besides counting items, the OTAP tests compare the content of a request
// of each signal, field by field, with what the sink received
// (content_test.go).
//
// Every test ends ackflow with SIGTERM and checks the exit code (0) and the
// per-pipeline summary line. run.sh builds and runs it all; .ci/run calls it.
package interop
