package otlpwire_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata/otlpwire"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// editFunc adapts a function to otlpwire.AttrsEditor.
type editFunc func(a *otlpwire.Attrs)

func (f editFunc) EditAttrs(a *otlpwire.Attrs) { f(a) }

// rewrite runs the rewrite and fails the test on error.
func rewrite(t *testing.T, k otlpwire.Kind, b []byte, d otlpwire.Domains, f editFunc) ([]byte, bool) {
	t.Helper()
	var r otlpwire.Rewriter
	out, changed, err := r.AppendRewrite(nil, k, b, d, f)
	if err != nil {
		t.Fatalf("AppendRewrite: %v", err)
	}
	if _, err := otlpwire.Scan(k, out); err != nil {
		t.Fatalf("the output fails Scan: %v", err)
	}
	return out, changed
}

// countLists counts the attribute lists of each domain that pdata sees in
// the request b.
func countLists(t *testing.T, k otlpwire.Kind, b []byte) (res, scope, item int) {
	t.Helper()
	switch k {
	case otlpwire.Logs:
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, rl := range ld.ResourceLogs().All() {
			res++
			for _, sl := range rl.ScopeLogs().All() {
				scope++
				item += sl.LogRecords().Len()
			}
		}
	case otlpwire.Traces:
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range td.ResourceSpans().All() {
			res++
			for _, ss := range rs.ScopeSpans().All() {
				scope++
				for _, sp := range ss.Spans().All() {
					item += 1 + sp.Events().Len() + sp.Links().Len()
				}
			}
		}
	case otlpwire.Metrics:
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, rm := range md.ResourceMetrics().All() {
			res++
			for _, sm := range rm.ScopeMetrics().All() {
				scope++
				for _, m := range sm.Metrics().All() {
					item++ // metadata
					points := func(n int, exemplars func(int) int) {
						for i := range n {
							item += 1 + exemplars(i)
						}
					}
					switch m.Type() {
					case pmetric.MetricTypeGauge:
						ps := m.Gauge().DataPoints()
						points(ps.Len(), func(i int) int { return ps.At(i).Exemplars().Len() })
					case pmetric.MetricTypeSum:
						ps := m.Sum().DataPoints()
						points(ps.Len(), func(i int) int { return ps.At(i).Exemplars().Len() })
					case pmetric.MetricTypeHistogram:
						ps := m.Histogram().DataPoints()
						points(ps.Len(), func(i int) int { return ps.At(i).Exemplars().Len() })
					case pmetric.MetricTypeExponentialHistogram:
						ps := m.ExponentialHistogram().DataPoints()
						points(ps.Len(), func(i int) int { return ps.At(i).Exemplars().Len() })
					case pmetric.MetricTypeSummary:
						points(m.Summary().DataPoints().Len(), func(int) int { return 0 })
					}
				}
			}
		}
	}
	return res, scope, item
}

// TestRewriteVisitsEveryList checks that the editor sees every attribute
// list of the chosen domains, once, with its domain and its entries, and
// that a rewrite that edits nothing returns the request unchanged.
func TestRewriteVisitsEveryList(t *testing.T) {
	for _, k := range kinds {
		for seed := range uint64(30) {
			r := rand.New(rand.NewPCG(seed, 1))
			req := genRequest(t, r, k, shape{resources: 3, scopes: 3, items: 4})
			wantRes, wantScope, wantItem := countLists(t, k, req.b)
			for _, d := range []otlpwire.Domains{otlpwire.ResourceAttrs, otlpwire.ScopeAttrs, otlpwire.ItemAttrs, otlpwire.AllAttrs} {
				seen := map[otlpwire.Domains]int{}
				out, changed := rewrite(t, k, req.b, d, func(a *otlpwire.Attrs) {
					if a.Domain()&d == 0 {
						t.Fatalf("%v: got a list of domain %v", d, a.Domain())
					}
					seen[a.Domain()]++
					for i := range a.Len() {
						_ = a.Key(i)
						_ = a.Value(i)
					}
				})
				if changed || !bytes.Equal(out, req.b) {
					t.Fatalf("%v %v: an editor that edits nothing changed the request", k, d)
				}
				want := map[otlpwire.Domains]int{}
				if d&otlpwire.ResourceAttrs != 0 && wantRes > 0 {
					want[otlpwire.ResourceAttrs] = wantRes
				}
				if d&otlpwire.ScopeAttrs != 0 && wantScope > 0 {
					want[otlpwire.ScopeAttrs] = wantScope
				}
				if d&otlpwire.ItemAttrs != 0 && wantItem > 0 {
					want[otlpwire.ItemAttrs] = wantItem
				}
				if len(seen) != len(want) {
					t.Fatalf("%v %v seed %d: saw lists %v, want %v", k, d, seed, seen, want)
				}
				for dom, n := range want {
					if seen[dom] != n {
						t.Fatalf("%v %v seed %d: saw lists %v, want %v", k, d, seed, seen, want)
					}
				}
			}
		}
	}
}

