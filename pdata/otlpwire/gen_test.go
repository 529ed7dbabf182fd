package otlpwire_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// Random requests built with pdata and marshalled by pdata's own
// ProtoMarshaler, so the tests check Scan against the encoder the rest of
// the ecosystem uses. Sizes include zero at every level so that empty
// resources, scopes and metrics are exercised.

// shape bounds the random tree: at most this many children per level.
type shape struct{ resources, scopes, items int }

func randID(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randString(r *rand.Rand, max int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz_.-ABCDEFGHIJ0123456789 é✓"
	rs := []rune(alphabet)
	var sb strings.Builder
	for range r.IntN(max + 1) {
		sb.WriteRune(rs[r.IntN(len(rs))])
	}
	return sb.String()
}

// fillValue gives v a random type, nesting maps and slices up to depth.
func fillValue(r *rand.Rand, v pcommon.Value, depth int) {
	n := 6
	if depth > 0 {
		n = 8
	}
	switch r.IntN(n) {
	case 0:
		v.SetStr(randString(r, 24))
	case 1:
		v.SetInt(r.Int64() - r.Int64())
	case 2:
		v.SetDouble(r.NormFloat64())
	case 3:
		v.SetBool(r.IntN(2) == 0)
	case 4:
		v.SetEmptyBytes().FromRaw(randID(r, r.IntN(12)))
	case 5:
		// leave empty
	case 6:
		fillMap(r, v.SetEmptyMap(), depth-1)
	case 7:
		s := v.SetEmptySlice()
		for range r.IntN(3) {
			fillValue(r, s.AppendEmpty(), depth-1)
		}
	}
}

func fillMap(r *rand.Rand, m pcommon.Map, depth int) {
	for i := range r.IntN(4) {
		fillValue(r, m.PutEmpty(fmt.Sprintf("k%d.%s", i, randString(r, 6))), depth)
	}
}

func fillResource(r *rand.Rand, res pcommon.Resource) {
	fillMap(r, res.Attributes(), 1)
	res.SetDroppedAttributesCount(uint32(r.IntN(3)))
}

func fillScope(r *rand.Rand, s pcommon.InstrumentationScope) {
	s.SetName(randString(r, 12))
	s.SetVersion(randString(r, 5))
	fillMap(r, s.Attributes(), 0)
}

func genLogs(r *rand.Rand, sh shape) plog.Logs {
	ld := plog.NewLogs()
	for range r.IntN(sh.resources + 1) {
		rl := ld.ResourceLogs().AppendEmpty()
		fillResource(r, rl.Resource())
		rl.SetSchemaUrl(randString(r, 8))
		for range r.IntN(sh.scopes + 1) {
			sl := rl.ScopeLogs().AppendEmpty()
			fillScope(r, sl.Scope())
			sl.SetSchemaUrl(randString(r, 8))
			for range r.IntN(sh.items + 1) {
				fillLogRecord(r, sl.LogRecords().AppendEmpty())
			}
		}
	}
	return ld
}

func fillLogRecord(r *rand.Rand, lr plog.LogRecord) {
	lr.SetTimestamp(pcommon.Timestamp(r.Uint64()))
	lr.SetObservedTimestamp(pcommon.Timestamp(r.Uint64()))
	lr.SetSeverityNumber(plog.SeverityNumber(r.IntN(25)))
	lr.SetSeverityText(randString(r, 5))
	fillValue(r, lr.Body(), 2)
	fillMap(r, lr.Attributes(), 1)
	lr.SetDroppedAttributesCount(uint32(r.IntN(2)))
	lr.SetFlags(plog.LogRecordFlags(r.IntN(2)))
	if r.IntN(2) == 0 {
		lr.SetTraceID(pcommon.TraceID(randID(r, 16)))
		lr.SetSpanID(pcommon.SpanID(randID(r, 8)))
	}
	lr.SetEventName(randString(r, 6))
}

func genMetrics(r *rand.Rand, sh shape) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for range r.IntN(sh.resources + 1) {
		rm := md.ResourceMetrics().AppendEmpty()
		fillResource(r, rm.Resource())
		rm.SetSchemaUrl(randString(r, 8))
		for range r.IntN(sh.scopes + 1) {
			sm := rm.ScopeMetrics().AppendEmpty()
			fillScope(r, sm.Scope())
			for range r.IntN(sh.items + 1) {
				fillMetric(r, sm.Metrics().AppendEmpty(), r.IntN(6), r.IntN(sh.items+1))
			}
		}
	}
	return md
}

// allMetricTypes is how many values fillMetric's typ takes: 0 leaves the
// metric without data, 1-5 are gauge, sum, histogram, exponential histogram
// and summary.
const allMetricTypes = 6

