package otap_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// Hand-built arrays: what the compactor does to one record.

var (
	str16 = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint16, ValueType: arrow.BinaryTypes.String}
	str8  = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String}
	id8   = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: &arrow.FixedSizeBinaryType{ByteWidth: 8}}
	i64   = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.PrimitiveTypes.Int64}
	lbin  = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.LargeBinary}
)

// fromJSON builds an array of type dt from JSON.
func fromJSON(t testing.TB, dt arrow.DataType, js string) arrow.Array {
	t.Helper()
	a, _, err := array.FromJSON(memory.DefaultAllocator, dt, strings.NewReader(js))
	if err != nil {
		t.Fatalf("array of %s from %s: %v", dt, js, err)
	}
	return a
}

// dictOf builds a dictionary array of type dt: indices and dictionary
// values as JSON.
func dictOf(t testing.TB, dt *arrow.DictionaryType, indices, values string) *array.Dictionary {
	t.Helper()
	return array.NewDictionaryArray(dt, fromJSON(t, dt.IndexType, indices), fromJSON(t, dt.ValueType, values))
}

// bitmap returns a validity bitmap with the given bits.
func bitmap(valid ...bool) *memory.Buffer {
	b := make([]byte, bitutil.BytesForBits(int64(len(valid))))
	for i, v := range valid {
		bitutil.SetBitTo(b, i, v)
	}
	return memory.NewBufferBytes(b)
}

// recordOf builds a record of the columns, named c0, c1, ...
func recordOf(cols ...arrow.Array) arrow.RecordBatch {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: c.DataType(), Nullable: true}
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, -1)
}

// logical returns the JSON of the values of each column of rec: what
// the dictionaries encode, not how.
func logical(t testing.TB, rec arrow.RecordBatch) []string {
	t.Helper()
	var out []string
	for _, c := range rec.Columns() {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal %s: %v", c.DataType(), err)
		}
		out = append(out, string(b))
	}
	return out
}

// dictionaries returns the dictionary arrays under d, in depth-first
// order (the order the encoder compacts them in), each as the indices of
// its data (offset and length) see it.
func dictionaries(d arrow.ArrayData) []*array.Dictionary {
	if d.DataType().ID() == arrow.DICTIONARY {
		return []*array.Dictionary{array.MakeFromData(d).(*array.Dictionary)}
	}
	var out []*array.Dictionary
	for _, c := range d.Children() {
		out = append(out, dictionaries(c)...)
	}
	return out
}

func recordDictionaries(rec arrow.RecordBatch) []*array.Dictionary {
	var out []*array.Dictionary
	for _, c := range rec.Columns() {
		out = append(out, dictionaries(c.Data())...)
	}
	return out
}

// values returns the string form of a's values.
func values(a arrow.Array) []string {
	out := make([]string, a.Len())
	for i := range out {
		out[i] = a.ValueStr(i)
	}
	return out
}

// requireCompacted checks that got holds the values of in, that each of
// its dictionaries holds only entries its indices use, kept in their
// order in the input dictionary, and that its types are in's.
func requireCompacted(t *testing.T, in, got arrow.RecordBatch) {
	t.Helper()
	if !got.Schema().Equal(in.Schema()) {
		t.Fatalf("schema changed:\n got %s\nwant %s", got.Schema(), in.Schema())
	}
	if g, w := logical(t, got), logical(t, in); !slices.Equal(g, w) {
		t.Fatalf("values changed:\n got %q\nwant %q", g, w)
	}
	inDicts, gotDicts := recordDictionaries(in), recordDictionaries(got)
	if len(gotDicts) != len(inDicts) {
		t.Fatalf("%d dictionary arrays, want %d", len(gotDicts), len(inDicts))
	}
	for k, d := range gotDicts {
		used := make([]bool, d.Dictionary().Len())
		for i := range d.Len() {
			if d.IsValid(i) {
				used[d.GetValueIndex(i)] = true
			}
		}
		if i := slices.Index(used, false); i >= 0 {
			t.Errorf("dictionary %d: entry %d (%s) unused: %v", k, i, d.Dictionary().ValueStr(i), values(d.Dictionary()))
		}
		// In the input's order: a subsequence of its dictionary.
		old, rest := values(inDicts[k].Dictionary()), values(d.Dictionary())
		for _, v := range old {
			if len(rest) > 0 && rest[0] == v {
				rest = rest[1:]
			}
		}
		if len(rest) > 0 {
			t.Errorf("dictionary %d: %v is not in the order of %v", k, values(d.Dictionary()), old)
		}
	}
}

