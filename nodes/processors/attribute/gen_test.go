package attribute

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// Random requests for the differential tests, built with pdata and
// marshalled by its ProtoMarshaler. Keys come from a small set so that
// actions find them; every level may be empty.

var genKeys = []string{"a", "b", "c", "d", "user.email", "service.name"}

func genValue(r *rand.Rand, v pcommon.Value, depth int) {
	n := 6
	if depth > 0 {
		n = 8
	}
	switch r.IntN(n) {
	case 0:
		v.SetStr(fmt.Sprintf("s%d", r.IntN(100)))
	case 1:
		v.SetInt(r.Int64() - r.Int64())
	case 2:
		if r.IntN(8) == 0 {
			v.SetDouble(math.NaN())
		} else {
			v.SetDouble(r.NormFloat64())
		}
	case 3:
		v.SetBool(r.IntN(2) == 0)
	case 4:
		b := make([]byte, r.IntN(6))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		v.SetEmptyBytes().FromRaw(b)
	case 5:
		// empty
	case 6:
		genMap(r, v.SetEmptyMap(), depth-1)
	case 7:
		s := v.SetEmptySlice()
		for range r.IntN(3) {
			genValue(r, s.AppendEmpty(), depth-1)
		}
	}
}

// genMap fills m with up to 4 entries of distinct keys.
func genMap(r *rand.Rand, m pcommon.Map, depth int) {
	for range r.IntN(5) {
		genValue(r, m.PutEmpty(genKeys[r.IntN(len(genKeys))]), depth)
	}
}

func genLogs(r *rand.Rand) plog.Logs {
	ld := plog.NewLogs()
	for range r.IntN(3) {
		rl := ld.ResourceLogs().AppendEmpty()
		genMap(r, rl.Resource().Attributes(), 1)
		for range r.IntN(3) {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("scope")
			genMap(r, sl.Scope().Attributes(), 1)
			for range r.IntN(4) {
				lr := sl.LogRecords().AppendEmpty()
				lr.Body().SetStr("body")
				lr.SetTimestamp(pcommon.Timestamp(r.Uint64()))
				genMap(r, lr.Attributes(), 2)
			}
		}
	}
	return ld
}

func genTraces(r *rand.Rand) ptrace.Traces {
	td := ptrace.NewTraces()
	for range r.IntN(3) {
		rs := td.ResourceSpans().AppendEmpty()
		genMap(r, rs.Resource().Attributes(), 1)
		for range r.IntN(3) {
			ss := rs.ScopeSpans().AppendEmpty()
			genMap(r, ss.Scope().Attributes(), 1)
			for range r.IntN(4) {
				sp := ss.Spans().AppendEmpty()
				sp.SetName("span")
				sp.SetTraceID(pcommon.TraceID{1, byte(r.Uint32())})
				genMap(r, sp.Attributes(), 2)
				for range r.IntN(3) {
					ev := sp.Events().AppendEmpty()
					ev.SetName("event")
					genMap(r, ev.Attributes(), 1)
				}
				for range r.IntN(3) {
					l := sp.Links().AppendEmpty()
					l.SetSpanID(pcommon.SpanID{2, byte(r.Uint32())})
					genMap(r, l.Attributes(), 1)
				}
				sp.Status().SetMessage("ok")
			}
		}
	}
	return td
}

