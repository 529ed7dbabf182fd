// Package otap is receiver:otap: OpenTelemetry Arrow (OTAP) over gRPC, the
// per-signal bidirectional streams ArrowLogs, ArrowMetrics and ArrowTraces
// of the Collector's otelarrow exporter and the reference engine's OTAP
// exporter, whose BatchStatus replies tell the client whether each batch
// was delivered.
//
// # The batch path
//
// Each BatchArrowRecords is decoded from its stream's Arrow IPC state
// (package pdata/otap: the records stand alone afterwards) and sent into
// the pipeline in the OTAP form, not converted: an exporter:otap behind
// the receiver sends the records as they are, and only a node that needs
// OTLP or the pdata model converts them (pdata.OTAPConversions counts
// it). Every batch is decoded, even one that will be refused, because
// the next batches' dictionary deltas build on it. A message is copied
// once, out of gRPC's buffers (codec.go); its Arrow payloads are decoded
// in place, and the records view that copy.
//
// # Answers
//
// With wait_for_result (the default) a batch is answered after its
// outcome: ack OK, transient nack UNAVAILABLE, permanent nack
// INVALID_ARGUMENT, no outcome within the timeout DEADLINE_EXCEEDED.
// Refusals before the pipeline (max_concurrent_requests,
// max_in_flight_bytes, the memory limit, a pipeline full for the timeout)
// are UNAVAILABLE: the client sends the batch again. A message that is not
// valid OTAP is answered INVALID_ARGUMENT when it has a batch id, and ends
// the stream in any case: its dictionaries can no longer be trusted.
//
// # Bounds
//
//	streams            max_streams open, max_streams_per_connection per connection
//	batches per stream max_concurrent_requests_per_stream (at most
//	                   response_stream_channel_size) read and not yet
//	                   answered: past it the stream is not read, and HTTP/2
//	                   flow control holds the client back
//	batches            max_concurrent_requests in the pipeline, all streams
//	memory             max_in_flight_bytes of decoded batches until their
//	                   outcome; arrow.max_batch_bytes to decode one batch;
//	                   arrow.max_dictionary_bytes of a stream's dictionaries;
//	                   max_request_size per message; compressed messages
//	                   pass the process's decompression gate
//	                   (otlpgrpc.ReserveDecompression)
//	replies            a client that does not read its replies for the
//	                   timeout has its stream ended (DEADLINE_EXCEEDED)
//
// # Drain
//
// When Run's context ends no new stream is accepted; each stream stops
// admitting (batches read meanwhile are answered UNAVAILABLE), answers the
// batches it holds as their outcomes arrive, and ends with UNAVAILABLE so
// that its client reconnects elsewhere. At the shutdown deadline every
// batch still waiting is answered UNAVAILABLE at once.
//
// # Module organization
//
//	config.go    the config block and its validation
//	receiver.go  the node: server, shared limits, outcomes
//	stream.go    one stream: reader, controller, writer, deadlines
//	codec.go     the gRPC codec: one copy per message, BatchArrowRecords
//	             decoded in place, failed decompression reported
//	metrics.go   ackflow_receiver_otap_* series
package otap