func compactOnce(t *testing.T, rec arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	var c otap.Compactor
	got, err := c.Record(rec)
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	return got
}

func TestCompactNested(t *testing.T) {
	// A struct (with a null row) of a string and a fixed-size binary
	// dictionary, as resource, scope and body are in OTAP records.
	name := dictOf(t, str8, `[3, 1, null, 3, 1]`, `["a", "b", "c", "d", "e"]`)
	id := dictOf(t, id8, `[0, 2, 2, null, 0]`, `["AAAAAAAAAAA=", "AQEBAQEBAQE=", "AgICAgICAgI="]`)
	st, err := array.NewStructArrayWithNulls([]arrow.Array{name, id}, []string{"name", "id"},
		bitmap(true, true, false, true, true), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A list of int64 dictionary values: lists [0,1), [1,4), null, [4,4), [4,6).
	ints := dictOf(t, i64, `[4, 0, null, 4, 2, 0]`, `[10, 11, 12, 13, 14, 15]`)
	list := array.MakeFromData(array.NewData(arrow.ListOf(i64), 5,
		[]*memory.Buffer{bitmap(true, true, false, true, true), memory.NewBufferBytes(arrow.GetBytes([]int32{0, 1, 4, 4, 4, 6}))},
		[]arrow.ArrayData{ints.Data()}, 1, 0))
	// A map of string dictionaries, as in no OTAP schema of today.
	keys := dictOf(t, str16, `[5, 0, 5]`, `["k0", "k1", "k2", "k3", "k4", "k5"]`)
	items := dictOf(t, str16, `[null, 1, 1]`, `["v0", "v1"]`)
	entries, err := array.NewStructArrayWithFields([]arrow.Array{keys, items},
		[]arrow.Field{{Name: "key", Type: str16}, {Name: "value", Type: str16, Nullable: true}})
	if err != nil {
		t.Fatal(err)
	}
	mapType := arrow.MapOf(str16, str16)
	m := array.MakeFromData(array.NewData(mapType, 5,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.GetBytes([]int32{0, 1, 1, 2, 2, 3}))},
		[]arrow.ArrayData{entries.Data()}, 0, 0))
	// A sparse union (the library's AnyValue type) and a dense union,
	// each with a dictionary child.
	sparseType := arrow.SparseUnionOf([]arrow.Field{{Name: "s", Type: str8, Nullable: true}, {Name: "i", Type: arrow.PrimitiveTypes.Int64}}, []arrow.UnionTypeCode{0, 1})
	sparse := array.NewSparseUnion(sparseType, 5, []arrow.Array{
		dictOf(t, str8, `[1, 9, 1, 9, 2]`, `["x", "y", "z", "w", "u", "v", "t", "s", "r", "q"]`),
		fromJSON(t, arrow.PrimitiveTypes.Int64, `[0, 7, 0, 8, 0]`),
	}, memory.NewBufferBytes([]byte{0, 1, 0, 1, 0}), 0)
	denseType := arrow.DenseUnionOf([]arrow.Field{{Name: "b", Type: lbin, Nullable: true}, {Name: "i", Type: arrow.PrimitiveTypes.Int64}}, []arrow.UnionTypeCode{0, 1})
	dense := array.NewDenseUnion(denseType, 5, []arrow.Array{
		dictOf(t, lbin, `[3, 3, 0]`, `["AA==", "AQ==", "Ag==", "Aw=="]`),
		fromJSON(t, arrow.PrimitiveTypes.Int64, `[5, 6]`),
	}, memory.NewBufferBytes([]byte{0, 1, 0, 1, 0}), memory.NewBufferBytes(arrow.GetBytes([]int32{0, 0, 1, 1, 2})), 0)

	in := recordOf(st, list, m, sparse, dense)
	got := compactOnce(t, in)
	requireCompacted(t, in, got)
	want := [][]string{{"b", "d"}, {"AAAAAAAAAAA=", "AgICAgICAgI="}, {"10", "12", "14"}, {"k0", "k5"}, {"v1"}, {"y", "z", "q"}, {"AA==", "Aw=="}}
	for k, d := range recordDictionaries(got) {
		if g := values(d.Dictionary()); !slices.Equal(g, want[k]) {
			t.Errorf("dictionary %d = %v, want %v", k, g, want[k])
		}
	}
	// Index types are kept: the schema is the input's (checked above),
	// and so are the arrays' own types.
	for k, d := range recordDictionaries(got) {
		if !arrow.TypeEqual(d.DataType(), recordDictionaries(in)[k].DataType()) {
			t.Errorf("dictionary %d: type %s", k, d.DataType())
		}
	}
}

