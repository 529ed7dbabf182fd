// Package otap is the OTAP (OpenTelemetry Arrow) form of a pdata payload:
// a Batch holds the Arrow records of one BatchArrowRecords, a Decoder
// reads them from an inbound OTAP stream, an Encoder writes payloads of
// any form to an outbound one.
//
// # Why batches are decoded from the stream state
//
// An OTAP stream is stateful. Each payload type (LOGS, LOG_ATTRS, ...)
// travels as an Arrow IPC stream identified by its SchemaId: the schema is
// sent once, dictionaries once and then as deltas, and a record batch
// message means nothing without them. A BatchArrowRecords is therefore not
// data by itself, and a node cannot hold it, route it or hand it to
// another stream. Decode reads each payload through its IPC stream's
// reader, so the records it returns reference the dictionaries as they
// were at that batch, with their values resolved: a Batch stands alone,
// whatever the stream sends next (a delta builds a new dictionary array;
// the old one stays alive as long as a batch holds it).
//
// # What is decoded, and where
//
//	Decoder.Decode    IPC bytes → Arrow records (zstd decompressed, dictionaries
//	                  resolved, structure checked). No pdata, no OTLP.
//	Batch.ToPdata     Arrow records → plog/pmetric/ptrace, with the library's
//	                  converters: only when a node needs the pdata or OTLP form
//	                  (pdata.Payload does it once, lazily, and counts it in
//	                  pdata.OTAPConversions).
//	Encoder.Encode    a Batch: its records re-encoded as they are (Arrow IPC
//	                  writer, no conversion); any other payload: through the
//	                  pdata model with the library's producer.
//
// So receiver:otap → routing nodes → exporter:otap never leaves Arrow,
// and a node that needs OTLP pays one conversion per payload.
//
// # Memory model
//
// Records handed to the pipeline are never released: their memory is Go
// memory, owned by the GC, and their life ends when the last payload,
// converted pdata (whose strings view the Arrow buffers) or encoder
// dictionary referencing them is gone. A Batch pins its records (their
// Retain and Release do nothing) because the library's converters and
// producer release what they are given, and an Arrow reference count
// reaching zero nils buffers other holders still read.
//
// Each Decode call has a budget, DecoderOptions.MaxBatchBytes: the
// decoder's allocator counts what the call allocates (IPC bodies,
// decompressed buffers, dictionaries concatenated with their deltas) and
// refuses, before allocating, what goes over it: a zstd bomb is an
// ErrTooLarge, not an out-of-memory crash. The budget also bounds the rows
// a batch may declare (one per 32 bytes), because converting rows to
// pdata allocates per row, whatever few bytes declared them. The
// stream's dictionaries, which outlive batches, are bounded as a whole by
// MaxDictionaryBytes. A Batch's Size counts the dictionaries it
// references, which it shares with the other batches of its stream.
//
// What a batch becomes downstream is bounded too. A dictionary-encoded
// column costs its indices, whatever the values they reference, and so
// does ToPdata (pdata strings view the Arrow buffers); its OTLP form
// copies the value once per reference. Decode sums a batch's expanded
// size, its buffers with every dictionary reference materialised, at any
// depth (on the pass that range-checks the indices), and refuses one over
// MaxExpandedBytes (256 MiB by default) as ErrTooLarge: 2 M rows all
// referencing one 60 MiB string, a few KiB of zstd, would otherwise make
// the node marshaling OTLP build 126 TB and end the process.
//
// # Hostile streams
//
// Decode never panics (it recovers around the Arrow reader and every
// check), refuses what it cheaply can (unknown payload types, another
// signal's, related records without their main record, a payload type
// twice, IPC framing that runs past the payload, dictionary indices,
// offsets or union codes out of range), and wraps its errors in exactly
// one of ErrInvalid and ErrTooLarge. After an error the stream's state is
// suspect: the caller ends the stream. ToPdata and Encode recover panics
// too, and ToPdata fails rather than return data whose item count is not
// the batch's Items.
//
// # Dictionaries across streams
//
// An Encoder's IPC writer sends a dictionary once, then only deltas while
// each batch's dictionary extends the last one sent. A record's
// dictionaries hold everything its inbound stream accumulated, not only
// what the batch uses, so before re-encoding the encoder compacts them
// (compact.go): within one inbound stream it hands the writer the used
// entries as an extension of what it sent last (deltas survive; a fully
// used dictionary passes untouched); when another inbound stream's batch
// comes, it starts afresh with only the entries that batch uses. So
// batches of several clients interleaved on one outbound stream cost a
// replacement dictionary of their own values at each switch, not the
// inbound streams' whole history (measured: 57 → 23 KiB per 1,000-log
// batch for two interleaved streams; one stream's output unchanged).
package otap
