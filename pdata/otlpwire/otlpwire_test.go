package otlpwire_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata/otlpwire"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var kinds = []otlpwire.Kind{otlpwire.Logs, otlpwire.Metrics, otlpwire.Traces}

// Builders for hand-made protobuf, field by field.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func lenF(num protowire.Number, payload ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, cat(payload...))
}

func varF(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func fix64F(num protowire.Number) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), 7)
}

func fix32F(num protowire.Number) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(nil, num, protowire.Fixed32Type), 7)
}

// rawTag is a field header with any wire type, valid or not.
func rawTag(num uint64, wt uint64) []byte { return protowire.AppendVarint(nil, num<<3|wt) }

// oneLog is a request with one resource, one scope and n log records.
func oneLog(n int) []byte {
	var recs [][]byte
	for range n {
		recs = append(recs, lenF(2, fix64F(1), varF(2, 9), lenF(5, lenF(1, []byte("hi")))))
	}
	return lenF(1, lenF(2, recs...))
}

func TestKindString(t *testing.T) {
	for _, tc := range []struct {
		k    otlpwire.Kind
		want string
	}{
		{otlpwire.Logs, "logs"},
		{otlpwire.Metrics, "metrics"},
		{otlpwire.Traces, "traces"},
		{0, "Kind(0)"},
		{9, "Kind(9)"},
	} {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(tc.k), got, tc.want)
		}
	}
}

func TestUnknownKind(t *testing.T) {
	for _, k := range []otlpwire.Kind{0, 4, 255} {
		if _, err := otlpwire.Scan(k, nil); !errors.Is(err, otlpwire.ErrKind) {
			t.Errorf("Scan(Kind(%d)) err = %v, want ErrKind", uint8(k), err)
		}
		if _, err := otlpwire.AppendEntries(nil, k, nil); !errors.Is(err, otlpwire.ErrKind) {
			t.Errorf("AppendEntries(Kind(%d)) err = %v, want ErrKind", uint8(k), err)
		}
		if _, err := otlpwire.Split(k, nil, 10); !errors.Is(err, otlpwire.ErrKind) {
			t.Errorf("Split(Kind(%d)) err = %v, want ErrKind", uint8(k), err)
		}
	}
}

func TestScanEmptyRequest(t *testing.T) {
	for _, k := range kinds {
		for _, b := range [][]byte{nil, {}} {
			st, err := otlpwire.Scan(k, b)
			if err != nil || st != (otlpwire.Stats{}) {
				t.Errorf("Scan(%v, %v) = %+v, %v; want zero stats, nil", k, b, st, err)
			}
		}
	}
}

// TestScanMatchesPData checks the counts against pdata on random requests of
// every kind, including every metric type and empty levels.
func TestScanMatchesPData(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(k)))
			for i := range 300 {
				req := genRequest(t, r, k, shape{resources: 4, scopes: 3, items: 5})
				st, err := otlpwire.Scan(k, req.b)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if want := (otlpwire.Stats{Items: req.items, Resources: req.resources}); st != want {
					t.Fatalf("request %d: Scan = %+v, pdata = %+v", i, st, want)
				}
				checkAgainstOracles(t, k, req.b)
			}
		})
	}
}

// TestScanEveryMetricType pins the data point count of each metric type,
// including a metric without data, which counts 0.
func TestScanEveryMetricType(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for typ := range allMetricTypes {
		for _, points := range []int{0, 1, 3} {
			md := pmetric.NewMetrics()
			m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			fillMetric(r, m, typ, points)
			b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			if err != nil {
				t.Fatal(err)
			}
			st, err := otlpwire.Scan(otlpwire.Metrics, b)
			if err != nil {
				t.Fatalf("%v with %d points: %v", m.Type(), points, err)
			}
			if st.Items != md.DataPointCount() || (typ != 0 && st.Items != points) {
				t.Errorf("%v with %d points: Items = %d, pdata = %d", m.Type(), points, st.Items, md.DataPointCount())
			}
		}
	}
}

