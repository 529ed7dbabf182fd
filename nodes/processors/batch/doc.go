// Package batch is processor:batch: it merges small inputs into batches and
// splits large ones, per signal (logs, metrics, traces) and per payload form
// (OTLP bytes, decoded pdata), and answers every input upstream exactly once:
// acked when every batch holding any of its data is acked, nacked at the
// first nack of such a batch.
//
// # Quick start
//
//	nodes:
//	  batch:
//	    type: processor:batch
//	    config:
//	      format: preserve            # otlp | otap | preserve
//	      otlp: { min_size: 256KiB, max_size: 1MiB, sizer: bytes }
//	      otap: { min_size: 8192, sizer: items }
//	      max_batch_duration: 200ms   # 0s: split-only
//	      inbound_request_limit: 1024 # per signal and form
//	      outbound_request_limit: 512 # per signal and form
//
// # Batching without decoding
//
// OTLP payloads are sized in bytes and batched as bytes: two serialized
// export requests concatenated are one valid request, so a batch is the
// list of its inputs' chunks (pdata.FromOTLPChunks), and no byte is copied.
// An input that does not fit is cut between top-level fields (resource
// entries), found by reading the request's top-level framing only; the
// parts alias the input's bytes, and otlpwire.Scan counts the items of the
// smaller part. An input held as the buffers a transport received it in
// (pdata.Payload.Framed) is joined into one request, once, only when it
// must be cut (piece.joined). Only a single resource entry larger than max_size is
// decoded, split by records and re-encoded (within the split budgets;
// otherwise it is sent whole, over max_size).
//
// Decoded payloads are sized in items and batched with pdata: inputs are
// read-only, so a batch that is not one whole input is a new container into
// which the items are copied once, by item ranges (see decoded.go).
//
// `format: otlp` batches everything as OTLP, encoding decoded inputs;
// `format: otap` batches everything decoded, decoding OTLP inputs (ackflow
// has no OTAP Arrow form yet, so otap means "decoded pdata", sized in items
// like the reference engine's OTAP batches); `preserve` batches each input
// in its own form and never mixes forms in one batch.
//
// # When a buffer is flushed
//
//   - size: as soon as its pending size reaches min_size (or max_size when
//     min_size is unset). With max_size set the pending data is cut into
//     batches of at most max_size; a last batch below the lower limit stays
//     pending and waits for more data, with a fresh deadline.
//   - timer: max_batch_duration after the oldest pending input arrived. One
//     wakeup slot per (signal, form); a wakeup is acted on only if the
//     batch is old enough, so a stale or early delivery is ignored.
//   - limit: when the buffer holds inbound_request_limit inputs and all of
//     them are pending: the node stops accepting data and no ack could
//     reopen it, so waiting would only add latency.
//   - shutdown: everything, at the Shutdown message.
//
// With max_batch_duration 0s (split-only) every input is flushed at once,
// cut to max_size.
//
// # Ack bookkeeping
//
// Every batch subscribes to acks and nacks with call data {buffer, batch
// id}, so an outcome finds its batch without looking at the payload. Each
// batch keeps the list of (input, items) it carries; each input counts the
// places holding its data (pending pieces and batches). An ack brings the
// count down and the input is acked at zero. A nack nacks every input the
// batch carries at once, keeping the downstream permanent flag and cause
// (the reason is prefixed "batch: "); their later outcomes are ignored and
// their still pending data is dropped from the buffer, since the sender
// will retry it. Batches go out in the order the data came in.
//
// # Limits and backpressure
//
// Per (signal, form): at inbound_request_limit held inputs the node answers
// AcceptPData false (the engine keeps the data queued upstream; nothing is
// nacked); at outbound_request_limit batches in flight, further batches
// are held, in order, until acks free room.
//
// # Shutdown
//
// At Shutdown every buffer is flushed and every held batch is sent (the
// outbound limit is waived: the outputs close when the call returns). The
// node is an engine.Drainer: Pending is the number of inputs not yet
// answered, so outcomes are still routed until the deadline; at the forced
// Shutdown every input still held is nacked with cause node_shutdown.
//
// # Module organization
//
//	config.go   Config, defaults, validation
//	factory.go  NewFactory: decoding and construction
//	core.go     the state machine: admission, flushes, outcomes, shutdown
//	cut.go      packing pending pieces into batches; OTLP splitting
//	frame.go    the top-level framing of OTLP requests, for cut points
//	decoded.go  item ranges of decoded payloads; splitting oversize entries
//	metrics.go  the node's metric families
package batch
