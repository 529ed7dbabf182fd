package otap_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/endian"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"github.com/open-telemetry/otel-arrow/go/pkg/otel/arrow_record"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// dictStep is one record of a hand-built stream: each dictionary-encoded
// column's dictionary holds values 0..n-1 of its generation (a new
// generation is a replacement dictionary), and its rows reference idx
// (-1: null).
type dictStep struct {
	gen int
	n   int
	idx []int
}

var (
	strDict    = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint16, ValueType: arrow.BinaryTypes.String}
	fixedDict  = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: &arrow.FixedSizeBinaryType{ByteWidth: 4}}
	keyDict    = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String}
	dictSchema = arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: strDict, Nullable: true},
		{Name: "f", Type: fixedDict, Nullable: true},
		{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "k", Type: keyDict, Nullable: true})},
	}, nil)
)

// stepRecord builds the record of step st.
func stepRecord(st dictStep) arrow.RecordBatch {
	mem := memory.NewGoAllocator()
	var strs, keys []string
	var fixed [][]byte
	for i := range st.n {
		strs = append(strs, fmt.Sprintf("value %d of generation %d", i, st.gen))
		keys = append(keys, fmt.Sprintf("k%d.%d", st.gen, i))
		fixed = append(fixed, []byte{byte(st.gen), byte(i), 0xab, 0xcd})
	}
	sb := array.NewStringBuilder(mem)
	sb.AppendValues(strs, nil)
	kb := array.NewStringBuilder(mem)
	kb.AppendValues(keys, nil)
	fb := array.NewFixedSizeBinaryBuilder(mem, &arrow.FixedSizeBinaryType{ByteWidth: 4})
	fb.AppendValues(fixed, nil)

	i16 := array.NewUint16Builder(mem)
	i8a := array.NewUint8Builder(mem)
	i8b := array.NewUint8Builder(mem)
	for _, v := range st.idx {
		if v < 0 {
			i16.AppendNull()
			i8a.AppendNull()
			i8b.AppendNull()
			continue
		}
		i16.Append(uint16(v))
		i8a.Append(uint8(v))
		i8b.Append(uint8(v))
	}
	s := array.NewDictionaryArray(strDict, i16.NewArray(), sb.NewArray())
	f := array.NewDictionaryArray(fixedDict, i8a.NewArray(), fb.NewArray())
	k := array.NewDictionaryArray(keyDict, i8b.NewArray(), kb.NewArray())
	stc, err := array.NewStructArray([]arrow.Array{k}, []string{"k"})
	if err != nil {
		panic(err)
	}
	return array.NewRecordBatch(dictSchema, []arrow.Array{s, f, stc}, int64(len(st.idx)))
}

// handStream writes recs as one IPC stream with dictionary deltas (and
// opts), one record per batch of one LOGS payload.
func handStream(t testing.TB, recs []arrow.RecordBatch, opts ...ipc.Option) []*arrowpb.BatchArrowRecords {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, append([]ipc.Option{ipc.WithSchema(recs[0].Schema()), ipc.WithDictionaryDeltas(true)}, opts...)...)
	var out []*arrowpb.BatchArrowRecords
	for i, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatalf("write record %d: %v", i, err)
		}
		out = append(out, &arrowpb.BatchArrowRecords{BatchId: int64(i), ArrowPayloads: []*arrowpb.ArrowPayload{{
			SchemaId: "0", Type: arrowpb.ArrowPayloadType_LOGS, Record: bytes.Clone(buf.Bytes()),
		}}})
		buf.Reset()
	}
	return out
}

// rowValues returns the values the rows of the dictionary array a
// reference, "null" for a null row.
func rowValues(a arrow.Array) []string {
	d := a.(*array.Dictionary)
	out := make([]string, d.Len())
	for i := range out {
		if d.IsNull(i) {
			out[i] = "null"
			continue
		}
		out[i] = d.Dictionary().ValueStr(d.GetValueIndex(i))
	}
	return out
}