func TestScanMalformed(t *testing.T) {
	logs, metrics, traces := otlpwire.Logs, otlpwire.Metrics, otlpwire.Traces
	rec := cat(fix64F(1), varF(2, 9))
	for _, tc := range []struct {
		name string
		k    otlpwire.Kind
		b    []byte
		want string // substring of the error, after "malformed protobuf: "
	}{
		{"resource entry not length-delimited", logs, varF(1, 3),
			"at byte 0: ExportLogsServiceRequest: field 1 (ResourceLogs) has wire type varint, want length-delimited"},
		{"length past the end", traces, cat([]byte{0x0a, 5}, []byte{1, 2}),
			"at byte 1: ExportTraceServiceRequest: length 5 overruns the message, 2 bytes left"},
		{"64-bit length", logs, cat([]byte{0x0a}, protowire.AppendVarint(nil, 1<<63)),
			"at byte 1: ExportLogsServiceRequest: length 9223372036854775808 overruns"},
		{"32-bit length", logs, cat([]byte{0x0a}, protowire.AppendVarint(nil, 1<<32-1), []byte{0}),
			"length 4294967295 overruns"},
		{"truncated varint", logs, []byte{0x0a, 0x80},
			"at byte 1: ExportLogsServiceRequest: varint runs past the end of the message"},
		{"truncated tag", metrics, []byte{0x80},
			"at byte 0: ExportMetricsServiceRequest: varint runs past the end"},
		{"eleven-byte varint", logs, cat(rawTag(9, 0), bytes.Repeat([]byte{0x80}, 10), []byte{0}),
			"at byte 1: ExportLogsServiceRequest: varint longer than 10 bytes"},
		{"eleven-byte length", logs, cat([]byte{0x0a}, bytes.Repeat([]byte{0x81}, 11)),
			"at byte 1: ExportLogsServiceRequest: varint longer than 10 bytes"},
		{"varint overflow", logs, cat(rawTag(9, 0), bytes.Repeat([]byte{0xff}, 9), []byte{0x02}),
			"varint overflows 64 bits"},
		{"field number 0", logs, rawTag(0, 2), "at byte 0: ExportLogsServiceRequest: invalid field number 0"},
		{"field number too big", logs, rawTag(1<<29, 0), "invalid field number 536870912"},
		{"start group", logs, cat(rawTag(7, 3), rawTag(7, 4)), "group wire type 3 is not allowed"},
		{"end group", traces, rawTag(7, 4), "group wire type 4 is not allowed"},
		{"wire type 6", logs, rawTag(7, 6), "invalid wire type 6"},
		{"wire type 7", logs, cat(lenF(1), rawTag(7, 7)), "at byte 2: ExportLogsServiceRequest: invalid wire type 7"},
		{"scope entry fixed32", logs, lenF(1, fix32F(2)),
			"at byte 2: ResourceLogs: field 2 (scope entry) has wire type fixed32"},
		{"deprecated scope entry varint", traces, lenF(1, varF(1000, 1)), "field 1000 (scope entry) has wire type varint"},
		{"resource not length-delimited", metrics, lenF(1, varF(1, 1)), "ResourceMetrics: field 1 (resource)"},
		{"resource framing", logs, lenF(1, lenF(1, rawTag(3, 6))), "at byte 4: Resource: invalid wire type 6"},
		{"schema_url varint", logs, lenF(1, varF(3, 1)), "field 3 (schema_url) has wire type varint"},
		{"scope framing", traces, lenF(1, lenF(2, lenF(1, []byte{0x0a, 9}))), "InstrumentationScope: length 9 overruns"},
		{"item not length-delimited", traces, lenF(1, lenF(2, fix64F(2))), "ScopeSpans: field 2 (Span) has wire type fixed64"},
		{"log record truncated fixed64", logs, lenF(1, lenF(2, lenF(2, rec[:5]))),
			"at byte 6: LogRecord: fixed64 runs past the end of the message"},
		{"log record truncated fixed32", logs, lenF(1, lenF(2, lenF(2, fix32F(8)[:3]))), "LogRecord: fixed32 runs past"},
		{"varint crosses the record end", logs, cat(lenF(1, lenF(2, lenF(2, []byte{0x10, 0x80}), lenF(2))), []byte{0}),
			"LogRecord: varint runs past the end of the message"},
		{"length crosses the record end", logs, lenF(1, lenF(2, lenF(2, []byte{0x2a, 3}), lenF(2, rec))),
			"at byte 7: LogRecord: length 3 overruns the message, 0 bytes left"},
		{"metric not length-delimited", metrics, lenF(1, lenF(2, varF(2, 1))), "ScopeMetrics: field 2 (Metric)"},
		{"metric name varint", metrics, lenF(1, lenF(2, lenF(2, varF(1, 1)))), "Metric: field 1 (string) has wire type varint"},
		{"gauge fixed64", metrics, lenF(1, lenF(2, lenF(2, fix64F(5)))), "Metric: field 5 (Gauge) has wire type fixed64"},
		{"summary varint", metrics, lenF(1, lenF(2, lenF(2, varF(11, 0)))), "field 11 (Summary)"},
		{"metadata varint", metrics, lenF(1, lenF(2, lenF(2, varF(12, 0)))), "field 12 (metadata)"},
		{"data points varint", metrics, lenF(1, lenF(2, lenF(2, lenF(9, varF(1, 0))))), "Histogram: field 1 (HistogramDataPoint)"},
		{"temporality length-delimited", metrics, lenF(1, lenF(2, lenF(2, lenF(7, lenF(2))))),
			"Sum: field 2 (enum or bool) has wire type length-delimited, want varint"},
		{"monotonic fixed32", metrics, lenF(1, lenF(2, lenF(2, lenF(7, fix32F(3))))), "Sum: field 3 (enum or bool)"},
		{"exp histogram temporality fixed64", metrics, lenF(1, lenF(2, lenF(2, lenF(10, fix64F(2))))), "ExponentialHistogram: field 2"},
		{"data point framing", metrics, lenF(1, lenF(2, lenF(2, lenF(10, lenF(1, rawTag(4, 7)))))),
			"ExponentialHistogramDataPoint: invalid wire type 7"},
		{"summary point framing", metrics, lenF(1, lenF(2, lenF(2, lenF(11, lenF(1, []byte{0x80}))))), "SummaryDataPoint: varint runs past"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := otlpwire.Scan(tc.k, tc.b)
			if !errors.Is(err, otlpwire.ErrMalformed) {
				t.Fatalf("Scan = %+v, %v; want ErrMalformed", st, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if st != (otlpwire.Stats{}) {
				t.Errorf("Stats on error = %+v, want zero", st)
			}
			checkAgainstOracles(t, tc.k, tc.b)
		})
	}
}

// TestScanSkipsUnknownFields puts well-formed fields with unknown numbers of
// every wire type at every level Scan walks: they are skipped, as a newer
// OTLP may add fields, and pdata agrees.
func TestScanSkipsUnknownFields(t *testing.T) {
	unknown := cat(varF(99, 1<<40), fix64F(100), lenF(101, []byte("new")), fix32F(102), varF(50, 0))
	rec := cat(fix64F(51), unknown)
	for _, tc := range []struct {
		name      string
		k         otlpwire.Kind
		b         []byte
		wantItems int
	}{
		{"logs", otlpwire.Logs, cat(unknown, lenF(1, unknown, lenF(1, unknown), lenF(2, unknown, lenF(1, unknown), lenF(2, rec), lenF(2, rec)))), 2},
		{"traces", otlpwire.Traces, cat(lenF(1, lenF(2, lenF(2, unknown), unknown)), unknown), 1},
		{"metrics", otlpwire.Metrics, lenF(1, unknown, lenF(2, unknown, lenF(2, unknown,
			lenF(7, unknown, varF(2, 1), lenF(1, unknown), varF(3, 1), lenF(1, rec)),
			lenF(12, unknown)))), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := checkAgainstOracles(t, tc.k, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if st.Items != tc.wantItems || st.Resources != 1 {
				t.Errorf("Scan = %+v, want %d items in 1 resource", st, tc.wantItems)
			}
			if ps, err := pdataCount(tc.k, tc.b); err != nil || ps != st {
				t.Errorf("pdata = %+v, %v; Scan = %+v", ps, err, st)
			}
		})
	}
}

// TestScanDeprecatedScopes pins the pre-1.0 instrumentation_library_*
// entries (field 1000): pdata's receivers read them only when a resource has
// no scope entries.
func TestScanDeprecatedScopes(t *testing.T) {
	scope := func(n int) []byte {
		var recs [][]byte
		for range n {
			recs = append(recs, lenF(2, fix64F(50)))
		}
		return cat(recs...)
	}
	for _, tc := range []struct {
		name string
		res  []byte
		want int
	}{
		{"only deprecated", cat(lenF(1000, scope(2)), lenF(1000, scope(1))), 3},
		{"scope entries win", cat(lenF(1000, scope(2)), lenF(2, scope(4))), 4},
		{"empty scope entry still wins", cat(lenF(2), lenF(1000, scope(5))), 0},
	} {
		for _, k := range kinds {
			if k == otlpwire.Metrics {
				continue // the items would be metrics, not points; same code path
			}
			t.Run(tc.name+"/"+k.String(), func(t *testing.T) {
				b := lenF(1, tc.res)
				st, err := checkAgainstOracles(t, k, b)
				if err != nil || st.Items != tc.want {
					t.Fatalf("Scan = %+v, %v; want %d items", st, err, tc.want)
				}
				if ps, err := pdataCount(k, b); err != nil || ps != st {
					t.Errorf("pdata = %+v, %v", ps, err)
				}
			})
		}
	}
}

// TestScanMetricDataLastWins pins pdata's reading of Metric.data, a oneof:
// each occurrence replaces the previous one, even of the same field.
func TestScanMetricDataLastWins(t *testing.T) {
	pts := func(n int) []byte {
		var p [][]byte
		for range n {
			p = append(p, lenF(1, fix64F(3)))
		}
		return cat(p...)
	}
	for _, tc := range []struct {
		name   string
		metric []byte
		want   int
	}{
		{"gauge then sum", cat(lenF(5, pts(2)), lenF(7, pts(3))), 3},
		{"sum then gauge", cat(lenF(7, pts(3)), lenF(5, pts(2))), 2},
		{"gauge twice", cat(lenF(5, pts(2)), lenF(5, pts(1))), 1},
		{"summary then empty histogram", cat(lenF(11, pts(4)), lenF(9)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := lenF(1, lenF(2, lenF(2, tc.metric)))
			st, err := checkAgainstOracles(t, otlpwire.Metrics, b)
			if err != nil || st.Items != tc.want {
				t.Fatalf("Scan = %+v, %v; want %d items", st, err, tc.want)
			}
			if ps, err := pdataCount(otlpwire.Metrics, b); err != nil || ps != st {
				t.Errorf("pdata = %+v, %v", ps, err)
			}
		})
	}
}

// TestScanNonMinimalTags checks that a tag encoded in more bytes than it
// needs is accepted, as every protobuf decoder does.
func TestScanNonMinimalTags(t *testing.T) {
	b := cat([]byte{0x8a, 0x00}, protowire.AppendVarint(nil, uint64(len(oneLog(1))-2)), oneLog(1)[2:])
	st, err := checkAgainstOracles(t, otlpwire.Logs, b)
	if err != nil || st.Items != 1 {
		t.Fatalf("Scan = %+v, %v", st, err)
	}
}

// TestScanTruncated cuts random requests at every length: a prefix is
// either a valid request (it ends between top-level entries) or malformed,
// and the oracles agree either way.
func TestScanTruncated(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, uint64(k)))
			for range 8 {
				req := genRequest(t, r, k, shape{resources: 3, scopes: 2, items: 3})
				ends := map[int]bool{0: true}
				entries, err := otlpwire.AppendEntries(nil, k, req.b)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					ends[e.End] = true
				}
				for n := range len(req.b) + 1 {
					_, err := checkAgainstOracles(t, k, req.b[:n])
					if ends[n] != (err == nil) {
						t.Fatalf("prefix %d of %d: err = %v, at an entry boundary: %v", n, len(req.b), err, ends[n])
					}
				}
			}
		})
	}
}