func TestCompactNulls(t *testing.T) {
	// Null indices hold garbage (here out of range): they must be
	// skipped, not followed.
	indices := array.MakeFromData(array.NewData(arrow.PrimitiveTypes.Uint16, 4,
		[]*memory.Buffer{bitmap(true, false, true, false), memory.NewBufferBytes(arrow.GetBytes([]uint16{2, 999, 2, 7}))}, nil, 2, 0))
	d := array.NewDictionaryArray(str16, indices, fromJSON(t, arrow.BinaryTypes.String, `["a", "b", "c", null]`))
	// A dictionary whose values include a null, used by a valid index.
	withNull := dictOf(t, str16, `[3, 1, 3, 1]`, `["a", "b", "c", null]`)
	all := dictOf(t, str16, `[null, null, null, null]`, `["a", "b"]`)
	in := recordOf(d, withNull, all)
	got := compactOnce(t, in)
	requireCompacted(t, in, got)
	dicts := recordDictionaries(got)
	if v := values(dicts[0].Dictionary()); !slices.Equal(v, []string{"c"}) {
		t.Errorf("dictionary 0 = %v", v)
	}
	if v := values(dicts[1].Dictionary()); !slices.Equal(v, []string{"b", "(null)"}) || dicts[1].Dictionary().NullN() != 1 {
		t.Errorf("dictionary 1 = %v (%d nulls)", v, dicts[1].Dictionary().NullN())
	}
	if n := dicts[2].Dictionary().Len(); n != 0 || dicts[2].NullN() != 4 {
		t.Errorf("all-null array: %d dictionary entries, %d nulls", n, dicts[2].NullN())
	}
}

func TestCompactSliced(t *testing.T) {
	full := dictOf(t, str16, `[0, 1, null, 2, 3, 4, 5]`, `["a", "b", "c", "d", "e", "f", "g"]`)
	sliced := array.NewSlice(full, 2, 5) // null, c, d: offset 2
	ids := dictOf(t, id8, `[0, 1, 2, 1]`, `["AAAAAAAAAAA=", "AQEBAQEBAQE=", "AgICAgICAgI="]`)
	// A dictionary whose values are sliced too.
	dict := array.NewSlice(fromJSON(t, arrow.BinaryTypes.String, `["x", "a", "b", "c", "d"]`), 1, 5)
	slicedValues := array.NewDictionaryArray(str8, fromJSON(t, arrow.PrimitiveTypes.Uint8, `[3, 1, 3]`), dict)
	in := recordOf(sliced, array.NewSlice(ids, 1, 4), slicedValues)
	got := compactOnce(t, in)
	requireCompacted(t, in, got)
	for k, d := range recordDictionaries(got) {
		if d.Data().Offset() != 0 {
			t.Errorf("dictionary array %d: offset %d", k, d.Data().Offset())
		}
	}
	if v := recordDictionaries(got)[0].Dictionary(); v.Len() != 2 {
		t.Errorf("sliced: dictionary %v", v)
	}

	// A sliced struct: the parent's offset applies to its children.
	st, err := array.NewStructArrayWithFields([]arrow.Array{full}, []arrow.Field{{Name: "f", Type: str16, Nullable: true}})
	if err != nil {
		t.Fatal(err)
	}
	in = recordOf(array.NewSlice(st, 3, 6))
	requireCompacted(t, in, compactOnce(t, in))
}