// Records referencing only the values their batch brought, values of
// earlier batches, both, none, and a replacement dictionary: each decodes
// to the values written, whatever the path, compressed or not, at any
// depth; a batch referencing only its own values gets a dictionary of
// those alone.
func TestDictionaryReferences(t *testing.T) {
	steps := []dictStep{
		{gen: 0, n: 3, idx: []int{0, 1, 2}},
		{gen: 0, n: 5, idx: []int{3, 4, -1}}, // only the values it brought
		{gen: 0, n: 6, idx: []int{0, 5, -1}}, // an old one and a new one
		{gen: 0, n: 8, idx: []int{6, 7, 7}},  // its own again
		{gen: 0, n: 8, idx: []int{-1, -1, -1}},
		{gen: 0, n: 9, idx: []int{4, 3, 4}}, // those of an earlier batch
		{gen: 1, n: 2, idx: []int{1, 0, 1}}, // a replacement
		{gen: 1, n: 3, idx: []int{2, 0, 2}},
	}
	// The dictionary length a kept dictionary's records get.
	wantLen := []int{3, 2, 6, 2, 6, 6, 2, 3}
	var recs []arrow.RecordBatch
	for _, st := range steps {
		recs = append(recs, stepRecord(st))
	}
	for _, c := range []struct {
		name string
		opts []ipc.Option
		kept bool // the decoder keeps the dictionaries (else arrow-go reads them)
	}{{"plain", nil, true}, {"zstd", []ipc.Option{ipc.WithZstd()}, true}, {"lz4", []ipc.Option{ipc.WithLZ4()}, false}} {
		t.Run(c.name, func(t *testing.T) {
			bars := handStream(t, recs, c.opts...)
			if deltas, _ := dictionaryBatches(bars...); deltas == 0 {
				t.Fatal("the stream sent no delta")
			}
			got := decodeStream(t, pdata.Logs, bars...)
			for i, b := range got {
				rec := otap.Records(b)[0]
				for col := range 3 {
					a, w := rec.Column(col), recs[i].Column(col)
					if col == 2 {
						a, w = a.(*array.Struct).Field(0), w.(*array.Struct).Field(0)
					}
					if g, w := rowValues(a), rowValues(w); fmt.Sprint(g) != fmt.Sprint(w) {
						t.Fatalf("batch %d column %d: %q, want %q", i, col, g, w)
					}
					if n := a.(*array.Dictionary).Dictionary().Len(); c.kept && n != wantLen[i] {
						t.Errorf("batch %d column %d: a dictionary of %d values, want %d", i, col, n, wantLen[i])
					}
				}
			}
		})
	}
}

// A dictionary batch the decoder does not keep (nulls among its values)
// after ones it kept: arrow-go takes the dictionary over, whole, and the
// values stay right.
func TestDictionaryHandedBack(t *testing.T) {
	mem := memory.NewGoAllocator()
	typ := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: typ, Nullable: true}}, nil)
	record := func(values []string, valid []bool, idx ...uint8) arrow.RecordBatch {
		sb := array.NewStringBuilder(mem)
		sb.AppendValues(values, valid)
		ib := array.NewUint8Builder(mem)
		ib.AppendValues(idx, nil)
		return array.NewRecordBatch(schema, []arrow.Array{array.NewDictionaryArray(typ, ib.NewArray(), sb.NewArray())}, int64(len(idx)))
	}
	recs := []arrow.RecordBatch{
		record([]string{"a", "b"}, nil, 0, 1),
		record([]string{"a", "b", "c"}, nil, 2),
		record([]string{"a", "b", "c", "", "d"}, []bool{true, true, true, false, true}, 3, 4, 0),
		record([]string{"a", "b", "c", "", "d", "e"}, []bool{true, true, true, false, true, true}, 5, 2),
	}
	bars := handStream(t, recs)
	got := decodeStream(t, pdata.Logs, bars...)
	for i, b := range got {
		if g, w := rowValues(otap.Records(b)[0].Column(0)), rowValues(recs[i].Column(0)); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Fatalf("batch %d: %q, want %q", i, g, w)
		}
	}
}

// Dictionary offsets going backwards: refused, not read.
func TestDecodeDictionaryOffsetsBackwards(t *testing.T) {
	typ := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: typ}}, nil)
	mem := memory.NewGoAllocator()
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"ab", "cd"}, nil)
	ib := array.NewUint8Builder(mem)
	ib.AppendValues([]uint8{0, 1}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{array.NewDictionaryArray(typ, ib.NewArray(), sb.NewArray())}, 2)
	bar := handStream(t, []arrow.RecordBatch{rec})[0]
	offsets := otap.FirstDictionaryOffsets(bar.ArrowPayloads[0].Record)
	if len(offsets) < 12 {
		t.Fatalf("offsets buffer of %d bytes", len(offsets))
	}
	binary.LittleEndian.PutUint32(offsets[4:], 3)
	binary.LittleEndian.PutUint32(offsets[8:], 1)
	requireErr(t, decodeAll(pdata.Logs, otap.DecoderOptions{}, bar), otap.ErrInvalid, "dictionary value offset 1 at 2")
}

