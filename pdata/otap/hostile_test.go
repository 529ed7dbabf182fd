package otap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// logsStream returns the first n batches of a logs stream.
func logsStream(t testing.TB, zstd bool, n int) []*arrowpb.BatchArrowRecords {
	t.Helper()
	var ps []*pdata.Payload
	for seq := range n {
		ps = append(ps, payloadOf(logsData(seq, 30)))
	}
	return encodeStream(t, zstd, ps...)
}

// decodeAll decodes bars in order on a new decoder with options o and
// returns the first error.
func decodeAll(s pdata.Signal, o otap.DecoderOptions, bars ...*arrowpb.BatchArrowRecords) error {
	dec := otap.NewDecoder(o)
	defer dec.Close()
	for _, bar := range bars {
		if _, err := dec.Decode(s, bar); err != nil {
			return err
		}
	}
	return nil
}

// requireErr checks that err wraps want and mentions every one of words.
func requireErr(t testing.TB, err, want error, words ...string) {
	t.Helper()
	t.Logf("error: %v", err)
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want one wrapping %v", err, want)
	}
	if errors.Is(err, otap.ErrInvalid) && errors.Is(err, otap.ErrTooLarge) {
		t.Fatalf("error %v wraps both ErrInvalid and ErrTooLarge", err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func clone(bar *arrowpb.BatchArrowRecords) *arrowpb.BatchArrowRecords {
	return proto.Clone(bar).(*arrowpb.BatchArrowRecords)
}

func TestDecodeGarbageRecord(t *testing.T) {
	bar := clone(logsStream(t, false, 1)[0])
	bar.ArrowPayloads[1].Record = []byte("not arrow IPC at all, just some text")
	err := decodeAll(pdata.Logs, otap.DecoderOptions{}, bar)
	requireErr(t, err, otap.ErrInvalid, "payload 1", "RESOURCE_ATTRS", `schema id "1"`)
}

func TestDecodeTruncated(t *testing.T) {
	for _, zstd := range []bool{false, true} {
		bars := logsStream(t, zstd, 2)
		for _, batch := range []int{0, 1} {
			rec := bars[batch].ArrowPayloads[0].Record
			for cut := 0; cut < len(rec); cut += 1 + len(rec)/300 {
				bar := clone(bars[batch])
				bar.ArrowPayloads[0].Record = rec[:cut]
				err := decodeAll(pdata.Logs, otap.DecoderOptions{}, append(bars[:batch:batch], bar)...)
				if !errors.Is(err, otap.ErrInvalid) {
					t.Fatalf("zstd=%v batch %d cut at %d of %d: %v", zstd, batch, cut, len(rec), err)
				}
			}
		}
	}
}

func TestDecodeUnknownPayloadType(t *testing.T) {
	bar := clone(logsStream(t, false, 1)[0])
	bar.ArrowPayloads[2].Type = 99
	requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bar), otap.ErrInvalid, "payload 2", "unknown payload type")
}

func TestDecodeMultivariateMetrics(t *testing.T) {
	bar := encodeStream(t, false, payloadOf(metricsData(0, 3)))[0]
	bar.ArrowPayloads[0].Type = arrowpb.ArrowPayloadType_MULTIVARIATE_METRICS
	requireErr(t, decodeAll(pdata.Metrics, otap.DecoderOptions{}, bar), otap.ErrInvalid, "not supported")
}

func TestDecodeWrongSignal(t *testing.T) {
	bar := logsStream(t, false, 1)[0]
	requireErr(t, decodeAll(pdata.Traces, otap.DecoderOptions{}, bar), otap.ErrInvalid, "belongs to logs, not traces")
}

func TestDecodeNoMainRecord(t *testing.T) {
	bar := clone(logsStream(t, false, 1)[0])
	bar.ArrowPayloads = bar.ArrowPayloads[1:] // attributes, valid IPC, without LOGS
	requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bar), otap.ErrInvalid, "without a logs main record")
}

func TestDecodeDuplicatePayloadType(t *testing.T) {
	bars := logsStream(t, false, 2)
	bar := clone(bars[1])
	bar.ArrowPayloads = append(bar.ArrowPayloads, clone(bars[1]).ArrowPayloads[2])
	requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bars[0], bar), otap.ErrInvalid, "appears twice")
}

// A SchemaId already in use, sent again with a schema message: a new
// stream must take a new SchemaId.
func TestDecodeSchemaIDReuse(t *testing.T) {
	bars := logsStream(t, false, 1)
	other := encodeStream(t, false, payloadOf(tracesData(0, 3)))[0] // other schemas
	bar := clone(bars[0])
	bar.ArrowPayloads[0].Record = other.ArrowPayloads[0].Record
	requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bars[0], bar), otap.ErrInvalid, "payload 0")

	// And one payload type's SchemaId reused for another type.
	bar = clone(logsStream(t, false, 2)[1])
	bar.ArrowPayloads[1].SchemaId = bar.ArrowPayloads[2].SchemaId
	requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bars[0], bar), otap.ErrInvalid, "already carries LOG_ATTRS")
}