// TestScanCorrupted flips, inserts and deletes random bytes: Scan never
// panics, and agrees with the oracles.
func TestScanCorrupted(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(4, uint64(k)))
			for range 3000 {
				req := genRequest(t, r, k, shape{resources: 2, scopes: 2, items: 2})
				if len(req.b) == 0 {
					continue
				}
				b := corrupt(r, req.b)
				checkAgainstOracles(t, k, b)
			}
		})
	}
}

func corrupt(r *rand.Rand, in []byte) []byte {
	b := bytes.Clone(in)
	for range 1 + r.IntN(3) {
		i := r.IntN(len(b))
		switch r.IntN(4) {
		case 0:
			b[i] ^= 1 << r.IntN(8)
		case 1:
			b[i] = byte(r.Uint32())
		case 2:
			b = append(b[:i], append([]byte{byte(r.Uint32())}, b[i:]...)...)
		case 3:
			if len(b) > 1 {
				b = append(b[:i], b[i+1:]...)
			}
		}
	}
	return b
}

// TestConcatenation proves batching by appending: two requests back to back
// are one request holding both, for Scan and for pdata.
func TestConcatenation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			for range 50 {
				a := genRequest(t, r, k, shape{resources: 3, scopes: 2, items: 4})
				b := genRequest(t, r, k, shape{resources: 3, scopes: 2, items: 4})
				ab := cat(a.b, b.b)
				st, err := otlpwire.Scan(k, ab)
				if err != nil {
					t.Fatal(err)
				}
				if st.Items != a.items+b.items || st.Resources != a.resources+b.resources {
					t.Fatalf("Scan(a+b) = %+v, want %d items in %d resources",
						st, a.items+b.items, a.resources+b.resources)
				}
				if got, union := decodeUnion(t, k, ab, a.b, b.b); !bytes.Equal(got, union) {
					t.Fatal("pdata decodes a+b differently from the union of a and b")
				}
			}
		})
	}
}