func TestCompactKeepsCompactDictionary(t *testing.T) {
	name := dictOf(t, str8, `[1, 0, null, 1]`, `["a", "b"]`)
	st, err := array.NewStructArrayWithFields([]arrow.Array{name}, []arrow.Field{{Name: "name", Type: str8, Nullable: true}})
	if err != nil {
		t.Fatal(err)
	}
	in := recordOf(dictOf(t, str16, `[2, 0, 1]`, `["x", "y", "z"]`), st)
	got := compactOnce(t, in)
	if got != in {
		t.Fatalf("a record whose dictionaries are compact was rebuilt")
	}

	// One column compact, one not: the compact column stays the same array.
	in = recordOf(dictOf(t, str16, `[2, 0, 1]`, `["x", "y", "z"]`), dictOf(t, str16, `[1, 1, 0]`, `["x", "y", "z"]`))
	got = compactOnce(t, in)
	if got.Column(0) != in.Column(0) || got.Column(1) == in.Column(1) {
		t.Fatal("the compact column was rebuilt, or the other one was not")
	}
	requireCompacted(t, in, got)
}

// Records of one outbound IPC stream: the dictionary the compactor hands
// over extends the one it handed over before while the batches come from
// one inbound stream, so that the writer can send deltas.
func TestCompactLineage(t *testing.T) {
	var c otap.Compactor
	step := func(indices, dict string) *array.Dictionary {
		t.Helper()
		in := recordOf(dictOf(t, str16, indices, dict))
		got, err := c.Record(in)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := logical(t, got), logical(t, in); !slices.Equal(g, w) {
			t.Fatalf("values changed: got %q, want %q", g, w)
		}
		return got.Column(0).(*array.Dictionary)
	}
	want := func(d *array.Dictionary, vals ...string) {
		t.Helper()
		if g := values(d.Dictionary()); !slices.Equal(g, vals) {
			t.Fatalf("dictionary %v, want %v", g, vals)
		}
	}
	// An inbound dictionary whose entries are not all used: the first
	// record gets the entries it uses.
	want(step(`[3, 1]`, `["a", "b", "c", "d"]`), "b", "d")
	// The inbound dictionary grew by a delta: entries newly used are
	// appended, whatever their old position.
	want(step(`[0, 4, 1]`, `["a", "b", "c", "d", "e"]`), "b", "d", "a", "e")
	// Nothing new used: the same dictionary as before.
	want(step(`[4, 3]`, `["a", "b", "c", "d", "e"]`), "b", "d", "a", "e")
	// Another inbound stream's dictionary: afresh, in old order.
	want(step(`[2, 0]`, `["p", "q", "r"]`), "p", "r")
	// A dictionary every entry of which is used, then grown by entries
	// all used: handed over as it is.
	in := dictOf(t, str16, `[0, 1]`, `["s", "t"]`)
	rec := recordOf(in)
	if got, _ := c.Record(rec); got != rec {
		t.Fatal("a compact dictionary was rebuilt")
	}
	grown := recordOf(dictOf(t, str16, `[2, 0, 3]`, `["s", "t", "u", "v"]`))
	if got, _ := c.Record(grown); got != grown {
		t.Fatal("a compact dictionary extending the last one was rebuilt")
	}
}