// A message declaring 2 GiB of metadata in 12 bytes: arrow-go would make
// the buffer before finding the bytes missing.
func TestDecodeHugeMetadataLength(t *testing.T) {
	rec := binary.LittleEndian.AppendUint32(nil, 0xFFFFFFFF)
	rec = binary.LittleEndian.AppendUint32(rec, 0x7FFFFFFF)
	rec = append(rec, 1, 2, 3, 4)
	bar := &arrowpb.BatchArrowRecords{ArrowPayloads: []*arrowpb.ArrowPayload{{
		SchemaId: "0", Type: arrowpb.ArrowPayloadType_LOGS, Record: rec,
	}}}
	allocated := allocatedBy(func() {
		requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bar), otap.ErrInvalid, "metadata")
	})
	if allocated > 1<<20 {
		t.Fatalf("decoding allocated %d bytes", allocated)
	}
}

// A zstd buffer declaring a huge uncompressed length is refused before
// anything that size is allocated.
func TestDecodeZstdBomb(t *testing.T) {
	bar := clone(logsStream(t, true, 1)[0])
	rec := bar.ArrowPayloads[0].Record
	magic := []byte{0x28, 0xB5, 0x2F, 0xFD} // a zstd frame, after its buffer's uncompressed length
	at := bytes.Index(rec, magic)
	if at < 8 {
		t.Fatal("no zstd-compressed buffer in the payload")
	}
	binary.LittleEndian.PutUint64(rec[at-8:], 1<<40)
	allocated := allocatedBy(func() {
		requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bar), otap.ErrTooLarge, "payload 0")
	})
	if allocated > 64<<20 {
		t.Fatalf("decoding allocated %d bytes", allocated)
	}
}

func TestDecodeMaxBatchBytes(t *testing.T) {
	bars := logsStream(t, true, 1)
	err := decodeAll(pdata.Logs, otap.DecoderOptions{MaxBatchBytes: 2048}, bars...)
	requireErr(t, err, otap.ErrTooLarge)
}

func TestDecodeMaxDictionaryBytes(t *testing.T) {
	bars := logsStream(t, false, 4)
	if err := decodeAll(pdata.Logs, otap.DecoderOptions{MaxDictionaryBytes: 1 << 20}, bars...); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	err := decodeAll(pdata.Logs, otap.DecoderOptions{MaxDictionaryBytes: 600}, bars...)
	requireErr(t, err, otap.ErrTooLarge, "dictionary overflow")
}

// A record of no columns declaring a billion rows: a few bytes that
// ToPdata would turn into a billion log records.
func TestDecodeRowsOverBudget(t *testing.T) {
	schema := arrow.NewSchema(nil, nil)
	rec := array.NewRecordBatch(schema, nil, 1_000_000_000)
	bar := &arrowpb.BatchArrowRecords{ArrowPayloads: []*arrowpb.ArrowPayload{{
		SchemaId: "0", Type: arrowpb.ArrowPayloadType_LOGS, Record: ipcBytes(t, rec),
	}}}
	requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bar), otap.ErrTooLarge, "1000000000 rows")
}

func TestDecodeDictionaryIndexOutOfRange(t *testing.T) {
	mem := memory.NewGoAllocator()
	typ := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String}
	ib := array.NewUint8Builder(mem)
	ib.AppendValues([]uint8{0, 1, 7}, nil)
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"INFO", "WARN"}, nil)
	col := array.NewDictionaryArray(typ, ib.NewArray(), sb.NewArray())
	schema := arrow.NewSchema([]arrow.Field{{Name: "severity_text", Type: typ, Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 3)
	bar := &arrowpb.BatchArrowRecords{ArrowPayloads: []*arrowpb.ArrowPayload{{
		SchemaId: "0", Type: arrowpb.ArrowPayloadType_LOGS, Record: ipcBytes(t, rec),
	}}}
	requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bar), otap.ErrInvalid, "dictionary index 7 at row 2")
}

