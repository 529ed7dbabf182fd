package kafka

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// logsReq builds a logs request: resources[i] scopes of perScope records
// of bodySize bytes, each resource with service.name services[i].
func logsReq(t testing.TB, services []string, scopes, perScope, bodySize int) ([]byte, plog.Logs) {
	t.Helper()
	ld := plog.NewLogs()
	n := 0
	for i, svc := range services {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.SetSchemaUrl("https://schema/r")
		attrs := rl.Resource().Attributes()
		attrs.PutStr("service.name", svc)
		attrs.PutInt("resource.index", int64(i))
		for s := range scopes {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(fmt.Sprintf("scope-%d", s))
			for range perScope {
				lr := sl.LogRecords().AppendEmpty()
				lr.Body().SetStr(fmt.Sprintf("%s-%06d", svc, n) + strings.Repeat(".", bodySize))
				n++
			}
		}
	}
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		t.Fatal(err)
	}
	return b, ld
}

// bodies decodes logs requests and returns their bodies in order, with the
// service.name of each.
func bodies(t testing.TB, reqs ...[]byte) (out, services []string) {
	t.Helper()
	for _, r := range reqs {
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(r)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		for _, rl := range ld.ResourceLogs().All() {
			svc, _ := rl.Resource().Attributes().Get("service.name")
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, lr.Body().Str())
					services = append(services, svc.Str())
				}
			}
		}
	}
	return out, services
}

func values(ps []piece) [][]byte {
	var out [][]byte
	for _, p := range ps {
		out = append(out, p.value)
	}
	return out
}

func logsPlanner(maxMessage int) *planner {
	return &planner{kind: otlpwire.Logs, maxMessage: maxMessage, fixed: 0}
}

func TestPlanWholeFitsAliases(t *testing.T) {
	req, _ := logsReq(t, []string{"a", "b"}, 1, 10, 10)
	ps, split, err := logsPlanner(len(req)).plan([][]byte{req})
	if err != nil || split || len(ps) != 1 {
		t.Fatalf("pieces %d split %t err %v", len(ps), split, err)
	}
	if &ps[0].value[0] != &req[0] || len(ps[0].value) != len(req) || ps[0].key != nil {
		t.Fatal("a request that fits is not sent as it is")
	}
}

func TestPlanJoinsSmallRequests(t *testing.T) {
	a, _ := logsReq(t, []string{"a"}, 1, 3, 10)
	b, _ := logsReq(t, []string{"b"}, 1, 3, 10)
	ps, split, err := logsPlanner(len(a) + len(b)).plan([][]byte{a, b})
	if err != nil || split || len(ps) != 1 {
		t.Fatalf("pieces %d split %t err %v", len(ps), split, err)
	}
	if !bytes.Equal(ps[0].value, append(append([]byte{}, a...), b...)) {
		t.Fatal("two requests are not one record of their concatenation")
	}
}

func TestPlanSplitsAtResources(t *testing.T) {
	services := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	req, _ := logsReq(t, services, 1, 20, 50)
	limit := len(req) / 3
	ps, split, err := logsPlanner(limit).plan([][]byte{req})
	if err != nil || !split {
		t.Fatalf("split %t err %v", split, err)
	}
	if len(ps) < 3 {
		t.Fatalf("%d records for a request three times the limit", len(ps))
	}
	for i, p := range ps {
		if len(p.value) > limit {
			t.Fatalf("record %d is %d bytes, over %d", i, len(p.value), limit)
		}
	}
	if !bytes.Equal(bytes.Join(values(ps), nil), req) {
		t.Fatal("the records do not concatenate back to the request")
	}
}

func TestPlanSplitsAtScopes(t *testing.T) {
	req, _ := logsReq(t, []string{"big"}, 10, 20, 50)
	want, _ := bodies(t, req)
	limit := len(req) / 4
	ps, split, err := logsPlanner(limit).plan([][]byte{req})
	if err != nil || !split {
		t.Fatalf("split %t err %v", split, err)
	}
	if len(ps) < 4 {
		t.Fatalf("%d records", len(ps))
	}
	for i, p := range ps {
		if len(p.value) > limit {
			t.Fatalf("record %d is %d bytes, over %d", i, len(p.value), limit)
		}
		if _, err := otlpwire.Scan(otlpwire.Logs, p.value); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		ld, _ := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(p.value)
		rl := ld.ResourceLogs().At(0)
		if ld.ResourceLogs().Len() != 1 || rl.SchemaUrl() != "https://schema/r" || rl.Resource().Attributes().Len() != 2 {
			t.Fatalf("record %d lost its resource", i)
		}
	}
	got, _ := bodies(t, values(ps)...)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("records hold %d records, want %d, in order", len(got), len(want))
	}
}

func TestPlanScopeTooLarge(t *testing.T) {
	req, _ := logsReq(t, []string{"a"}, 2, 50, 100)
	_, _, err := logsPlanner(len(req) / 3).plan([][]byte{req})
	var tl *tooLargeError
	if !errors.As(err, &tl) || tl.what != "scope" || tl.need <= tl.limit {
		t.Fatalf("err %v, want a scope too large", err)
	}
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprint(tl.need)) || !strings.Contains(msg, fmt.Sprint(tl.limit)) {
		t.Fatalf("error %q does not name the sizes", msg)
	}
}