// decodeUnion decodes ab, and a and b separately merged into one, with
// pdata's ProtoUnmarshaler, and marshals both back for comparison.
func decodeUnion(t *testing.T, k otlpwire.Kind, ab, a, b []byte) (got, union []byte) {
	t.Helper()
	must := func(v []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	switch k {
	case otlpwire.Logs:
		u, m := &plog.ProtoUnmarshaler{}, &plog.ProtoMarshaler{}
		dab, err1 := u.UnmarshalLogs(ab)
		da, err2 := u.UnmarshalLogs(a)
		db, err3 := u.UnmarshalLogs(b)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		db.ResourceLogs().MoveAndAppendTo(da.ResourceLogs())
		if dab.LogRecordCount() != da.LogRecordCount() {
			t.Fatalf("LogRecordCount(a+b) = %d, union %d", dab.LogRecordCount(), da.LogRecordCount())
		}
		return must(m.MarshalLogs(dab)), must(m.MarshalLogs(da))
	case otlpwire.Metrics:
		u, m := &pmetric.ProtoUnmarshaler{}, &pmetric.ProtoMarshaler{}
		dab, err1 := u.UnmarshalMetrics(ab)
		da, err2 := u.UnmarshalMetrics(a)
		db, err3 := u.UnmarshalMetrics(b)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		db.ResourceMetrics().MoveAndAppendTo(da.ResourceMetrics())
		if dab.DataPointCount() != da.DataPointCount() {
			t.Fatalf("DataPointCount(a+b) = %d, union %d", dab.DataPointCount(), da.DataPointCount())
		}
		return must(m.MarshalMetrics(dab)), must(m.MarshalMetrics(da))
	default:
		u, m := &ptrace.ProtoUnmarshaler{}, &ptrace.ProtoMarshaler{}
		dab, err1 := u.UnmarshalTraces(ab)
		da, err2 := u.UnmarshalTraces(a)
		db, err3 := u.UnmarshalTraces(b)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		db.ResourceSpans().MoveAndAppendTo(da.ResourceSpans())
		if dab.SpanCount() != da.SpanCount() {
			t.Fatalf("SpanCount(a+b) = %d, union %d", dab.SpanCount(), da.SpanCount())
		}
		return must(m.MarshalTraces(dab)), must(m.MarshalTraces(da))
	}
}

func TestAppendEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			for range 100 {
				req := genRequest(t, r, k, shape{resources: 5, scopes: 2, items: 3})
				prefix := []otlpwire.Entry{{Start: -1}}
				entries, err := otlpwire.AppendEntries(prefix, k, req.b)
				if err != nil {
					t.Fatal(err)
				}
				if entries[0] != prefix[0] {
					t.Fatal("AppendEntries changed dst's existing elements")
				}
				entries = entries[1:]
				if len(entries) != req.resources {
					t.Fatalf("%d entries, want %d", len(entries), req.resources)
				}
				pos, items := 0, 0
				for _, e := range entries {
					// pdata writes nothing but entries, so they tile the request.
					if e.Start != pos {
						t.Fatalf("entry starts at %d, want %d", e.Start, pos)
					}
					st, err := otlpwire.Scan(k, req.b[e.Start:e.End])
					if err != nil || st != (otlpwire.Stats{Items: e.Items, Resources: 1}) {
						t.Fatalf("entry %+v alone: Scan = %+v, %v", e, st, err)
					}
					pos, items = e.End, items+e.Items
				}
				if pos != len(req.b) || items != req.items {
					t.Fatalf("entries end at %d of %d with %d items, want %d", pos, len(req.b), items, req.items)
				}
			}
		})
	}
}