func genMetrics(r *rand.Rand) pmetric.Metrics {
	md := pmetric.NewMetrics()
	exemplars := func(xs pmetric.ExemplarSlice) {
		for range r.IntN(3) {
			x := xs.AppendEmpty()
			x.SetDoubleValue(1.5)
			genMap(r, x.FilteredAttributes(), 1)
		}
	}
	for range r.IntN(3) {
		rm := md.ResourceMetrics().AppendEmpty()
		genMap(r, rm.Resource().Attributes(), 1)
		for range r.IntN(3) {
			sm := rm.ScopeMetrics().AppendEmpty()
			genMap(r, sm.Scope().Attributes(), 1)
			for range r.IntN(4) {
				m := sm.Metrics().AppendEmpty()
				m.SetName("metric")
				genMap(r, m.Metadata(), 1)
				points := r.IntN(4)
				switch r.IntN(5) {
				case 0:
					for range points {
						p := m.SetEmptyGauge().DataPoints().AppendEmpty()
						p.SetIntValue(7)
						genMap(r, p.Attributes(), 1)
						exemplars(p.Exemplars())
					}
				case 1:
					s := m.SetEmptySum()
					s.SetIsMonotonic(true)
					for range points {
						p := s.DataPoints().AppendEmpty()
						p.SetDoubleValue(2.5)
						genMap(r, p.Attributes(), 1)
						exemplars(p.Exemplars())
					}
				case 2:
					h := m.SetEmptyHistogram()
					for range points {
						p := h.DataPoints().AppendEmpty()
						p.SetCount(3)
						genMap(r, p.Attributes(), 1)
						exemplars(p.Exemplars())
					}
				case 3:
					h := m.SetEmptyExponentialHistogram()
					for range points {
						p := h.DataPoints().AppendEmpty()
						p.SetScale(2)
						genMap(r, p.Attributes(), 1)
						exemplars(p.Exemplars())
					}
				case 4:
					s := m.SetEmptySummary()
					for range points {
						p := s.DataPoints().AppendEmpty()
						p.SetSum(4)
						genMap(r, p.Attributes(), 1)
					}
				}
			}
		}
	}
	return md
}