func fillMetric(r *rand.Rand, m pmetric.Metric, typ, points int) {
	m.SetName(randString(r, 10))
	m.SetDescription(randString(r, 10))
	m.SetUnit(randString(r, 3))
	fillMap(r, m.Metadata(), 0)
	switch typ {
	case 0: // no data: counts 0, like pdata's DataPointCount
	case 1:
		g := m.SetEmptyGauge()
		for range points {
			fillNumberPoint(r, g.DataPoints().AppendEmpty())
		}
	case 2:
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporality(r.IntN(3)))
		s.SetIsMonotonic(r.IntN(2) == 0)
		for range points {
			fillNumberPoint(r, s.DataPoints().AppendEmpty())
		}
	case 3:
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for range points {
			p := h.DataPoints().AppendEmpty()
			fillMap(r, p.Attributes(), 0)
			p.SetTimestamp(pcommon.Timestamp(r.Uint64()))
			p.SetCount(r.Uint64N(1000))
			p.SetSum(r.Float64())
			p.SetMin(r.Float64())
			p.BucketCounts().FromRaw([]uint64{1, 2, r.Uint64N(9)})
			p.ExplicitBounds().FromRaw([]float64{0.5, 1})
			fillExemplars(r, p.Exemplars())
		}
	case 4:
		h := m.SetEmptyExponentialHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		for range points {
			p := h.DataPoints().AppendEmpty()
			fillMap(r, p.Attributes(), 0)
			p.SetScale(int32(r.IntN(20)) - 10)
			p.SetZeroCount(r.Uint64N(5))
			p.Positive().SetOffset(int32(r.IntN(5)))
			p.Positive().BucketCounts().FromRaw([]uint64{r.Uint64N(7), 3})
			p.Negative().BucketCounts().FromRaw([]uint64{1})
			p.SetMax(r.Float64())
			fillExemplars(r, p.Exemplars())
		}
	case 5:
		s := m.SetEmptySummary()
		for range points {
			p := s.DataPoints().AppendEmpty()
			fillMap(r, p.Attributes(), 0)
			p.SetCount(r.Uint64N(100))
			p.SetSum(r.Float64())
			for range r.IntN(3) {
				q := p.QuantileValues().AppendEmpty()
				q.SetQuantile(r.Float64())
				q.SetValue(r.NormFloat64())
			}
		}
	}
}

func fillNumberPoint(r *rand.Rand, p pmetric.NumberDataPoint) {
	fillMap(r, p.Attributes(), 1)
	p.SetStartTimestamp(pcommon.Timestamp(r.Uint64()))
	p.SetTimestamp(pcommon.Timestamp(r.Uint64()))
	if r.IntN(2) == 0 {
		p.SetIntValue(r.Int64())
	} else {
		p.SetDoubleValue(r.NormFloat64())
	}
	fillExemplars(r, p.Exemplars())
}

func fillExemplars(r *rand.Rand, es pmetric.ExemplarSlice) {
	for range r.IntN(2) {
		e := es.AppendEmpty()
		e.SetTimestamp(pcommon.Timestamp(r.Uint64()))
		e.SetDoubleValue(r.Float64())
		e.SetTraceID(pcommon.TraceID(randID(r, 16)))
		fillMap(r, e.FilteredAttributes(), 0)
	}
}

func genTraces(r *rand.Rand, sh shape) ptrace.Traces {
	td := ptrace.NewTraces()
	for range r.IntN(sh.resources + 1) {
		rs := td.ResourceSpans().AppendEmpty()
		fillResource(r, rs.Resource())
		for range r.IntN(sh.scopes + 1) {
			ss := rs.ScopeSpans().AppendEmpty()
			fillScope(r, ss.Scope())
			ss.SetSchemaUrl(randString(r, 8))
			for range r.IntN(sh.items + 1) {
				fillSpan(r, ss.Spans().AppendEmpty())
			}
		}
	}
	return td
}

func fillSpan(r *rand.Rand, s ptrace.Span) {
	s.SetTraceID(pcommon.TraceID(randID(r, 16)))
	s.SetSpanID(pcommon.SpanID(randID(r, 8)))
	s.SetParentSpanID(pcommon.SpanID(randID(r, 8)))
	s.TraceState().FromRaw(randString(r, 8))
	s.SetName(randString(r, 16))
	s.SetKind(ptrace.SpanKind(r.IntN(6)))
	s.SetStartTimestamp(pcommon.Timestamp(r.Uint64()))
	s.SetEndTimestamp(pcommon.Timestamp(r.Uint64()))
	s.SetFlags(r.Uint32())
	fillMap(r, s.Attributes(), 1)
	for range r.IntN(3) {
		e := s.Events().AppendEmpty()
		e.SetName(randString(r, 8))
		e.SetTimestamp(pcommon.Timestamp(r.Uint64()))
		fillMap(r, e.Attributes(), 0)
	}
	for range r.IntN(2) {
		l := s.Links().AppendEmpty()
		l.SetTraceID(pcommon.TraceID(randID(r, 16)))
		l.SetSpanID(pcommon.SpanID(randID(r, 8)))
		fillMap(r, l.Attributes(), 0)
	}
	s.Status().SetCode(ptrace.StatusCode(r.IntN(3)))
	s.Status().SetMessage(randString(r, 10))
}

// request is a marshalled random request with pdata's view of it.
type request struct {
	kind      otlpwire.Kind
	b         []byte
	items     int
	resources int
}

// genRequest builds one random request of kind k.
func genRequest(tb testing.TB, r *rand.Rand, k otlpwire.Kind, sh shape) request {
	tb.Helper()
	var (
		b              []byte
		items, entries int
		err            error
	)
	switch k {
	case otlpwire.Logs:
		ld := genLogs(r, sh)
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(ld)
		items, entries = ld.LogRecordCount(), ld.ResourceLogs().Len()
	case otlpwire.Metrics:
		md := genMetrics(r, sh)
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		items, entries = md.DataPointCount(), md.ResourceMetrics().Len()
	case otlpwire.Traces:
		td := genTraces(r, sh)
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		items, entries = td.SpanCount(), td.ResourceSpans().Len()
	}
	if err != nil {
		tb.Fatalf("marshal %v: %v", k, err)
	}
	return request{kind: k, b: b, items: items, resources: entries}
}
