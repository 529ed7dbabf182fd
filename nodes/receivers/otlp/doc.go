// Package otlp is receiver:otlp: OTLP/gRPC and OTLP/HTTP (protobuf and
// JSON) for logs, metrics and traces, whose answers tell the client whether
// its data was delivered.
//
// # The request path
//
// gRPC requests are taken as bytes by a raw codec (package otlp/otlpgrpc),
// checked by the protobuf wire scan (framing, field numbers and lengths;
// the scan also counts the items) and sent into the pipeline as they are:
// nothing is decoded unless a node downstream asks. HTTP protobuf bodies
// take the same path; JSON bodies are decoded into pdata once, after one
// cheap pass that refuses what would hurt the decoder or be lost by it
// (json.go): invalid UTF-8, anything after the document, nesting that
// would overflow its recursion, a decoded size over max_request_size. In
// both encodings AnyValues may nest at most otlpwire.MaxValueDepth levels.
// Malformed requests are answered INVALID_ARGUMENT / 400 (JSON too large
// once decoded: 413) and never enter the pipeline.
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
// max_concurrent_requests bounds the requests each protocol holds; a
// request takes its slot once its body is in (so slow uploads hold none),
// and is refused as retryable before its body is read when the limit is
// already reached. max_request_size bounds bodies, compressed and
// decompressed. A full pipeline blocks the handler (bounded by the timeout
// and the client's deadline), which is the backpressure clients see.
//
// # Hostile clients
//
// Everything a client can take is bounded in number and time (see
// README.md, "Memory bound", for the arithmetic):
//
//	connections     max_connections per listener, half the file limit per
//	                process; idle ones evicted first (conns.go)
//	streams         max_concurrent_streams per connection (gRPC, HTTP/2)
//	body time       the timeout from the headers; HTTP also a minimum rate
//	                (bodyPacer); gRPC a timer around grpc-go's read
//	memory          max_in_flight_bytes, charged as bytes arrive: HTTP
//	                buffers as they grow (reservation), gRPC the bytes a
//	                connection receives during its read turn (turnCharge);
//	                one gRPC body read per connection at a time, so that
//	                grpc-go opens one stream window to a whole message;
//	                gRPC messages being decompressed, before they reach
//	                the handler, in otlpgrpc's gate for the process
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
//	config.go     Config, defaults, Validate, per-protocol resolution
//	core.go       admission: verdicts, byte budget, waiters, send with backpressure, trackers
//	conns.go      connection caps, eviction, gRPC read turns and their charge
//	filelimit_*   the process's open-files limit
//	grpc.go       the gRPC services, server options and the status mapping
//	http.go       the HTTP handler, body reading and the status mapping
//	json.go       OTLP/JSON: the prescan, decoding, the value depth walk
//	receiver.go   factory, Receiver, Run and the drain
//	metrics.go    the receiver's series
//	hostiletest/  hostile clients for tests (stalled streams, trickled bodies)
package otlp
