// Package otlpwire checks, counts and splits serialized OTLP export requests
// without decoding them.
//
// ackflow forwards OTLP as the bytes it received (docs/ENGINE.md, "Bytes,
// not objects"): decoding a request into pdata costs about 1 µs per log record,
// while walking its protobuf framing costs 10-20 ns. This package is that
// walk. It never builds objects, and Scan, AppendEntries and AppendSplit do
// not allocate (beyond growing the caller's slice) unless they fail.
//
//	st, err := otlpwire.Scan(otlpwire.Logs, body) // validate and count
//	chunks, err := otlpwire.Split(otlpwire.Logs, body, 4<<20)
//
// # What Scan checks
//
// It walks ExportLogsServiceRequest, ExportMetricsServiceRequest or
// ExportTraceServiceRequest from the top down to the item records:
//
//	request   resource entries (field 1)
//	resource  resource (1), scope entries (2), schema_url (3), deprecated scope entries (1000)
//	scope     scope (1), items (2: log records, metrics or spans), schema_url (3)
//	metric    name, description, unit (1-3), gauge (5), sum (7), histogram (9),
//	          exponential_histogram (10), summary (11), metadata (12)
//	data      data_points (1), aggregation_temporality (2), is_monotonic (3)
//
// At every level it walks, known fields must have the wire type pdata expects
// (messages and strings length-delimited, enums and bools varint), and unknown
// fields are skipped once their framing is checked, as protobuf forward
// compatibility requires. The messages below that level (Resource,
// InstrumentationScope, LogRecord, Span, the data points, metric metadata)
// are opaque: every field of theirs is framing-checked, none is interpreted.
// Framing means: a tag is a varint of at most 10 bytes with a field number in
// [1, 2^29-1] and wire type 0, 1, 2 or 5; a varint ends within 10 bytes and
// within its message; fixed-size values and length-delimited payloads end
// within their message (lengths are compared as uint64, so no length can
// wrap around int). Groups (wire types 3 and 4) are rejected: OTLP is proto3
// and never contains them.
//
// Every failure wraps ErrMalformed and names the byte offset in the request,
// the message and what was wrong.
//
// # Nesting depth
//
// AnyValues nest (an array_value or kvlist_value holds more AnyValues), and
// every decoder recurses once or more per level: pdata's UnmarshalProto,
// AsRaw, the JSON marshaller. A log body nested 2.5 million levels deep is
// 25 MB (8 MB gzipped) and overflows the stack of any node that decodes it,
// which kills the process. So Scan also refuses AnyValues nested deeper
// than MaxValueDepth (64) levels, counting a body or an attribute's value
// as level 1 and the value of every KeyValue, even an absent one (pdata
// gives each KeyValue a value and writes it back out). It follows every
// field through which pdata reaches an AnyValue: log bodies and
// attributes; span, event and link attributes; data point and exemplar
// attributes; metric metadata; resource and scope attributes. The error
// wraps ErrTooDeep as well and names the path, such as
// "resource_logs[0].scope_logs[2].log_records[17].attributes[3]".
//
// The walk costs nothing on ordinary telemetry: a level takes at least 4
// bytes on the wire, so a field shorter than 4*MaxValueDepth bytes (256)
// cannot break the limit and is not entered, and the fast path of the
// record check never looks at nesting at all. Measured on the docs/BENCHMARKS.md
// load (1,000 records of ~185 B): ~19 ns per record before and after. Long
// values are entered down to where the rest is too short to matter: a 1 KiB
// string body costs ~10 ns more per record (24 to 35 ns), two 400-byte map
// attributes ~45 ns more (40 to 86 ns). A 25 MB request nested 2.5 million
// levels deep is refused in well under a millisecond, having read the first
// 65 levels. The walk only judges nesting: a framing error inside a value
// ends it silently (pdata reports those, and stops there too, so it never
// descends further than the walk did).
//
// # What Scan does not check
//
// Scan is a gate for forwarding, not a decoder, so a request it accepts may
// still be rejected by a full decoder such as pdata's:
//
//   - strings are not checked to be UTF-8 (see below);
//   - fields inside the opaque messages are not checked against their
//     schema: a LogRecord whose time_unix_nano is a varint, or an attribute
//     whose AnyValue is malformed, passes Scan;
//   - field values are not range-checked (enums, trace ids of wrong length).
//
// OTLP is proto3, whose strings must be UTF-8, yet Scan does not check
// them, on purpose. The strings of a record are its body, severity text,
// event name and every attribute key and string value: checking them means
// walking into every attribute of every record, which Scan otherwise never
// does. Measured on the docs/BENCHMARKS.md load, that walk alone takes Scan from
// ~20 to ~115 ns per record (the UTF-8 check itself adds ~4 ns), several
// times the whole forwarding budget. pdata's decoder does not check either,
// so a request that passes Scan decodes the same with or without the check,
// and forwarding the bytes as received changes nothing for the next hop.
// Nodes that must emit valid UTF-8 (JSON encoders) replace invalid
// sequences as they write. OTLP/JSON input is different: the receiver
// refuses invalid UTF-8 there, because it decodes JSON anyway and JSON text
// must be UTF-8.
//
// The converse is narrower: Scan rejects a few encodings that pdata's
// decoder tolerates, all of which protowire rejects too and no valid encoder
// emits: groups in unknown fields, a tenth varint byte above 1, and field
// numbers above 2^29-1; and, deliberately, AnyValues nested deeper than
// MaxValueDepth. The fuzz tests check that these are the only cases, and
// that whatever Scan accepts, pdata accepts once the opaque messages are
// emptied, with the same counts.
//
// # How deep a forwarding path must look
//
// A path that only forwards bytes could stop at the records, as the
// bare-hop baseline of bench/ does (it checks the framing down to them and
// no further). Scan goes into every record, for two reasons. Any node
// downstream may decode (a debug processor, a batch in OTAP form, an
// exporter that needs JSON), so the nesting limit must hold before the
// request is admitted, and the nesting lives inside records. And a record
// whose framing is broken would be forwarded to a destination that refuses
// the whole request later, with a worse error, far from the client that
// sent it. It costs about 19 ns per record on ordinary telemetry: 7-8 % of
// ackflow's CPU when forwarding 1,000-record requests (docs/BENCHMARKS.md).
// What Scan leaves to decoders (UTF-8, values inside the opaque messages)
// is listed above, with the reasons.
//
// # Buffers
//
// ScanBuffers makes the same checks on a request held in several buffers,
// as grpc-go receives it (one buffer per HTTP/2 DATA frame), without
// joining them: the outer levels are walked across buffer boundaries, each
// message below them is checked in place, and only a message that
// straddles two buffers is copied (about one per 16 KiB frame). On failure
// it returns exactly Scan's error.
//
// # Counting
//
// Stats.Items counts log records, spans, or metric data points. It counts
// what pdata's gRPC receivers (plogotlp, pmetricotlp, ptraceotlp) see after
// decoding:
//
//   - deprecated scope entries (field 1000, the pre-1.0
//     instrumentation_library_*) count only in a resource that has no scope
//     entry (field 2), because that is when pdata migrates them;
//   - a metric's data is a oneof, and pdata keeps only its last occurrence
//     (it does not merge repeated occurrences of the same field), so only the
//     data points of the last gauge, sum, histogram, exponential_histogram or
//     summary field count; a metric with none counts 0.
//
// For requests written by a current encoder these rules change nothing: the
// counts equal LogRecordCount, DataPointCount and SpanCount.
//
// # Concatenation and splitting
//
// The top-level field of every export request is repeated, so two valid
// requests concatenated are one valid request holding the entries of both:
// batching is appending bytes, and Scan(a+b) counts Scan(a)+Scan(b). Split
// goes the other way, cutting a request between top-level entries into
// chunks that alias it; an entry larger than the limit stays whole, and the
// caller decides whether to decode it to split further.
//
// # Concurrency
//
// All functions are pure: they only read b, and may run concurrently on the
// same buffer.
//
// # Module organization
//
//	otlpwire.go  Kind, Stats, Entry, Scan, AppendEntries, errors
//	scan.go      the walkers, from the request down to the records
//	buffers.go   ScanBuffers: the same walk across a transport's buffers
//	values.go    MaxValueDepth: the nesting walk, and error paths (locate)
//	wire.go      varints, tags, lengths, the per-record framing check
//	schema.go    field numbers and message names
//	split.go     Split, AppendSplit
package otlpwire