func TestAppendEntriesErrorKeepsDst(t *testing.T) {
	dst := []otlpwire.Entry{{Start: 1, End: 2}}
	bad := cat(oneLog(2), []byte{0x0a, 7})
	got, err := otlpwire.AppendEntries(dst, otlpwire.Logs, bad)
	if !errors.Is(err, otlpwire.ErrMalformed) || len(got) != 1 || got[0] != dst[0] {
		t.Fatalf("AppendEntries = %v, %v; want dst unchanged and ErrMalformed", got, err)
	}
}

// TestNoAllocations pins the hot path: no allocation per call once the
// destination slices have room.
func TestNoAllocations(t *testing.T) {
	b := pdatatest.BenchLogsBytes(1000)
	entries := make([]otlpwire.Entry, 0, 16)
	chunks := make([][]byte, 0, 16)
	for name, f := range map[string]func(){
		"Scan": func() { _, _ = otlpwire.Scan(otlpwire.Logs, b) },
		"AppendEntries": func() {
			entries, _ = otlpwire.AppendEntries(entries[:0], otlpwire.Logs, b)
		},
		"AppendSplit": func() {
			chunks, _ = otlpwire.AppendSplit(chunks[:0], otlpwire.Logs, b, 16<<10)
		},
	} {
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}

func TestSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, k := range kinds {
		for _, maxBytes := range []int{-1, 0, 1, 64, 300, 1000, 4000, 1 << 20} {
			t.Run(fmt.Sprintf("%v/max=%d", k, maxBytes), func(t *testing.T) {
				for range 40 {
					req := genRequest(t, r, k, shape{resources: 6, scopes: 2, items: 4})
					chunks, err := otlpwire.Split(k, req.b, maxBytes)
					if err != nil {
						t.Fatal(err)
					}
					checkSplit(t, k, req.b, maxBytes, chunks)
					for _, c := range chunks {
						if n := decodeCount(t, k, c); n < 0 {
							t.Fatal("chunk does not decode")
						}
					}
				}
			})
		}
	}
}

