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
// whatever the stream sends next (later values never change what an
// earlier batch's arrays view).
//
// # Dictionaries the decoder keeps
//
// arrow-go's reader concatenates a dictionary with each delta for the
// next record: a stream whose values do not repeat (log bodies, ids) grows
// its dictionaries by a batch's worth every batch, and each batch then
// costs a copy of everything the stream sent before. So the decoder keeps
// the dictionaries of the layouts OTAP dictionary-encodes (strings,
// binaries, fixed-width values; messages.go, dictionaries.go) itself, each
// dictionary batch as it came (viewing the payload when it is most of its
// batch, else copied), and gives each record the smallest dictionary that
// holds what its indices reference: the one dictionary batch holding them
// all, its indices shifted to it, or else a contiguous copy of the
// dictionary so far, which grows in place (dictarena.go). A batch that
// references only values it brought costs its rows; one that references
// older values costs their copy once, amortised. Dictionaries of other
// layouts, or batches the decoder cannot keep (lz4, nulls among the
// values), are left to arrow-go's reader.
//
// zstd-compressed record batches are decompressed with pooled decoders
// (arrow-go starts a new decoder, with its goroutines, per message), and
// uncompressed payloads are not copied: the records view the
// BatchArrowRecords' bytes, which must not change afterwards.
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
//	                  pdata model with the library's producer. With Zstd, the
//	                  Arrow buffers are then compressed by the encoder itself
//	                  (compress.go), at EncoderOptions.ZstdLevel (1 by
//	                  default, where arrow-go's writer uses zstd's default,
//	                  3: about a third of the CPU on values that do not
//	                  repeat, for the same size within 1 % on the package's
//	                  test data).
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
// decoder counts what the call allocates (decompressed buffers,
// dictionary batches copied, the growth of a kept dictionary's contiguous
// copy, what arrow-go's reader allocates) and refuses, before allocating,
// what goes over it: a zstd bomb is an ErrTooLarge, not an out-of-memory
// crash. The budget also bounds the rows a batch may declare (one per 32
// bytes), because converting rows to pdata allocates per row, whatever
// few bytes declared them. The stream's dictionaries, which outlive
// batches, are bounded as a whole by MaxDictionaryBytes (the bytes the
// decoder keeps, with a contiguous copy's room to grow, which it reserves
// only where the limit leaves room). A Batch's Size
// counts the dictionaries it references: the values of one dictionary
// batch when one holds all it references (its own, for values that do
// not repeat), else the stream's dictionary so far, shared with its
// other batches. A kept
// dictionary batch that views its payload keeps its batch's bytes alive
// (it is kept as a view only when it is at least half of them).
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
// dictionaries may hold everything its inbound stream accumulated, not
// only what the batch uses, so before re-encoding the encoder compacts them
// (compact.go): within one inbound stream it hands the writer the used
// entries as an extension of what it sent last (deltas survive; a fully
// used dictionary passes untouched); when another inbound stream's batch
// comes, it starts afresh with only the entries that batch uses. So
// batches of several clients interleaved on one outbound stream cost a
// replacement dictionary of their own values at each switch, not the
// inbound streams' whole history (measured: 57 → 23 KiB per 1,000-log
// batch for two interleaved streams; one stream's output unchanged).
package otap
