// Package loadgen is ackflow's OTLP load generator: it sends OTLP logs,
// metrics or traces over gRPC or HTTP (protobuf) to a loopback endpoint,
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
//	run.go       Run: workers, tickets, pacing
//	report.go    Report, the latency histogram, text and JSON output
//	main.go      Main: the command line
package loadgen