func TestCompactRecordIsPinned(t *testing.T) {
	in := recordOf(dictOf(t, str16, `[2, 2, null]`, `["x", "y", "z"]`))
	got := compactOnce(t, in)
	want := logical(t, in)
	for range 3 { // the library's producer releases what it is given
		got.Release()
	}
	if g := logical(t, got); !slices.Equal(g, want) {
		t.Fatalf("after Release: %q, want %q", g, want)
	}
}

func TestCompactIndexOutOfRange(t *testing.T) {
	in := recordOf(dictOf(t, str16, `[0, 5]`, `["a", "b"]`))
	var c otap.Compactor
	if _, err := c.Record(in); !errors.Is(err, otap.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

// Streams: batches of two inbound streams interleaved on one encoder.

// withRequestIDs adds to every log record, span or data point of v an
// attribute unique to it (16 hex digits that zstd cannot shrink much), so
// that a stream of such batches grows its attribute dictionaries by as
// many values every batch.
func withRequestIDs(v any, seq int) any {
	n := uint64(0)
	put := func(m pcommon.Map) {
		x := (uint64(seq)<<32 | n) * 0x9e3779b97f4a7c15
		m.PutStr("request.id", fmt.Sprintf("%016x", x^x>>29))
		n++
	}
	switch v := v.(type) {
	case plog.Logs:
		for _, rl := range v.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					put(lr.Attributes())
				}
			}
		}
	case ptrace.Traces:
		for _, rs := range v.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					put(sp.Attributes())
				}
			}
		}
	case pmetric.Metrics:
		for _, rm := range v.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					pointAttributes(m, put)
				}
			}
		}
	}
	return v
}

func pointAttributes(m pmetric.Metric, put func(pcommon.Map)) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			put(dp.Attributes())
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			put(dp.Attributes())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			put(dp.Attributes())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			put(dp.Attributes())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			put(dp.Attributes())
		}
	}
}

// growingStream returns n batches of signal s, of items items each,
// decoded from one inbound stream whose dictionaries grow every batch,
// and the data each holds. Streams of different tags share no request id.
func growingStream(t testing.TB, s pdata.Signal, tag, n, items int) ([]*otap.Batch, []any) {
	t.Helper()
	var want []any
	var ps []*pdata.Payload
	for seq := range n {
		v := withRequestIDs(dataOf(s, tag+seq, items), tag+seq)
		want = append(want, v)
		ps = append(ps, payloadOf(v))
	}
	return decodeStream(t, s, encodeStream(t, true, ps...)...), want
}

// interleaved returns the batches of a and b alternately, as payloads,
// and the data they hold in the same order.
func interleaved(a, b []*otap.Batch, wantA, wantB []any) ([]*pdata.Payload, []any) {
	var ps []*pdata.Payload
	var want []any
	for i := range a {
		ps = append(ps, otap.Payload(a[i]), otap.Payload(b[i]))
		want = append(want, wantA[i], wantB[i])
	}
	return ps, want
}

// reencodeSizes encodes ps on one new encoder, compacting dictionaries or
// not, and returns the BatchArrowRecords and their sizes.
func reencodeSizes(t testing.TB, compact bool, ps []*pdata.Payload) ([]*arrowpb.BatchArrowRecords, []int) {
	t.Helper()
	enc := otap.NewEncoder(otap.EncoderOptions{Zstd: true})
	defer enc.Close()
	if !compact {
		otap.KeepDictionaries(enc)
	}
	var bars []*arrowpb.BatchArrowRecords
	var sizes []int
	for i, p := range ps {
		bar, err := enc.Encode(p)
		if err != nil {
			t.Fatalf("encode %d: %v", i, err)
		}
		bars = append(bars, wire(t, bar))
		sizes = append(sizes, proto.Size(bar))
	}
	return bars, sizes
}

