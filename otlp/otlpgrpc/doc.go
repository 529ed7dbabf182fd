// Package otlpgrpc is the OTLP wire plumbing shared by every OTLP speaker
// in ackflow: receiver:otlp, exporter:otlp_grpc, exporter:otlp_http and the
// load generator (loadgen). It lets them speak OTLP without generated
// protobuf code and without decoding the data they carry.
//
// # Bytes in, bytes out
//
// [Codec] is a grpc-go CodecV2 that never unmarshals a request: on the
// server it hands the handler the request body as bytes ([Request]), on the
// client it sends a payload's chunks as they are ([ExportRequest]). It is
// forced per server ([ServerOptions]) and per call ([Client]) rather than
// registered globally, so other gRPC users in the process keep the real
// protobuf codec. The three OTLP collector services are described by hand
// ([RegisterServer], [FullMethod]), so no generated stubs are needed.
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
// init time). This is the only zstd registration in ackflow: whatever is
// linked into a binary, gRPC and HTTP decode zstd with the same pooled
// decoders and the same window cap ([ZstdMaxWindow]), and a frame declaring a
// larger window is refused as malformed (gRPC INVALID_ARGUMENT, HTTP 400).
// [NewZstdReader] and [NewZstdWriter] give the HTTP nodes those coders.
//
// # Module organization
//
//	codec.go     Codec, Request, Response, ExportRequest
//	service.go   the three OTLP services: RegisterServer, FullMethod, Client, ServerOptions, DialOptions
//	wire.go      partial success and google.rpc.Status on the wire
//	compress.go  gzip and zstd registration, pooled zstd coders
//	tls.go       server and client TLS settings
package otlpgrpc