// checkSplit checks the properties Split promises for chunks of b.
func checkSplit(t *testing.T, k otlpwire.Kind, b []byte, maxBytes int, chunks [][]byte) {
	t.Helper()
	total, err := otlpwire.Scan(k, b)
	if err != nil {
		t.Fatal(err)
	}
	var sum otlpwire.Stats
	var joined []byte
	for i, c := range chunks {
		if len(c) == 0 {
			t.Fatalf("chunk %d is empty", i)
		}
		if cap(c) != len(c) {
			t.Fatalf("chunk %d has cap %d > len %d: appending would overwrite the next chunk", i, cap(c), len(c))
		}
		st, err := otlpwire.Scan(k, c)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		fields, _ := oracleFields(c)
		if len(c) > maxBytes && fields != 1 {
			t.Fatalf("chunk %d: %d bytes > max %d in %d top-level fields", i, len(c), maxBytes, fields)
		}
		sum.Items += st.Items
		sum.Resources += st.Resources
		joined = append(joined, c...)
	}
	if !bytes.Equal(joined, b) {
		t.Fatal("chunks do not concatenate back to the input")
	}
	if sum != total {
		t.Fatalf("chunks hold %+v, input %+v", sum, total)
	}
	// Greedy packing: no chunk could have taken the first field of the next.
	for i := 0; i+1 < len(chunks); i++ {
		_, first := oracleFields(chunks[i+1])
		if len(chunks[i])+first <= maxBytes {
			t.Fatalf("chunk %d (%d bytes) had room for the next field (%d bytes) under %d", i, len(chunks[i]), first, maxBytes)
		}
	}
}