func TestReencodeInterleavedStreamsStaysBounded(t *testing.T) {
	const batches, items = 8, 200
	for _, s := range pdata.Signals() {
		t.Run(s.String(), func(t *testing.T) {
			a, wantA := growingStream(t, s, 100, batches, items)
			b, wantB := growingStream(t, s, 500, batches, items)
			ps, want := interleaved(a, b, wantA, wantB)

			bars, sizes := reencodeSizes(t, true, ps)
			for i, got := range decodeStream(t, s, bars...) {
				requireData(t, got, want[i])
			}
			_, whole := reencodeSizes(t, false, ps)
			t.Logf("bytes per batch, compacted:         %v", sizes)
			t.Logf("bytes per batch, whole dictionaries: %v", whole)

			// Compacted, a batch carries what it uses: about as much as
			// the first. Without compaction every batch carries its
			// stream's whole dictionaries, which grow past that bound:
			// the test data must show it.
			bound := sizes[0] * 5 / 4
			for i, n := range sizes {
				if n > bound {
					t.Errorf("batch %d: %d bytes, more than 1.25 × the first batch's %d", i, n, sizes[0])
				}
			}
			if last := whole[len(whole)-1]; last <= bound {
				t.Fatalf("whole dictionaries: last batch %d bytes, within the bound %d: the test data must grow the dictionaries", last, bound)
			}
		})
	}
}

// On one inbound stream, the batches use their whole dictionaries and
// extend the ones before: re-encoded, they are what they were without
// compaction, dictionary deltas included.
func TestReencodeOneStreamUnchanged(t *testing.T) {
	for _, s := range pdata.Signals() {
		t.Run(s.String(), func(t *testing.T) {
			a, want := growingStream(t, s, 100, 4, 100)
			var ps []*pdata.Payload
			for _, b := range a {
				ps = append(ps, otap.Payload(b))
			}
			bars, sizes := reencodeSizes(t, true, ps)
			wholeBars, _ := reencodeSizes(t, false, ps)
			for i := range bars {
				if !proto.Equal(bars[i], wholeBars[i]) {
					t.Errorf("batch %d differs from its re-encoding without compaction", i)
				}
			}
			if deltas, _ := dictionaryBatches(bars[1:]...); deltas == 0 {
				t.Error("no dictionary delta")
			}
			for i, got := range decodeStream(t, s, bars...) {
				requireData(t, got, want[i])
			}
			t.Logf("bytes per batch: %v", sizes)
		})
	}
}

// BenchmarkReencodeStreams re-encodes 1,000-log batches of one inbound
// stream, or of two interleaved, on one zstd encoder, with and without
// dictionary compaction. An op is one batch; the encoder starts afresh
// every 32 batches (16 per inbound stream), whose dictionaries grow.
func BenchmarkReencodeStreams(b *testing.B) {
	const perStream = 16
	decode := func(base int) []*otap.Batch {
		var ps []*pdata.Payload
		for seq := range perStream {
			ps = append(ps, payloadOf(logsData(base+seq, benchLogs)))
		}
		return decodeStream(b, pdata.Logs, encodeStream(b, true, ps...)...)
	}
	a, other := decode(10), decode(50)
	for _, streams := range []int{1, 2} {
		var seq []*pdata.Payload
		for i := range perStream {
			seq = append(seq, otap.Payload(a[i]))
			if streams == 2 {
				seq = append(seq, otap.Payload(other[i]))
			}
		}
		for _, compact := range []bool{false, true} {
			b.Run(fmt.Sprintf("streams=%d/compact=%v", streams, compact), func(b *testing.B) {
				var enc *otap.Encoder
				defer func() { enc.Close() }()
				bytes, i := 0, 0
				b.ReportAllocs()
				for b.Loop() {
					if i%len(seq) == 0 {
						if enc != nil {
							enc.Close()
						}
						enc = otap.NewEncoder(otap.EncoderOptions{Zstd: true})
						if !compact {
							otap.KeepDictionaries(enc)
						}
					}
					bar, err := enc.Encode(seq[i%len(seq)])
					if err != nil {
						b.Fatal(err)
					}
					bytes += proto.Size(bar)
					i++
				}
				b.ReportMetric(float64(bytes)/float64(i), "bytes/batch")
			})
		}
	}
}
