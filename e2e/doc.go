// Package e2e holds end-to-end tests of ackflow: real engines built from
// YAML with the node factories of the ackflow binary, real OTLP clients
// (gRPC and HTTP, protobuf and JSON, gzip and zstd) on one side and
// OTLP/gRPC sinks of package internal/testsink on the other, everything
// on 127.0.0.1.
//
// # What is checked
//
//   - pass-through: every item sent arrives exactly once and unchanged,
//     and a client's OK comes only after the sink accepted its data;
//   - outcome mapping: the sink's answer (or silence) becomes the client's
//     status, malformed requests never reach the sink;
//   - retry, fan-out failover, shutdown drain and deadline, backpressure;
//   - after every engine stops, its item accounting balances: admitted =
//     delivered + nacked + dropped, nothing in flight.
//
// # How the tests synchronise
//
// Receivers listen on port 0; the tests learn the bound addresses from the
// engine's "otlp receiver listening" log records. Waiting is on channels or
// on bounded polling of conditions (sink counters, engine status), never on
// fixed sleeps; every wait has a deadline.
//
// The package has no non-test code.
package e2e
