// Package otlpgrpc is exporter:otlp_grpc: it sends each message as one
// OTLP/gRPC Export call and acks or nacks it from the answer.
//
// Payloads that are still the bytes a receiver took in are sent as they
// are: the raw codec (package otlp/otlpgrpc) hands their chunks
// to gRPC without copying or re-encoding. Up to max_in_flight calls run at
// once on one HTTP/2 connection, each on its own goroutine and each acked
// or nacked on its own; while all slots are taken the exporter refuses
// pdata through the inbox gate, so backpressure builds upstream and
// nothing is dropped.
//
// # Outcomes
//
// OK acks (a partial success too: its rejected items are counted and
// logged, rate-limited). A failure nacks: transient for the codes the OTLP
// specification lets clients retry (UNAVAILABLE, RESOURCE_EXHAUSTED,
// DEADLINE_EXCEEDED, CANCELLED, ABORTED, OUT_OF_RANGE, DATA_LOSS),
// permanent for the others. A call cut by the timeout nacks with cause
// timeout, one cut by a forced shutdown with cause node_shutdown.
//
// # Files
//
//	config.go    Config, defaults, Validate, endpoint parsing
//	exporter.go  factory, Exporter, the gRPC transport and the status mapping
//	metrics.go   the exporter's series
package otlpgrpc