// 2 M rows all referencing one 60 MiB string, in a few KiB of zstd: cheap
// to decode, and to convert (pdata strings view the Arrow buffers), but a
// node marshaling OTLP would build 126 TB. Decode refuses it, without
// materialising a reference.
func TestDecodeDictionaryAmplification(t *testing.T) {
	const rows, valueLen = 2_000_000, 60 << 20
	mem := memory.NewGoAllocator()
	typ := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String}
	sb := array.NewStringBuilder(mem)
	sb.Append(strings.Repeat("x", valueLen))
	ib := array.NewUint8Builder(mem)
	ib.AppendValues(make([]uint8, rows), nil) // every row: value 0
	col := array.NewDictionaryArray(typ, ib.NewArray(), sb.NewArray())
	schema := arrow.NewSchema([]arrow.Field{{Name: "body_str", Type: typ}}, nil)
	bar := logsBatch(t, array.NewRecordBatch(schema, []arrow.Array{col}, rows), ipc.WithZstd())
	t.Logf("payload: %d bytes", len(bar.ArrowPayloads[0].Record))

	var err error
	allocated := allocatedBy(func() { err = decodeAll(pdata.Logs, otap.DecoderOptions{}, bar) })
	want := fmt.Sprintf("expands to %d bytes", rows+rows*valueLen) // the indices, then what they reference
	requireErr(t, err, otap.ErrTooLarge, "LOGS", want, fmt.Sprint(otap.DefaultMaxExpandedBytes))
	// The dictionary and the indices decompressed, and the zstd decoder's
	// buffers: nothing per reference.
	if max := uint64(2 * valueLen); allocated > max {
		t.Fatalf("decoding allocated %d bytes, more than %d", allocated, max)
	}
	t.Logf("decoding allocated %d bytes", allocated)
}

// ipcBytes returns rec as the first payload of an IPC stream written
// with options opts.
func ipcBytes(t testing.TB, rec arrow.RecordBatch, opts ...ipc.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, append([]ipc.Option{ipc.WithSchema(rec.Schema())}, opts...)...)
	if err := w.Write(rec); err != nil {
		t.Fatalf("write IPC: %v", err)
	}
	return buf.Bytes()
}

// logsBatch returns a batch of one LOGS payload, the first of its stream,
// holding rec.
func logsBatch(t testing.TB, rec arrow.RecordBatch, opts ...ipc.Option) *arrowpb.BatchArrowRecords {
	t.Helper()
	return &arrowpb.BatchArrowRecords{ArrowPayloads: []*arrowpb.ArrowPayload{{
		SchemaId: "0", Type: arrowpb.ArrowPayloadType_LOGS, Record: ipcBytes(t, rec, opts...),
	}}}
}

// allocatedBy returns the bytes f allocated on the heap.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecoderClosed(t *testing.T) {
	dec := otap.NewDecoder(otap.DecoderOptions{})
	dec.Close()
	dec.Close()
	if _, err := dec.Decode(pdata.Logs, logsStream(t, false, 1)[0]); err == nil {
		t.Fatal("Decode after Close succeeded")
	}
	enc := otap.NewEncoder(otap.EncoderOptions{})
	enc.Close()
	enc.Close()
	if _, err := enc.Encode(payloadOf(logsData(0, 1))); err == nil {
		t.Fatal("Encode after Close succeeded")
	}
}

// A schema declaring a billion fields in a few bytes: arrow-go makes the
// slice of fields before reading one (found by FuzzDecode: the process
// ran out of memory).
func TestDecodeSchemaFieldCountBomb(t *testing.T) {
	bar := clone(logsStream(t, false, 1)[0])
	if !otap.SetSchemaFieldCount(bar.ArrowPayloads[0].Record, 1_000_000_000) {
		t.Fatal("no schema message in the first payload")
	}
	allocated := allocatedBy(func() {
		requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bar), otap.ErrInvalid, "vector")
	})
	if allocated > 1<<20 {
		t.Fatalf("decoding allocated %d bytes", allocated)
	}
}

// After an error the decoder keeps failing: its IPC streams may hold half
// a batch of state.
func TestDecodeFailureIsSticky(t *testing.T) {
	bars := logsStream(t, false, 2)
	bad := clone(bars[0])
	bad.ArrowPayloads[0].Type = 99
	dec := otap.NewDecoder(otap.DecoderOptions{})
	defer dec.Close()
	_, first := dec.Decode(pdata.Logs, bad)
	_, again := dec.Decode(pdata.Logs, bars[0])
	requireErr(t, again, otap.ErrInvalid, "failed earlier", first.Error())
}

func TestEncodeFailureIsSticky(t *testing.T) {
	enc := otap.NewEncoder(otap.EncoderOptions{})
	defer enc.Close()
	bad := pdata.FromOTLPChunks(pdata.Logs, [][]byte{{0xff, 0xff, 0xff}}, 1) // not a request
	if _, err := enc.Encode(bad); err == nil {
		t.Fatal("encoding a malformed OTLP payload succeeded")
	}
	if _, err := enc.Encode(payloadOf(logsData(0, 1))); err == nil || !strings.Contains(err.Error(), "failed earlier") {
		t.Fatalf("Encode after a failure: %v", err)
	}
}
