package otlpwire_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// Value chains: the payload of an AnyValue at level 1 whose deepest
// AnyValue is at level n, each in the smallest encoding of its kind, so the
// tests sit exactly on the bytes-per-level bound Scan relies on.

// arrayChain nests through array_value: AnyValue{5: ArrayValue{1: ...}}.
func arrayChain(n int) []byte {
	var v []byte // the innermost AnyValue: empty
	for range n - 1 {
		v = lenF(5, lenF(1, v))
	}
	return v
}

// kvlistChain nests through kvlist_value with explicit values:
// AnyValue{6: KeyValueList{1: KeyValue{1: "k", 2: ...}}}.
func kvlistChain(n int) []byte {
	var v []byte
	for range n - 1 {
		v = lenF(6, lenF(1, lenF(1, []byte("k")), lenF(2, v)))
	}
	return v
}

// impliedChain ends with a KeyValue without a value: pdata gives it one,
// so the deepest AnyValue (level n) is implied.
func impliedChain(n int) []byte {
	v := lenF(6, lenF(1)) // one empty KeyValue: its value is one level down
	for range n - 2 {
		v = lenF(5, lenF(1, v))
	}
	return v
}

// attr is a KeyValue whose value is the AnyValue payload v.
func attr(v []byte) []byte { return cat(lenF(1, []byte("a")), lenF(2, v)) }

// place puts a level-1 AnyValue payload somewhere a request can hold one.
type place struct {
	name string
	kind otlpwire.Kind
	path string // what the error must name
	wrap func(v []byte) []byte
}

// Requests: resource entry (1) > scope entry (2) > item (2).
func logsReq(record []byte) []byte { return lenF(1, lenF(2, lenF(2, record))) }
func spansReq(span []byte) []byte  { return lenF(1, lenF(2, lenF(2, span))) }
func metricReq(metric []byte) []byte {
	return lenF(1, lenF(2, lenF(2, lenF(1, []byte("m")), metric)))
}

var places = []place{
	{"log body", otlpwire.Logs, "resource_logs[0].scope_logs[0].log_records[0].body",
		func(v []byte) []byte { return logsReq(cat(fix64F(1), lenF(5, v))) }},
	{"log attribute", otlpwire.Logs, "resource_logs[0].scope_logs[0].log_records[0].attributes[1]",
		func(v []byte) []byte { return logsReq(cat(lenF(6, attr(nil)), lenF(6, attr(v)))) }},
	{"resource attribute", otlpwire.Logs, "resource_logs[0].resource.attributes[0]",
		func(v []byte) []byte { return lenF(1, lenF(1, lenF(1, attr(v)))) }},
	{"scope attribute", otlpwire.Traces, "resource_spans[0].scope_spans[0].scope.attributes[0]",
		func(v []byte) []byte { return lenF(1, lenF(2, lenF(1, lenF(3, attr(v))))) }},
	{"second resource", otlpwire.Logs, "resource_logs[1].scope_logs[0].log_records[0].body",
		func(v []byte) []byte { return cat(logsReq(nil), logsReq(lenF(5, v))) }},
	{"span attribute", otlpwire.Traces, "resource_spans[0].scope_spans[0].spans[0].attributes[0]",
		func(v []byte) []byte { return spansReq(lenF(9, attr(v))) }},
	{"span event", otlpwire.Traces, "resource_spans[0].scope_spans[0].spans[0].events[1].attributes[0]",
		func(v []byte) []byte { return spansReq(cat(lenF(11), lenF(11, lenF(3, attr(v))))) }},
	{"span link", otlpwire.Traces, "resource_spans[0].scope_spans[0].spans[0].links[0].attributes[0]",
		func(v []byte) []byte { return spansReq(lenF(13, lenF(4, attr(v)))) }},
	{"metric metadata", otlpwire.Metrics, "resource_metrics[0].scope_metrics[0].metrics[0].metadata[0]",
		func(v []byte) []byte { return metricReq(lenF(12, attr(v))) }},
	{"gauge point", otlpwire.Metrics, "resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0].attributes[0]",
		func(v []byte) []byte { return metricReq(lenF(5, lenF(1, lenF(7, attr(v))))) }},
	{"sum exemplar", otlpwire.Metrics, "resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0].exemplars[0].filtered_attributes[0]",
		func(v []byte) []byte { return metricReq(lenF(7, lenF(1, lenF(5, lenF(7, attr(v)))))) }},
	{"histogram point", otlpwire.Metrics, "resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0].attributes[0]",
		func(v []byte) []byte { return metricReq(lenF(9, lenF(1, lenF(9, attr(v))))) }},
	{"exponential histogram exemplar", otlpwire.Metrics, "resource_metrics[0].scope_metrics[0].metrics[0].exponential_histogram.data_points[0].exemplars[0].filtered_attributes[0]",
		func(v []byte) []byte { return metricReq(lenF(10, lenF(1, lenF(11, lenF(7, attr(v)))))) }},
	{"summary point", otlpwire.Metrics, "resource_metrics[0].scope_metrics[0].metrics[0].summary.data_points[0].attributes[0]",
		func(v []byte) []byte { return metricReq(lenF(11, lenF(1, lenF(7, attr(v))))) }},
}

var chains = []struct {
	name string
	make func(n int) []byte
}{
	{"array", arrayChain},
	{"kvlist", kvlistChain},
	{"implied value", impliedChain},
}