// oracleFields counts the top-level fields of a valid request and returns
// the size of the first.
func oracleFields(b []byte) (n, first int) {
	for len(b) > 0 {
		_, typ, tn := protowire.ConsumeTag(b)
		vn := protowire.ConsumeFieldValue(0, typ, b[tn:])
		if n == 0 {
			first = tn + vn
		}
		n++
		b = b[tn+vn:]
	}
	return n, first
}

// decodeCount decodes b with pdata's ProtoUnmarshaler and returns its item
// count, or -1 if it does not decode.
func decodeCount(t *testing.T, k otlpwire.Kind, b []byte) int {
	t.Helper()
	switch k {
	case otlpwire.Logs:
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
		if err != nil {
			return -1
		}
		return ld.LogRecordCount()
	case otlpwire.Metrics:
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
		if err != nil {
			return -1
		}
		return md.DataPointCount()
	default:
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			return -1
		}
		return td.SpanCount()
	}
}

func TestSplitTable(t *testing.T) {
	e1, e2, e3 := oneLog(1), oneLog(3), oneLog(2)
	unknown := varF(9, 5)
	n1, n2, n3 := len(e1), len(e2), len(e3)
	for _, tc := range []struct {
		name     string
		b        []byte
		maxBytes int
		want     []int // chunk lengths
	}{
		{"empty", nil, 100, nil},
		{"all fit", cat(e1, e2, e3), n1 + n2 + n3, []int{n1 + n2 + n3}},
		{"one byte short", cat(e1, e2, e3), n1 + n2 + n3 - 1, []int{n1 + n2, n3}},
		{"each alone", cat(e1, e2, e3), 1, []int{n1, n2, n3}},
		{"zero limit", cat(e1, e2), 0, []int{n1, n2}},
		{"oversized entry alone in the middle", cat(e1, e2, e1), n2 - 1, []int{n1, n2, n1}},
		{"pairs", cat(e1, e1, e1, e1, e1), 2 * n1, []int{2 * n1, 2 * n1, n1}},
		{"unknown fields travel with entries", cat(unknown, e1, unknown, e1), n1 + 2*len(unknown),
			[]int{2*len(unknown) + n1, n1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks, err := otlpwire.Split(otlpwire.Logs, tc.b, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, c := range chunks {
				got = append(got, len(c))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("chunk sizes %v, want %v", got, tc.want)
			}
			checkSplit(t, otlpwire.Logs, tc.b, tc.maxBytes, chunks)
		})
	}
}

func TestSplitMalformed(t *testing.T) {
	bad := cat(oneLog(1), oneLog(1), lenF(1, lenF(2, lenF(2, []byte{0x09, 1}))))
	chunks, err := otlpwire.Split(otlpwire.Logs, bad, 1)
	if !errors.Is(err, otlpwire.ErrMalformed) || chunks != nil {
		t.Fatalf("Split = %d chunks, %v; want none and ErrMalformed", len(chunks), err)
	}
	dst := make([][]byte, 1, 8)
	got, err := otlpwire.AppendSplit(dst, otlpwire.Logs, bad, 1)
	if !errors.Is(err, otlpwire.ErrMalformed) || len(got) != 1 {
		t.Fatalf("AppendSplit = %d chunks, %v; want dst unchanged and ErrMalformed", len(got), err)
	}
	if full := got[:cap(got)]; full[1] != nil || full[2] != nil {
		t.Fatal("AppendSplit left chunks of the malformed request beyond dst's length")
	}
}