// The library's consumer, which the Collector's otelarrow receiver uses,
// reads what the encoder writes, compressed (by the encoder itself) or
// not, converted from OTLP or re-encoded from OTAP.
func TestLibraryConsumerReadsTheEncoder(t *testing.T) {
	for _, s := range pdata.Signals() {
		for _, zstd := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/zstd=%v", s, zstd), func(t *testing.T) {
				var want []any
				var otlp, arrowForm []*pdata.Payload
				for seq := range 4 {
					v := dataOf(s, seq, 20+seq*10)
					want = append(want, v)
					otlp = append(otlp, otlpPayloadOf(t, s, v))
				}
				for _, b := range decodeStream(t, s, encodeStream(t, true, otlp...)...) {
					arrowForm = append(arrowForm, otap.Payload(b))
				}
				for name, ps := range map[string][]*pdata.Payload{"otlp": otlp, "otap": arrowForm} {
					c := arrow_record.NewConsumer()
					for i, bar := range encodeStream(t, zstd, ps...) {
						got := consume(t, c, s, bar)
						if canonical(t, got) != canonical(t, want[i]) {
							t.Fatalf("%s batch %d: the consumer read other data", name, i)
						}
					}
					_ = c.Close()
				}
			})
		}
	}
}

// consume reads bar with the library's consumer c.
func consume(t testing.TB, c *arrow_record.Consumer, s pdata.Signal, bar *arrowpb.BatchArrowRecords) any {
	t.Helper()
	var got []any
	var err error
	switch s {
	case pdata.Logs:
		var v []plog.Logs
		v, err = c.LogsFrom(bar)
		for _, x := range v {
			got = append(got, x)
		}
	case pdata.Metrics:
		var v []pmetric.Metrics
		v, err = c.MetricsFrom(bar)
		for _, x := range v {
			got = append(got, x)
		}
	default:
		var v []ptrace.Traces
		v, err = c.TracesFrom(bar)
		for _, x := range v {
			got = append(got, x)
		}
	}
	if err != nil || len(got) != 1 {
		t.Fatalf("consumer: %d results, %v", len(got), err)
	}
	return got[0]
}

// Buffers that zstd cannot make smaller are stored as they are (declared
// size -1), which both decoders read.
func TestIncompressibleBuffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var want []any
	var ps []*pdata.Payload
	for range 3 {
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		for range 300 {
			lr := sl.LogRecords().AppendEmpty()
			var tid pcommon.TraceID
			var sid pcommon.SpanID
			for i := range tid {
				tid[i] = byte(rng.Uint32())
			}
			for i := range sid {
				sid[i] = byte(rng.Uint32())
			}
			lr.SetTraceID(tid)
			lr.SetSpanID(sid)
			body := make([]byte, 64)
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			lr.Body().SetEmptyBytes().FromRaw(body)
		}
		want = append(want, ld)
		ps = append(ps, payloadOf(ld))
	}
	bars := encodeStream(t, true, ps...)
	var raw, all int
	for _, bar := range bars {
		for _, p := range bar.ArrowPayloads {
			r, a := otap.RawBuffers(p.Record)
			raw, all = raw+r, all+a
		}
	}
	if raw == 0 || raw == all {
		t.Fatalf("%d of %d buffers stored as they are: want some, not all", raw, all)
	}
	c := arrow_record.NewConsumer()
	defer c.Close()
	// The producer orders records its own way: compare them as sets.
	for i, b := range decodeStream(t, pdata.Logs, bars...) {
		got, err := b.ToPdata()
		if err != nil {
			t.Fatal(err)
		}
		w := recordSet(want[i].(plog.Logs))
		if g := recordSet(got.(plog.Logs)); g != w {
			t.Fatalf("batch %d: the decoder read other data", i)
		}
		if g := recordSet(consume(t, c, pdata.Logs, bars[i]).(plog.Logs)); g != w {
			t.Fatalf("batch %d: the consumer read other data", i)
		}
	}
}

// recordSet returns the log records of ld (trace and span ids, body), as
// one sorted string.
func recordSet(ld plog.Logs) string {
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				out = append(out, fmt.Sprintf("%x/%x/%x", lr.TraceID(), lr.SpanID(), lr.Body().Bytes().AsRaw()))
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// growingDictionary returns batches records of one string dictionary that
// gains per values of size bytes each batch (a delta), every record
// referencing the first value and the newest, so that the decoder needs
// the dictionary whole; and the size of the last dictionary (offsets and
// values).
func growingDictionary(batches, per, size int) ([]arrow.RecordBatch, int64) {
	mem := memory.NewGoAllocator()
	typ := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: typ}}, nil)
	var vals []string
	var recs []arrow.RecordBatch
	for b := range batches {
		for i := range per {
			vals = append(vals, fmt.Sprintf("%0*d", size, b*per+i))
		}
		sb := array.NewStringBuilder(mem)
		sb.AppendValues(vals, nil)
		ib := array.NewUint32Builder(mem)
		ib.AppendValues([]uint32{0, uint32(len(vals) - 1)}, nil)
		recs = append(recs, array.NewRecordBatch(schema, []arrow.Array{array.NewDictionaryArray(typ, ib.NewArray(), sb.NewArray())}, 2))
	}
	return recs, int64(len(vals)*size + (len(vals)+1)*4)
}