func TestPlanByResourceAttributes(t *testing.T) {
	req, _ := logsReq(t, []string{"a", "b", "a", "c", "b", "a"}, 1, 5, 10)
	pl := logsPlanner(len(req))
	pl.mode, pl.attrs = keyResource, []string{"service.name"}
	ps, split, err := pl.plan([][]byte{req})
	if err != nil || split {
		t.Fatalf("split %t err %v", split, err)
	}
	if len(ps) != 3 {
		t.Fatalf("%d records, want one per service", len(ps))
	}
	total := 0
	for i, key := range []string{"a", "b", "c"} {
		if string(ps[i].key) != key {
			t.Fatalf("record %d key %q, want %q", i, ps[i].key, key)
		}
		got, svcs := bodies(t, ps[i].value)
		for j, s := range svcs {
			if s != key {
				t.Fatalf("record keyed %q holds %q of %q", key, got[j], s)
			}
		}
		total += len(got)
	}
	if total != 30 {
		t.Fatalf("%d records in all, want 30", total)
	}

	// Two attributes, one missing on some resources; none at all: no key.
	pl.attrs = []string{"service.name", "resource.index"}
	ps, _, err = pl.plan([][]byte{req})
	if err != nil || len(ps) != 6 || string(ps[3].key) != "c,3" {
		t.Fatalf("%d records, key[3] %q, err %v", len(ps), ps[3].key, err)
	}
	pl.attrs = []string{"host.name"}
	ps, _, err = pl.plan([][]byte{req})
	if err != nil || len(ps) != 1 || ps[0].key != nil {
		t.Fatalf("without the attribute: %d records, key %q, err %v", len(ps), ps[0].key, err)
	}
}

func TestAttrValueTypes(t *testing.T) {
	res := pcommon.NewResource()
	a := res.Attributes()
	a.PutStr("s", "text")
	a.PutInt("i", -42)
	a.PutBool("b", true)
	a.PutDouble("d", 1.5)
	a.PutEmptyBytes("y").FromRaw([]byte{1, 2})
	a.PutEmptySlice("l").AppendEmpty().SetStr("x")
	ld := plog.NewLogs()
	res.CopyTo(ld.ResourceLogs().AppendEmpty().Resource())
	req, _ := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	f, _, _ := nextField(req)
	rs, err := resourceMessages(f.val)
	if err != nil || len(rs) != 1 {
		t.Fatal(len(rs), err)
	}
	res0 := rs[0]
	for key, want := range map[string]string{"s": "text", "i": "-42", "b": "true", "d": "1.5", "y": "\x01\x02"} {
		v, ok, err := attrValue(res0, key)
		if err != nil || !ok || string(v) != want {
			t.Errorf("%s: %q %t %v, want %q", key, v, ok, err, want)
		}
	}
	if v, ok, _ := attrValue(res0, "l"); !ok || len(v) == 0 {
		t.Error("array attribute has no key text")
	}
	if _, ok, _ := attrValue(res0, "missing"); ok {
		t.Error("missing attribute found")
	}
}

// tracesReq builds traces over two resources of two scopes each, span i
// in trace i%traces; trace ids are 1..traces; span 0 has no trace id.
func tracesReq(t testing.TB, spans, traces int) []byte {
	t.Helper()
	td := ptrace.NewTraces()
	i := 0
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		for s := range 2 {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(fmt.Sprintf("scope-%d-%d", r, s))
			for range spans / 4 {
				sp := ss.Spans().AppendEmpty()
				sp.SetName(fmt.Sprintf("span-%d", i))
				if i > 0 {
					sp.SetTraceID(pcommon.TraceID{15: byte(1 + i%traces)})
				}
				i++
			}
		}
	}
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlanByTraceID(t *testing.T) {
	req := tracesReq(t, 40, 3)
	pl := &planner{kind: otlpwire.Traces, mode: keyTraceID, traceField: fieldSpanTraceID, maxMessage: 1 << 20}
	ps, _, err := pl.plan([][]byte{req})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 4 || ps[0].key != nil {
		t.Fatalf("%d records (want 3 traces and the span without one), first key %q", len(ps), ps[0].key)
	}
	names := map[string]bool{}
	for _, p := range ps {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(p.value)
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range td.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					if want := ""; p.key != nil {
						want = sp.TraceID().String()
						if string(p.key) != want {
							t.Fatalf("span %s of trace %s in record keyed %q", sp.Name(), want, p.key)
						}
					}
					// The span keeps its resource and scope.
					var i, r, s int
					fmt.Sscanf(sp.Name(), "span-%d", &i)
					r, s = i/20, i/10%2
					if svc.Str() != fmt.Sprintf("svc-%d", r) || ss.Scope().Name() != fmt.Sprintf("scope-%d-%d", r, s) {
						t.Fatalf("span %d under %s/%s", i, svc.Str(), ss.Scope().Name())
					}
					names[sp.Name()] = true
				}
			}
		}
	}
	if len(names) != 40 {
		t.Fatalf("%d distinct spans in the records, want 40", len(names))
	}
}

