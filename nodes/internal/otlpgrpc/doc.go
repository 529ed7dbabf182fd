// Package otlpgrpc is the OTLP plumbing shared by receiver:otlp,
// exporter:otlp_grpc and exporter:otlp_http. It lets them speak OTLP without
// generated protobuf code and without decoding the data they carry.
//
// # Bytes in, bytes out
//
// [Codec] is a grpc-go CodecV2 that never unmarshals a request: on the
// server it hands the handler the request body as bytes ([Request]), on the
// client it sends a payload's chunks as they are ([ExportRequest]). It is
// forced per server ([ServerOptions]) and per call ([Invoke]) rather than
// registered globally, so other gRPC users in the process keep the real
// protobuf codec. The three OTLP collector services are described by hand
// ([RegisterServer]), so no generated stubs are needed.
//
// # Small wire parsers
//
// An OTLP response is tiny: empty on success, or a partial_success message.
// [ParsePartialSuccess] reads it, [AppendStatus] and [ParseStatus] write and
// read the google.rpc.Status body of OTLP/HTTP errors.
//
// # Compression
//
// Importing the package registers gRPC's gzip compressor and a zstd one
// (grpc-go only looks compressors up in its process-wide registry, filled at
// init time). [NewZstdReader] and [NewZstdWriter] give the HTTP nodes the same
// pooled zstd coders.
//
// # Exporters
//
// [Driver] is the in-flight bookkeeping both OTLP exporters run on: each
// message is one export on its own goroutine, at most max_in_flight at once
// (the inbox gate), completed with an ack or a nack and a Post that frees the
// slot on the node goroutine; a forced shutdown cancels and nacks what is
// left. The exporters only supply the transport ([Transport]).
//
// # Module organization
//
//	codec.go     Codec, Request, Response, ExportRequest
//	service.go   the three OTLP services: RegisterServer, Invoke, ServerOptions, ClientOptions
//	wire.go      partial success and google.rpc.Status on the wire
//	compress.go  gzip and zstd registration, pooled zstd coders
//	tls.go       server and client TLS settings
//	driver.go    Driver, Transport, Result: the exporters' in-flight core
//	metrics.go   the Driver's metrics
package otlpgrpc