// logsWith is a logs request with one resource, scope and record, each
// with the attributes the functions give them.
func logsWith(res, scope, rec func(pcommon.Map)) []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res(rl.Resource().Attributes())
	sl := rl.ScopeLogs().AppendEmpty()
	scope(sl.Scope().Attributes())
	lr := sl.LogRecords().AppendEmpty()
	lr.Body().SetStr("body")
	rec(lr.Attributes())
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		panic(err)
	}
	return b
}

func decodeLogs(t *testing.T, b []byte) (res, scope, rec pcommon.Map) {
	t.Helper()
	ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
	if err != nil {
		t.Fatal(err)
	}
	rl := ld.ResourceLogs().At(0)
	sl := rl.ScopeLogs().At(0)
	return rl.Resource().Attributes(), sl.Scope().Attributes(), sl.LogRecords().At(0).Attributes()
}

// TestRewriteEdits checks each edit in each domain, through pdata's
// decoder.
func TestRewriteEdits(t *testing.T) {
	fill := func(m pcommon.Map) {
		m.PutStr("keep", "k")
		m.PutStr("gone", "g")
		m.PutInt("old", 7)
		m.PutBool("flag", true)
	}
	b := logsWith(fill, fill, fill)
	long := strings.Repeat("x", 300) // grows the length prefixes of every enclosing message
	out, changed := rewrite(t, otlpwire.Logs, b, otlpwire.AllAttrs, func(a *otlpwire.Attrs) {
		for i := range a.Len() {
			switch string(a.Key(i)) {
			case "gone":
				a.Delete(i)
			case "old":
				a.SetKey(i, "new")
			case "flag":
				if v := a.Value(i); v.Type != otlpwire.ValueBool || v.Num != 1 {
					t.Fatalf("flag = %+v", v)
				}
				a.SetValue(i, otlpwire.Value{Type: otlpwire.ValueStr, Bytes: []byte(long)})
			}
		}
		a.Append("added."+a.Domain().String(), otlpwire.Value{Type: otlpwire.ValueDouble, Num: math.Float64bits(2.5)})
	})
	if !changed {
		t.Fatal("changed = false")
	}
	res, scope, rec := decodeLogs(t, out)
	for name, m := range map[string]pcommon.Map{"resource": res, "scope": scope, "item": rec} {
		got := m.AsRaw()
		want := map[string]any{"keep": "k", "new": int64(7), "flag": long, "added." + name: 2.5}
		if len(got) != len(want) {
			t.Fatalf("%s: got %v, want %v", name, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: got %v, want %v", name, got, want)
			}
		}
	}
	// And back: shrinking re-narrows the prefixes.
	back, _ := rewrite(t, otlpwire.Logs, out, otlpwire.AllAttrs, func(a *otlpwire.Attrs) {
		for i := range a.Len() {
			if string(a.Key(i)) == "flag" {
				a.SetValue(i, otlpwire.Value{Type: otlpwire.ValueBool, Num: 1})
			}
		}
	})
	if len(back) >= len(out)-3*len(long) {
		t.Fatalf("shrinking: %d bytes from %d", len(back), len(out))
	}
	if _, _, rec := decodeLogs(t, back); rec.AsRaw()["flag"] != true {
		t.Fatalf("flag = %v", rec.AsRaw()["flag"])
	}
}

// TestRewriteValueTypes checks Value on every AnyValue type, and that a
// value copied with SetValue decodes to the original.
func TestRewriteValueTypes(t *testing.T) {
	b := logsWith(func(pcommon.Map) {}, func(pcommon.Map) {}, func(m pcommon.Map) {
		m.PutStr("str", "s")
		m.PutInt("int", -3)
		m.PutDouble("double", 1.25)
		m.PutBool("bool", true)
		m.PutEmptyBytes("bytes").FromRaw([]byte{0, 1})
		m.PutEmptySlice("array").AppendEmpty().SetStr("e")
		m.PutEmptyMap("map").PutInt("x", 1)
		m.PutEmpty("empty")
	})
	want := map[string]otlpwire.ValueType{
		"str": otlpwire.ValueStr, "int": otlpwire.ValueInt, "double": otlpwire.ValueDouble,
		"bool": otlpwire.ValueBool, "bytes": otlpwire.ValueBytes, "array": otlpwire.ValueArray,
		"map": otlpwire.ValueMap, "empty": otlpwire.ValueEmpty,
	}
	out, _ := rewrite(t, otlpwire.Logs, b, otlpwire.ItemAttrs, func(a *otlpwire.Attrs) {
		n := a.Len()
		for i := range n {
			k, v := string(a.Key(i)), a.Value(i)
			if v.Type != want[k] {
				t.Errorf("%s: type %v, want %v", k, v.Type, want[k])
			}
			if v.Scalar() != (k != "array" && k != "map" && k != "empty") {
				t.Errorf("%s: Scalar() = %v", k, v.Scalar())
			}
			a.Append("copy."+k, v)
		}
	})
	_, _, rec := decodeLogs(t, out)
	for k := range want {
		orig, _ := rec.Get(k)
		cp, ok := rec.Get("copy." + k)
		if !ok || !orig.Equal(cp) || orig.Type() != cp.Type() {
			t.Errorf("copy of %s = %v (%v), want %v", k, cp.AsRaw(), cp.Type(), orig.AsRaw())
		}
	}
}