func TestPlanJSON(t *testing.T) {
	req, ld := logsReq(t, []string{"a", "b", "c", "d"}, 2, 20, 30)
	pl := logsPlanner(1 << 20)
	pl.json = true
	ps, split, err := pl.plan([][]byte{req})
	if err != nil || split || len(ps) != 1 {
		t.Fatalf("%d records split %t err %v", len(ps), split, err)
	}
	got, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(ps[0].value)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	gotJSON, _ := (&plog.JSONMarshaler{}).MarshalLogs(got)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Fatal("JSON record does not decode to the request")
	}
	// JSON is larger than protobuf: a request that fits as protobuf is cut
	// again so that its JSON does.
	pl.maxMessage = len(req) + 10
	ps, split, err = pl.plan([][]byte{req})
	if err != nil || !split || len(ps) < 2 {
		t.Fatalf("%d records split %t err %v", len(ps), split, err)
	}
	var all []string
	for _, p := range ps {
		if len(p.value) > pl.maxMessage {
			t.Fatalf("JSON record of %d bytes over %d", len(p.value), pl.maxMessage)
		}
		part, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(p.value)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := (&plog.ProtoMarshaler{}).MarshalLogs(part)
		got, _ := bodies(t, b)
		all = append(all, got...)
	}
	want, _ := bodies(t, req)
	if strings.Join(all, "|") != strings.Join(want, "|") {
		t.Fatalf("JSON records hold %d records, want %d", len(all), len(want))
	}
}

func TestMurmur2MatchesFranzGo(t *testing.T) {
	ours := hashAll(kgo.KafkaHasher(murmur2)).ForTopic("t")
	theirs := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := range 500 {
		key := []byte(strings.Repeat("k", i%7) + fmt.Sprint(i))
		r := &kgo.Record{Key: key}
		if a, b := ours.Partition(r, 13), theirs.Partition(r, 13); a != b {
			t.Fatalf("key %q: partition %d, franz-go %d", key, a, b)
		}
	}
	// Without the *_random suffix an unkeyed record always goes to one
	// partition.
	first := ours.Partition(&kgo.Record{}, 13)
	for range 10 {
		if ours.Partition(&kgo.Record{}, 13) != first {
			t.Fatal("unkeyed records move between partitions")
		}
	}
}

func TestPlanLogsByTraceID(t *testing.T) {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i := range 9 {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr(fmt.Sprint(i))
		if i%3 != 0 {
			lr.SetTraceID(pcommon.TraceID{0: byte(i % 3)})
		}
	}
	req, _ := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	pl := logsPlanner(1 << 20)
	pl.mode, pl.traceField = keyTraceID, fieldLogTraceID
	ps, _, err := pl.plan([][]byte{req})
	if err != nil || len(ps) != 3 {
		t.Fatalf("%d records, err %v", len(ps), err)
	}
	for i, want := range []string{"", "01000000000000000000000000000000", "02000000000000000000000000000000"} {
		got, _ := bodies(t, ps[i].value)
		if string(ps[i].key) != want || len(got) != 3 {
			t.Fatalf("record %d: key %q, %d logs", i, ps[i].key, len(got))
		}
	}
}

// Every cut keeps every record, in order, in values under the limit, or
// refuses with a scope too large; for every signal's layout the resource
// and scope levels are the same.
func TestPlanCutsKeepEveryRecord(t *testing.T) {
	for _, services := range [][]string{{"a"}, {"a", "b", "c"}, {"a", "b", "a", "b", "c", "d", "e"}} {
		for _, scopes := range []int{1, 3, 8} {
			req, _ := logsReq(t, services, scopes, 7, 40)
			want, _ := bodies(t, req)
			for _, div := range []int{1, 2, 3, 5, 9, 17, 40} {
				limit := len(req) / div
				for _, mode := range []keyMode{keyNone, keyResource} {
					pl := logsPlanner(limit)
					pl.mode, pl.attrs = mode, []string{"service.name"}
					ps, _, err := pl.plan([][]byte{req, req[:0]})
					var tl *tooLargeError
					if errors.As(err, &tl) {
						if tl.need <= tl.limit || tl.limit > limit {
							t.Fatalf("refused a part of %d bytes under the limit %d (max %d)", tl.need, tl.limit, limit)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range ps {
						if len(p.value) > limit-len(p.key) || len(p.value) == 0 {
							t.Fatalf("value of %d bytes, limit %d", len(p.value), limit)
						}
					}
					got, _ := bodies(t, values(ps)...)
					if mode == keyNone && strings.Join(got, "|") != strings.Join(want, "|") {
						t.Fatalf("%d resources, %d scopes, limit %d: records changed", len(services), scopes, limit)
					}
					if len(got) != len(want) {
						t.Fatalf("%d records, want %d", len(got), len(want))
					}
				}
			}
		}
	}
}
