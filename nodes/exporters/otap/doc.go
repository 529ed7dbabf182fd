// Package otap is exporter:otap: it sends each message as one
// BatchArrowRecords on a long-lived OTAP (OpenTelemetry Arrow) gRPC stream
// of its signal and acks or nacks it from the BatchStatus the server
// returns for its batch_id.
//
// The in-flight bookkeeping (max_in_flight, the timeout, drain and forced
// shutdown, exactly one outcome per message) is the shared driver's
// (nodes/internal/exportdriver); this package is its transport.
//
// # Streams
//
// Each signal has streams_per_signal lanes. A lane is a bounded queue
// (stream_queue_capacity) and one goroutine that owns the lane's current
// stream: its otap.Encoder (the Arrow dictionaries, batch ids 0, 1, 2, ...)
// and its lifetime. Export puts the payload on the least loaded lane of its
// signal, waiting while that queue is full (backpressure: the driver's
// gate then closes at max_in_flight), and waits for the outcome. The lane
// goroutine opens a stream when a batch waits and none is open (headers
// are its initial metadata), encodes, records batch_id → waiter, and
// sends. A receive goroutine per stream matches each BatchStatus to its
// waiter; a status for no batch in flight is counted and logged
// (rate-limited) and settles nothing.
//
// A waiter is settled exactly once (a compare-and-swap), by whichever
// comes first: its status, the end of its stream, an encoding failure, or
// the end of its export's context (timeout, forced shutdown). A status
// that comes later is counted as late.
//
// # When streams end
//
//   - Broken (Send or Recv error, or the server ends the stream while
//     batches are in flight): every batch in flight on it is nacked
//     transiently, saying why; queued and later batches go on a new stream.
//   - Open failed: the batch that wanted the stream and those queued behind
//     it are nacked transiently; the next open waits a backoff (10ms
//     doubling to 10s), as it does after a stream that broke before the
//     server answered anything on it.
//   - arrow.max_stream_lifetime reached, or an encoding error (the encoder
//     is discarded with its stream): the stream takes no new batch and is
//     half-closed; its batches in flight finish, for at most the timeout,
//     and what is left is nacked transiently, while a new stream takes the
//     new batches.
//   - Close: the driver closes the transport only with nothing in flight;
//     every stream and goroutine ends.
//
// All waiting (lifetime, backoff, the bound on a retired stream) goes
// through the node's clock.
//
// # Files
//
//	config.go    Config, defaults, Validate, endpoint parsing, TLS
//	exporter.go  factory, Exporter, the transport (Export, lane choice) and the status mapping
//	lane.go      lanes, streams, waiters: the stream life cycle
//	metrics.go   the exporter's stream series
package otap