// TestRewriteAbsentResourceAndScope checks that appending to the list of
// a resource or scope that the encoding leaves out creates it.
func TestRewriteAbsentResourceAndScope(t *testing.T) {
	b := lenF(1, lenF(2, lenF(2, lenF(5, lenF(1, []byte("hi"))))))
	out, changed := rewrite(t, otlpwire.Logs, b, otlpwire.ResourceAttrs|otlpwire.ScopeAttrs, func(a *otlpwire.Attrs) {
		if a.Len() != 0 {
			t.Fatalf("%v: %d entries in an absent message", a.Domain(), a.Len())
		}
		a.Append(a.Domain().String(), otlpwire.Value{Type: otlpwire.ValueInt, Num: 1})
	})
	if !changed {
		t.Fatal("changed = false")
	}
	res, scope, _ := decodeLogs(t, out)
	if res.AsRaw()["resource"] != int64(1) || scope.AsRaw()["scope"] != int64(1) {
		t.Fatalf("resource %v, scope %v", res.AsRaw(), scope.AsRaw())
	}
}

// TestRewriteMergedResource checks that a resource encoded in two pieces
// is one list, as decoders merge it, and that appended entries go to the
// last piece.
func TestRewriteMergedResource(t *testing.T) {
	kv := func(k, v string) []byte { return lenF(1, lenF(1, []byte(k)), lenF(2, lenF(1, []byte(v)))) }
	b := lenF(1,
		lenF(1, kv("a", "1")),
		lenF(2, lenF(2, lenF(5, lenF(1, []byte("hi"))))),
		lenF(1, kv("b", "2")))
	out, _ := rewrite(t, otlpwire.Logs, b, otlpwire.ResourceAttrs, func(a *otlpwire.Attrs) {
		if a.Len() != 2 || string(a.Key(0)) != "a" || string(a.Key(1)) != "b" {
			t.Fatalf("list of %d entries, want a and b", a.Len())
		}
		a.Delete(0)
		a.Append("c", otlpwire.Value{Type: otlpwire.ValueStr, Bytes: []byte("3")})
	})
	res, _, _ := decodeLogs(t, out)
	var keys []string
	for k := range res.All() {
		keys = append(keys, k)
	}
	if strings.Join(keys, ",") != "b,c" {
		t.Fatalf("keys %v, want b,c", keys)
	}
}

// TestRewriteMalformed checks that what Scan rejects, and KeyValues
// pdata's decoder would reject, fail with ErrMalformed and leave dst as
// it was.
func TestRewriteMalformed(t *testing.T) {
	rec := lenF(2, lenF(5, lenF(1, []byte("hi"))))
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated request", oneLog(1)[:5], "length"},
		{"key of the wrong wire type", lenF(1, lenF(1, lenF(1, varF(1, 3))), lenF(2, rec)), "KeyValue: field 1 has wire type varint"},
		{"value overruns its KeyValue", lenF(1, lenF(1, lenF(1, rawTag(2, 2), []byte{9}))), "KeyValue: length overruns"},
		{"bad AnyValue field", lenF(1, lenF(1, lenF(1, lenF(2, varF(1, 1))))), "AnyValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r otlpwire.Rewriter
			dst := []byte("prefix")
			out, changed, err := r.AppendRewrite(dst, otlpwire.Logs, tt.b, otlpwire.AllAttrs, editFunc(func(*otlpwire.Attrs) {}))
			if !errors.Is(err, otlpwire.ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrMalformed with %q", err, tt.want)
			}
			if changed || string(out) != "prefix" {
				t.Fatalf("out = %q, changed %v", out, changed)
			}
		})
	}
}

// TestRewriteAllocations checks that a Rewriter reused with a large enough
// dst does not allocate.
func TestRewriteAllocations(t *testing.T) {
	b := pdatatest.BenchLogsBytes(200)
	var r otlpwire.Rewriter
	dst := make([]byte, 0, 2*len(b))
	ed := editFunc(func(a *otlpwire.Attrs) {
		for i := range a.Len() {
			if string(a.Key(i)) == "user.id" {
				a.SetKey(i, "enduser.id")
			}
		}
		a.Append("env", otlpwire.Value{Type: otlpwire.ValueInt, Num: 1})
	})
	allocs := testing.AllocsPerRun(20, func() {
		var err error
		if _, _, err = r.AppendRewrite(dst[:0], otlpwire.Logs, b, otlpwire.AllAttrs, ed); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per rewrite, want 0", allocs)
	}
}