// genRequest returns a random request of signal s.
func genRequest(t testing.TB, r *rand.Rand, s pdata.Signal) []byte {
	t.Helper()
	var b []byte
	var err error
	switch s {
	case pdata.Logs:
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(genLogs(r))
	case pdata.Metrics:
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(genMetrics(r))
	default:
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(genTraces(r))
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// genLiteral returns a random literal value.
func genLiteral(r *rand.Rand) otlpwire.Value {
	switch r.IntN(4) {
	case 0:
		return otlpwire.Value{Type: otlpwire.ValueStr, Bytes: fmt.Appendf(nil, "lit%d", r.IntN(10))}
	case 1:
		return otlpwire.Value{Type: otlpwire.ValueInt, Num: uint64(r.Int64() - r.Int64())}
	case 2:
		return otlpwire.Value{Type: otlpwire.ValueDouble, Num: math.Float64bits(r.NormFloat64())}
	}
	return otlpwire.Value{Type: otlpwire.ValueBool, Num: uint64(r.IntN(2))}
}

// genSettings returns a random non-empty action list over random domains.
func genSettings(r *rand.Rand) settings {
	var s settings
	for s.domains == 0 {
		s.domains = otlpwire.Domains(r.IntN(8))
	}
	key := func() string { return genKeys[r.IntN(len(genKeys))] }
	for range 1 + r.IntN(5) {
		a := action{kind: actionKind(r.IntN(int(numActions))), key: key()}
		switch a.kind {
		case actRename:
			for a.newKey = key(); a.newKey == a.key; a.newKey = key() {
			}
		case actInsert, actUpsert, actUpdate:
			if r.IntN(3) == 0 {
				a.from = key()
			} else {
				a.value = genLiteral(r)
				a.pvalue = pdataValue(a.value)
			}
		case actHash:
			a.salt = fmt.Appendf(nil, "salt%d", r.IntN(3))
		}
		s.actions = append(s.actions, a)
	}
	return s
}

// decode decodes the request b of signal s as an OTLP receiver built on
// pdata does (plogotlp...), which migrates the pre-1.0 scope entries
// (field 1000) of a resource that has no scope entries.
func decode(s pdata.Signal, b []byte) (any, error) {
	switch s {
	case pdata.Logs:
		req := plogotlp.NewExportRequest()
		err := req.UnmarshalProto(b)
		return req.Logs(), err
	case pdata.Metrics:
		req := pmetricotlp.NewExportRequest()
		err := req.UnmarshalProto(b)
		return req.Metrics(), err
	}
	req := ptraceotlp.NewExportRequest()
	err := req.UnmarshalProto(b)
	return req.Traces(), err
}

// decodedPayload wraps the model of a request pdata decodes.
func decodedPayload(v any) *pdata.Payload {
	switch v := v.(type) {
	case plog.Logs:
		return pdata.FromLogs(v)
	case pmetric.Metrics:
		return pdata.FromMetrics(v)
	}
	return pdata.FromTraces(v.(ptrace.Traces))
}

// payloadData returns the pdata model of p (logs, metrics or traces).
func payloadData(t testing.TB, p *pdata.Payload) any {
	t.Helper()
	var v any
	var err error
	switch p.Signal() {
	case pdata.Logs:
		v, err = p.Logs()
	case pdata.Metrics:
		v, err = p.Metrics()
	default:
		v, err = p.Traces()
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// canonical returns the encoding of a copy of v (plog.Logs, pmetric.Metrics
// or ptrace.Traces) with every attribute list the processor may visit
// sorted by key, so that two models equal up to the order of their
// attribute lists have equal encodings.
func canonical(t testing.TB, v any) []byte {
	t.Helper()
	var b []byte
	var err error
	switch v := v.(type) {
	case plog.Logs:
		c := plog.NewLogs()
		v.CopyTo(c)
		eachMap(c, sortMap)
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(c)
	case pmetric.Metrics:
		c := pmetric.NewMetrics()
		v.CopyTo(c)
		eachMap(c, sortMap)
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(c)
	case ptrace.Traces:
		c := ptrace.NewTraces()
		v.CopyTo(c)
		eachMap(c, sortMap)
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(c)
	default:
		t.Fatalf("canonical: %T", v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eachMap calls f on every attribute list of v that the processor visits,
// with its domain.
func eachMap(v any, f func(pcommon.Map, int)) {
	w := &mapWalker{f: f}
	switch v := v.(type) {
	case plog.Logs:
		w.logs(v)
	case pmetric.Metrics:
		w.metrics(v)
	case ptrace.Traces:
		w.traces(v)
	}
}

// mapWalker calls f on the attribute lists the pdata path edits, written
// again so that the tests do not trust the walk they check.
type mapWalker struct{ f func(pcommon.Map, int) }

func (w *mapWalker) logs(ld plog.Logs) {
	for _, rl := range ld.ResourceLogs().All() {
		w.f(rl.Resource().Attributes(), domResource)
		for _, sl := range rl.ScopeLogs().All() {
			w.f(sl.Scope().Attributes(), domScope)
			for _, lr := range sl.LogRecords().All() {
				w.f(lr.Attributes(), domSignal)
			}
		}
	}
}

func (w *mapWalker) traces(td ptrace.Traces) {
	for _, rs := range td.ResourceSpans().All() {
		w.f(rs.Resource().Attributes(), domResource)
		for _, ss := range rs.ScopeSpans().All() {
			w.f(ss.Scope().Attributes(), domScope)
			for _, sp := range ss.Spans().All() {
				w.f(sp.Attributes(), domSignal)
				for _, ev := range sp.Events().All() {
					w.f(ev.Attributes(), domSignal)
				}
				for _, l := range sp.Links().All() {
					w.f(l.Attributes(), domSignal)
				}
			}
		}
	}
}

func (w *mapWalker) metrics(md pmetric.Metrics) {
	for _, rm := range md.ResourceMetrics().All() {
		w.f(rm.Resource().Attributes(), domResource)
		for _, sm := range rm.ScopeMetrics().All() {
			w.f(sm.Scope().Attributes(), domScope)
			for _, m := range sm.Metrics().All() {
				w.f(m.Metadata(), domSignal)
				number := func(ps pmetric.NumberDataPointSlice) {
					for _, p := range ps.All() {
						w.f(p.Attributes(), domSignal)
						for _, x := range p.Exemplars().All() {
							w.f(x.FilteredAttributes(), domSignal)
						}
					}
				}
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					number(m.Gauge().DataPoints())
				case pmetric.MetricTypeSum:
					number(m.Sum().DataPoints())
				case pmetric.MetricTypeHistogram:
					for _, p := range m.Histogram().DataPoints().All() {
						w.f(p.Attributes(), domSignal)
						for _, x := range p.Exemplars().All() {
							w.f(x.FilteredAttributes(), domSignal)
						}
					}
				case pmetric.MetricTypeExponentialHistogram:
					for _, p := range m.ExponentialHistogram().DataPoints().All() {
						w.f(p.Attributes(), domSignal)
						for _, x := range p.Exemplars().All() {
							w.f(x.FilteredAttributes(), domSignal)
						}
					}
				case pmetric.MetricTypeSummary:
					for _, p := range m.Summary().DataPoints().All() {
						w.f(p.Attributes(), domSignal)
					}
				}
			}
		}
	}
}

// sortMap reorders m by key.
func sortMap(m pcommon.Map, _ int) {
	var keys []string
	for k := range m.All() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sorted := pcommon.NewMap()
	for _, k := range keys {
		v, _ := m.Get(k)
		v.CopyTo(sorted.PutEmpty(k))
	}
	sorted.MoveTo(m)
}

// uniqueKeys reports whether every attribute list of v has distinct keys.
func uniqueKeys(v any) bool {
	ok := true
	eachMap(v, func(m pcommon.Map, _ int) {
		seen := map[string]bool{}
		for k := range m.All() {
			if seen[k] {
				ok = false
			}
			seen[k] = true
		}
	})
	return ok
}

// differential runs settings s on the request b of signal s by both paths
// and fails unless they agree: the byte path's result passes Scan with the
// same items, decodes to the pdata path's result up to the order of
// attribute lists, and both count the same changes; and, if minimal (its
// length prefixes are), it is b itself when nothing changed. b must
// decode, with distinct keys in every list.
func differential(t testing.TB, sig pdata.Signal, b []byte, s settings, minimal bool) {
	t.Helper()
	c := newCore("t", s, newMetrics(nil, nil))
	out, changed, err := c.rewrite(nil, sig, [][]byte{b})
	if err != nil {
		t.Fatalf("byte path: %v", err)
	}
	byteCounts := c.ed.take()
	in, err := otlpwire.Scan(wireKinds[sig], b)
	if err != nil {
		t.Fatalf("input: %v", err)
	}
	st, err := otlpwire.Scan(wireKinds[sig], out)
	if err != nil || st.Items != in.Items {
		t.Fatalf("byte path output: Scan %+v, %v; input has %d items", st, err, in.Items)
	}
	if minimal && !changed && !bytes.Equal(out, b) {
		t.Fatalf("unchanged, but the output differs from the input")
	}
	decoded, err := decode(sig, b)
	if err != nil {
		t.Fatalf("decode input: %v", err)
	}
	pp, err := c.applyPdata(decodedPayload(decoded))
	if err != nil {
		t.Fatalf("pdata path: %v", err)
	}
	pdataCounts := c.ed.take()
	got, err := decode(sig, out)
	if err != nil {
		t.Fatalf("decode byte path output: %v", err)
	}
	if g, w := canonical(t, got), canonical(t, payloadData(t, pp)); !bytes.Equal(g, w) {
		t.Fatalf("byte path and pdata path differ\nactions %+v over %v\nbyte:  %s\npdata: %s",
			s.actions, s.domains, dump(got), dump(payloadData(t, pp)))
	}
	if byteCounts != pdataCounts {
		t.Fatalf("counts differ: byte path %v, pdata path %v", byteCounts, pdataCounts)
	}
}

// dump renders the attribute lists of v for failure messages.
func dump(v any) string {
	var b bytes.Buffer
	eachMap(v, func(m pcommon.Map, d int) {
		fmt.Fprintf(&b, "%s%v ", domainNames[d], m.AsRaw())
	})
	return b.String()
}
