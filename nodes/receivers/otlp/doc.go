// Package otlp is receiver:otlp: OTLP/gRPC and OTLP/HTTP (protobuf and
// JSON) for logs, metrics and traces, whose answers tell the client whether
// its data was delivered.
//
// # The request path
//
// gRPC requests are taken as bytes by a raw codec (package otlpgrpc),
// checked by the protobuf wire scan (framing, field numbers and lengths;
// the scan also counts the items) and sent into the pipeline as they are:
// nothing is decoded unless a node downstream asks. HTTP protobuf bodies
// take the same path; JSON bodies are decoded into pdata once. Malformed
// requests are answered INVALID_ARGUMENT / 400 and never enter the
// pipeline.
//
// # Answers
//
// With wait_for_result (the default) each request subscribes to its
// message's outcome with its request id as call data, and its handler waits
// for the ack or nack (delivered by OnOutcome from any goroutine through a
// map of waiting requests), the timeout, the client's deadline or the
// shutdown deadline. The mapping (see README.md for the full table):
//
//	ack                      OK                 200
//	transient nack           UNAVAILABLE        503 + Retry-After
//	permanent nack           INVALID_ARGUMENT   400
//	no outcome in timeout    DEADLINE_EXCEEDED  504
//	pipeline full until then UNAVAILABLE        503 + Retry-After
//
// A request that stops waiting removes its waiter, so an outcome arriving
// later is counted (late_outcomes_total) and dropped: nothing leaks.
//
// # Limits and backpressure
//
// max_concurrent_requests bounds the requests each protocol holds; beyond
// it requests are refused as retryable before their body is read.
// max_request_size bounds bodies, compressed and decompressed. A full
// pipeline blocks the handler (bounded by the timeout and the client's
// deadline), which is the backpressure clients see.
//
// # Drain
//
// When Run's context ends the listeners close (gRPC GracefulStop, HTTP
// Shutdown) and in-flight requests keep being resolved from their outcomes;
// Run returns when the last is answered. At the shutdown deadline
// (Aborted) whatever still waits is answered UNAVAILABLE / 503 and the
// connections are closed. No request is left without an answer.
//
// # Files
//
//	config.go    Config, defaults, Validate, per-protocol resolution
//	core.go      admission: verdicts, waiters, send with backpressure, trackers
//	grpc.go      the gRPC services and the status mapping
//	http.go      the HTTP handler, body reading and the status mapping
//	receiver.go  factory, Receiver, Run and the drain
//	metrics.go   the receiver's series
package otlp
