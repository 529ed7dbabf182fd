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
// each batch's dictionary extends the last one sent. Batches of one
// inbound stream do, so re-encoding them costs their records and their
// deltas. Batches of several inbound streams interleaved on one outbound
// stream do not: their dictionaries are unrelated, so each switch sends
// whole replacement dictionaries (still correct: the receiving reader
// replaces its dictionary), and the writer compares each batch's
// dictionaries with the last ones sent. Where that traffic matters, keep
// one outbound stream per inbound stream, or convert (ToPdata) and let
// the producer build one dictionary of its own.
package otap