// TestValueDepthLimit: MaxValueDepth levels pass (and pdata decodes them),
// one more is refused wherever it is, with an error naming the path and
// the limit; the oracle and pdata agree (checkAgainstOracles).
func TestValueDepthLimit(t *testing.T) {
	for _, p := range places {
		for _, c := range chains {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				ok := p.wrap(c.make(otlpwire.MaxValueDepth))
				if _, err := checkAgainstOracles(t, p.kind, ok); err != nil {
					t.Fatalf("%d levels refused: %v", otlpwire.MaxValueDepth, err)
				}
				if _, err := pdataCount(p.kind, ok); err != nil {
					t.Fatalf("pdata refuses the %d-level request: %v", otlpwire.MaxValueDepth, err)
				}
				deep := p.wrap(c.make(otlpwire.MaxValueDepth + 1))
				_, err := checkAgainstOracles(t, p.kind, deep)
				if !errors.Is(err, otlpwire.ErrTooDeep) || !errors.Is(err, otlpwire.ErrMalformed) {
					t.Fatalf("%d levels: %v, want ErrTooDeep and ErrMalformed", otlpwire.MaxValueDepth+1, err)
				}
				want := fmt.Sprintf(": %s: AnyValues nested more than %d levels deep", p.path, otlpwire.MaxValueDepth)
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q\ndoes not name %q", err, want)
				}
				if _, err := otlpwire.AppendEntries(nil, p.kind, deep); !errors.Is(err, otlpwire.ErrTooDeep) {
					t.Fatalf("AppendEntries: %v", err)
				}
				if _, err := otlpwire.Split(p.kind, deep, 1); !errors.Is(err, otlpwire.ErrTooDeep) {
					t.Fatalf("Split: %v", err)
				}
			})
		}
	}
}

// deepBody is a logs request whose one record's body nests levels
// AnyValues through array_value, built outside-in in one pass (wrapping
// level by level would copy the whole tail at every level).
func deepBody(levels int) []byte {
	// sizes[i] is the payload size of the AnyValue at level i+1.
	sizes := make([]int, levels)
	for i := levels - 2; i >= 0; i-- {
		arr := 1 + protowire.SizeVarint(uint64(sizes[i+1])) + sizes[i+1] // ArrayValue{1: AnyValue}
		sizes[i] = 1 + protowire.SizeVarint(uint64(arr)) + arr           // AnyValue{5: ArrayValue}
	}
	body := make([]byte, 0, sizes[0])
	for i := 0; i < levels-1; i++ {
		arr := 1 + protowire.SizeVarint(uint64(sizes[i+1])) + sizes[i+1]
		body = protowire.AppendVarint(append(body, 5<<3|2), uint64(arr))
		body = protowire.AppendVarint(append(body, 1<<3|2), uint64(sizes[i+1]))
	}
	return logsReq(lenF(5, body))
}

// TestScanRefusesMillionsOfLevelsQuickly: the request of the report
// (~2.5 M levels, 25 MB) is refused in about the time it takes to read
// the first 64 levels: Scan neither recurses with the input nor walks it
// all.
func TestScanRefusesMillionsOfLevelsQuickly(t *testing.T) {
	b := deepBody(2_500_000)
	if len(b) < 20<<20 {
		t.Fatalf("request is %d bytes, want the report's ~25 MB", len(b))
	}
	start := time.Now()
	_, err := otlpwire.Scan(otlpwire.Logs, b)
	took := time.Since(start)
	if !errors.Is(err, otlpwire.ErrTooDeep) {
		t.Fatalf("Scan: %v", err)
	}
	t.Logf("refused %d bytes in %s: %v", len(b), took, err)
}

// randChain is an AnyValue payload of random shape whose levels go down to
// depth: arrays and kvlists with a deep first value and shallow siblings,
// some padded with strings, some KeyValues left without a value.
func randChain(r *rand.Rand, depth int) []byte {
	if depth <= 1 {
		if r.IntN(2) == 0 {
			return lenF(1, []byte(strings.Repeat("s", r.IntN(300))))
		}
		return nil
	}
	array := r.IntN(2) == 0
	var parts [][]byte
	for j := range 1 + r.IntN(2) {
		d := depth - 1
		if j > 0 { // siblings stay shallow: the tree grows linearly
			d = r.IntN(4)
		}
		if array {
			parts = append(parts, lenF(1, randChain(r, d)))
			continue
		}
		kv := lenF(1, []byte(strings.Repeat("k", r.IntN(40))))
		if d > 1 || r.IntN(2) == 0 { // a last level may be implied
			kv = cat(kv, lenF(2, randChain(r, d)))
		}
		parts = append(parts, lenF(1, kv))
	}
	if array {
		return lenF(5, parts...)
	}
	return lenF(6, parts...)
}

// TestValueDepthRandom compares Scan with the oracle (which walks every
// value, with no shortcut for short fields) on random trees around the
// limit, in every place.
func TestValueDepthRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 500
	refused := 0
	for i := range n {
		p := places[i%len(places)]
		d := otlpwire.MaxValueDepth - 4 + r.IntN(8)
		if _, err := checkAgainstOracles(t, p.kind, p.wrap(randChain(r, d))); err != nil {
			refused++
		}
	}
	if refused < n/4 || refused > 3*n/4 {
		t.Fatalf("%d of %d refused: the trees do not straddle the limit", refused, n)
	}
}