// MaxDictionaryBytes refuses the same streams whether the decoder keeps
// the dictionaries (plain, zstd) or arrow-go's reader does (lz4): the room
// a kept dictionary's contiguous copy reserves to grow never takes a
// stream whose dictionaries fit the limit over it.
func TestDictionaryLimitKeptAsRead(t *testing.T) {
	recs, size := growingDictionary(40, 100, 100)
	for _, c := range []struct {
		name string
		opts []ipc.Option
	}{{"plain", nil}, {"zstd", []ipc.Option{ipc.WithZstd()}}, {"lz4", []ipc.Option{ipc.WithLZ4()}}} {
		t.Run(c.name, func(t *testing.T) {
			bars := handStream(t, recs, c.opts...)
			for _, pct := range []int64{102, 110, 125, 150, 190} {
				limit := size * pct / 100
				if err := decodeAll(pdata.Logs, otap.DecoderOptions{MaxDictionaryBytes: limit}, bars...); err != nil {
					t.Errorf("%d bytes of dictionary, limit %d (%d %%): %v", size, limit, pct, err)
				}
			}
			err := decodeAll(pdata.Logs, otap.DecoderOptions{MaxDictionaryBytes: size * 9 / 10}, bars...)
			requireErr(t, err, otap.ErrTooLarge, "dictionary overflow")
		})
	}
}

// A stream that declares its buffers big-endian: the decoder reads its
// dictionaries as arrow-go's reader does (swapped), not as little-endian
// values.
func TestDictionaryBigEndianStream(t *testing.T) {
	mem := memory.NewGoAllocator()
	ints := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.PrimitiveTypes.Int32}
	strs := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String}
	// arrow-go writes the buffers as they are (little-endian) under the
	// declared endianness; its reader swaps them.
	schema := arrow.NewSchemaWithEndian([]arrow.Field{{Name: "i", Type: ints}, {Name: "s", Type: strs}}, nil, endian.BigEndian)
	vb := array.NewInt32Builder(mem)
	vb.AppendValues([]int32{1, 2, 3}, nil)
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"", "", ""}, nil) // offsets 0: the same either way
	ib := array.NewUint8Builder(mem)
	ib.AppendValues([]uint8{0, 1, 2}, nil)
	idx := ib.NewArray()
	rec := array.NewRecordBatch(schema, []arrow.Array{
		array.NewDictionaryArray(ints, idx, vb.NewArray()),
		array.NewDictionaryArray(strs, idx, sb.NewArray()),
	}, 3)
	bar := handStream(t, []arrow.RecordBatch{rec})[0]

	r, err := ipc.NewReader(bytes.NewReader(bar.ArrowPayloads[0].Record))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() {
		t.Fatalf("arrow-go: %v", r.Err())
	}
	want := rowValues(r.RecordBatch().Column(0))
	b := decodeStream(t, pdata.Logs, bar)[0]
	if got := rowValues(otap.Records(b)[0].Column(0)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("values %q, arrow-go reads %q", got, want)
	}
}

// A dictionary handed back to arrow-go is not also kept by the decoder:
// the stream's dictionaries count it once.
func TestDictionaryHandedBackCountedOnce(t *testing.T) {
	recs, size := growingDictionary(10, 100, 100)
	// Then a delta with a null among its values, which the decoder does
	// not keep, and a record referencing old values and the new ones.
	last := recs[len(recs)-1].Column(0).(*array.Dictionary)
	sb := array.NewStringBuilder(memory.NewGoAllocator())
	for i := range last.Dictionary().Len() {
		sb.Append(last.Dictionary().(*array.String).Value(i))
	}
	sb.AppendNull()
	sb.Append("new")
	n := last.Dictionary().Len()
	ib := array.NewUint32Builder(memory.NewGoAllocator())
	ib.AppendValues([]uint32{0, uint32(n + 1)}, nil)
	typ := last.DataType().(*arrow.DictionaryType)
	recs = append(recs, array.NewRecordBatch(recs[0].Schema(), []arrow.Array{array.NewDictionaryArray(typ, ib.NewArray(), sb.NewArray())}, 2))

	bars := handStream(t, recs)
	limit := size * 3 / 2
	if err := decodeAll(pdata.Logs, otap.DecoderOptions{MaxDictionaryBytes: limit}, bars...); err != nil {
		t.Fatalf("%d bytes of dictionary, limit %d: %v", size, limit, err)
	}
	got := decodeStream(t, pdata.Logs, bars...)
	if g, w := rowValues(otap.Records(got[len(got)-1])[0].Column(0)), rowValues(recs[len(recs)-1].Column(0)); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Fatalf("last batch: %q, want %q", g, w)
	}
}
