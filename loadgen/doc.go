// Package loadgen is ackflow's OTLP load generator: it sends OTLP logs,
// metrics or traces over gRPC or HTTP (protobuf), or the same requests as
// OTAP (OpenTelemetry Arrow) streams, to a loopback endpoint,
// from several workers, at a set rate or as fast as possible, for a bounded
// time and/or number of requests, and reports throughput, errors by status
// and latency percentiles. The benchmark runner in bench/ drives it, and
// [Main] is the `ackflow loadgen` command.
//
// # Cheap sending
//
// Requests are encoded once, at start: a pool of [Config.Pool] distinct
// export requests (deterministic content, so two runs with the same flags
// send the same bytes), each of [Config.Items] items. Log records come in
// two shapes ([Config.Shape]): [ShapeBody], a body of [Config.BodySize]
// bytes and one attribute, and [ShapeSDK], a 64-byte body and four short
// string attributes (~185 B per record), as many SDK batches look. Workers send them in
// turn without marshalling anything: over gRPC through the raw codec of
// package otlp/otlpgrpc (the one ackflow's OTLP nodes use), which hands the
// bytes to grpc-go as they are, over HTTP as the request body. The
// generator registers nothing with grpc-go itself: gzip and zstd come from
// otlp/otlpgrpc, so a binary that links both the generator and the OTLP
// receiver has one zstd decoder, with the receiver's window cap.
// With HTTP, gzip and zstd bodies are compressed once at start as well;
// with gRPC, grpc-go compresses each call itself (it has no way to send
// bytes that are already compressed), which costs the generator CPU.
//
// # OTAP
//
// With [OTAP] each connection carries one Arrow stream of the signal
// (ArrowLogs, ArrowMetrics or ArrowTraces); each request is the stream's
// next BatchArrowRecords, and its BatchStatus is its answer (status codes
// are gRPC's, reported under the same names). The batches are made from
// the same pool of requests, but they cannot be pre-encoded: an Arrow
// stream is stateful (a batch refers to the schemas and dictionaries
// earlier batches of the same stream defined), so each stream has its own
// encoder (package pdata/otap) and encodes each batch when it is sent,
// under the stream's lock, so batches leave in encoder order. A batch is
// never re-sent. Encoding costs the generator CPU (the pool's requests are
// decoded once, the conversion to Arrow is paid per batch); latency is
// counted from the send, without it. Workers sharing a connection
// ([Config.Connections]) have several batches in flight on its stream. A
// stream the server ends fails its pending batches with the stream's
// status, and the next request opens a new stream with a new encoder.
// Encoding costs the generator several microseconds per item, more than
// some systems under test spend: [Config.OTAPRing] has each stream encode
// a ring of batches before the run instead, and send it in order from the
// start of a new stream each time round (a stream that replayed its
// batches would repeat schemas and dictionaries its receiver already
// has). Each batch is made unique (its log bodies, trace and span ids
// carry its number), so no stream's dictionaries, nor the system's
// exporter's, can turn the repeated pool into indices.
// [Config.Compression] compresses the gRPC messages, and
// [Config.ArrowCompression] the Arrow buffers inside each batch.
//
// # Pacing and bounds
//
// A run stops at [Config.Duration] or after [Config.Requests] requests,
// whichever comes first; at least one of the two must be set. Every request
// takes a ticket from one shared counter: the ticket number is checked
// against the request budget and, with a rate, gives the request's due time
// (start + n/rate), so the total rate is exact whatever the number of
// workers. Workers that fall behind (answers slower than the rate allows)
// send late requests at once to catch up, but never past the deadline: the
// offered rate is then what the workers can sustain, which the report
// shows. A request that never gets an answer is cut at
// [Config.Timeout] and counted as a timeout; after the deadline the run
// waits for the requests in flight, so nothing is left unanswered.
//
// # Safety
//
// The generator refuses any endpoint whose host resolves to a non-loopback
// address unless [Config.AllowNonLoopback] is set, and checks again at every
// dial (the resolution may change, and an HTTP redirect could point
// elsewhere: redirects are not followed).
//
// # Report
//
// [Report] counts requests, items (only those of successful requests),
// errors by status (gRPC code names such as "Unavailable", HTTP status
// codes such as "503", or "timeout" and "transport" for requests without an
// answer) and latency percentiles from a log-linear histogram (relative
// error under 1.6 %). It prints as text ([Report.WriteText]) or JSON.
//
// # Module organization
//
//	config.go    Config, defaults and validation
//	payload.go   deterministic OTLP requests and the pre-encoded pool
//	loopback.go  the loopback check and the guarded dialer
//	grpc.go      the gRPC sender (over otlp/otlpgrpc's client)
//	http.go      the HTTP sender
//	otap.go      the OTAP sender: Arrow streams, one encoder each
//	run.go       Run: workers, tickets, pacing
//	report.go    Report, the latency histogram, text and JSON output
//	main.go      Main: the command line
package loadgen
