package otap_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// expandedSize returns the expanded size of bar, the first batch of its
// stream: the least MaxExpandedBytes under which it decodes.
func expandedSize(t testing.TB, s pdata.Signal, bar *arrowpb.BatchArrowRecords) int64 {
	t.Helper()
	lo, hi := int64(0), int64(1) // the size is in (lo, hi] once hi is accepted
	for ; ; hi *= 2 {
		err := decodeAll(s, otap.DecoderOptions{MaxExpandedBytes: hi}, bar)
		if err == nil {
			break
		}
		if !errors.Is(err, otap.ErrTooLarge) || hi > 1<<40 {
			t.Fatalf("MaxExpandedBytes %d: %v", hi, err)
		}
		lo = hi
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if decodeAll(s, otap.DecoderOptions{MaxExpandedBytes: mid}, bar) == nil {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// The benchmarks' 1,000 items of each signal decode under the default,
// and expand to under 2 bytes per byte of their OTLP form: the data of a
// request within the OTLP receiver's default max_request_size (64 MiB)
// stays well within DefaultMaxExpandedBytes (256 MiB).
func TestDecodeExpandedLegitimate(t *testing.T) {
	for _, s := range pdata.Signals() {
		data := dataOf(s, 1, benchLogs)
		otlp := int64(len(marshal(t, data)))
		for _, zstd := range []bool{false, true} {
			bar := encodeStream(t, zstd, payloadOf(data))[0]
			decoded := decodeStream(t, s, bar)[0].Size() // under the default
			n := expandedSize(t, s, bar)
			t.Logf("%s zstd=%v: %d bytes of OTLP, %d of OTAP, decoded %d, expanded %d (%.2f per OTLP byte, %.2f per decoded byte)",
				s, zstd, otlp, proto.Size(bar), decoded, n, float64(n)/float64(otlp), float64(n)/float64(decoded))
			if n > 2*otlp {
				t.Errorf("%s: %d bytes of OTLP expand to %d", s, otlp, n)
			}
		}
	}
}

// A record whose every expanded byte is known: dictionaries at the top,
// in a struct and in a list of structs, of strings and of fixed-size
// values, with null indices (which reference nothing). It decodes with
// MaxExpandedBytes at its expanded size, and not one byte under.
func TestDecodeExpandedBoundary(t *testing.T) {
	const rows = 64 // a whole number of validity bytes
	mem := memory.NewGoAllocator()
	values := []string{"a", "bb", "cccc"}
	var want int64 // each column's buffers, and the values its indices reference

	// dict<uint16, string>, a null index in five.
	ib := array.NewUint16Builder(mem)
	for i := range rows {
		if i%5 == 0 {
			ib.AppendNull() // index 0: references nothing
		} else {
			ib.Append(uint16(i % 3))
		}
	}
	top := stringDict(t, ib.NewArray(), values...)
	want += rows/8 + 2*rows
	for i := range rows {
		if i%5 != 0 {
			want += int64(len(values[i%3]))
		}
	}

	// dict<uint8, fixed_size_binary(16)>: the width per reference.
	fb := array.NewFixedSizeBinaryBuilder(mem, &arrow.FixedSizeBinaryType{ByteWidth: 16})
	fb.Append(bytes.Repeat([]byte{7}, 16))
	fixedTyp := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: fb.Type()}
	fixed := array.NewDictionaryArray(fixedTyp, uint8Indices(mem, rows, 0), fb.NewArray())
	want += rows + 16*rows

	// struct<s: dict<uint8, string>>.
	inStruct := structOf(t, stringDict(t, uint8Indices(mem, rows, 1), values...))
	want += rows + rows*int64(len(values[1]))

	// list<struct<s: dict<uint8, string>>>, two per list.
	elems := structOf(t, stringDict(t, uint8Indices(mem, 2*rows, 2), values...))
	offsets := array.NewInt32Builder(mem)
	for i := range rows + 1 {
		offsets.Append(int32(2 * i))
	}
	listData := array.NewData(arrow.ListOf(elems.DataType()), rows,
		[]*memory.Buffer{nil, offsets.NewArray().Data().Buffers()[1]}, []arrow.ArrayData{elems.Data()}, 0, 0)
	inList := array.NewListData(listData)
	want += 4*(rows+1) + 2*rows + 2*rows*int64(len(values[2]))

	// A plain int64 column: its buffer.
	nb := array.NewInt64Builder(mem)
	nb.AppendValues(make([]int64, rows), nil)
	want += 8 * rows

	cols := []arrow.Array{top, fixed, inStruct, inList, nb.NewArray()}
	var fields []arrow.Field
	for i, c := range cols {
		fields = append(fields, arrow.Field{Name: string(rune('a' + i)), Type: c.DataType(), Nullable: true})
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rows)
	bar := logsBatch(t, rec)

	if err := decodeAll(pdata.Logs, otap.DecoderOptions{MaxExpandedBytes: want}, bar); err != nil {
		t.Fatalf("at the limit, %d bytes: %v", want, err)
	}
	err := decodeAll(pdata.Logs, otap.DecoderOptions{MaxExpandedBytes: want - 1}, bar)
	requireErr(t, err, otap.ErrTooLarge, "LOGS", fmt.Sprintf("expands to %d bytes", want), fmt.Sprintf("limit of %d", want-1))
}

// stringDict returns a dictionary-encoded string array of values.
func stringDict(t testing.TB, indices arrow.Array, values ...string) *array.Dictionary {
	t.Helper()
	sb := array.NewStringBuilder(memory.NewGoAllocator())
	sb.AppendValues(values, nil)
	typ := &arrow.DictionaryType{IndexType: indices.DataType(), ValueType: arrow.BinaryTypes.String}
	return array.NewDictionaryArray(typ, indices, sb.NewArray())
}

// uint8Indices returns n indices, all v.
func uint8Indices(mem memory.Allocator, n int, v uint8) arrow.Array {
	b := array.NewUint8Builder(mem)
	for range n {
		b.Append(v)
	}
	return b.NewArray()
}

// structOf returns a struct array of one field, s.
func structOf(t testing.TB, s arrow.Array) *array.Struct {
	t.Helper()
	a, err := array.NewStructArray([]arrow.Array{s}, []string{"s"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
