package otap_test

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata"
)

const t0 = 1_700_000_000_000_000_000

// logsData returns n log records of about 185 bytes of OTLP each, with 4
// string attributes whose values come from a vocabulary that grows with
// seq: batches built with increasing seq make the stream send dictionary
// deltas.
func logsData(seq, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutInt("service.instance", int64(seq%3))
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("ackflow.test")
	sl.Scope().SetVersion("1.0.0")
	for i := range n {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(t0 + int64(seq*n+i)))
		lr.SetObservedTimestamp(pcommon.Timestamp(t0 + int64(seq*n+i) + 7))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, byte(i >> 8), byte(i)})
		lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, byte(i >> 8), byte(i)})
		lr.Body().SetStr(fmt.Sprintf("GET req %d batch %d %dms", i, seq, i%97))
		a := lr.Attributes()
		a.PutStr("http.method", []string{"GET", "POST", "PUT"}[i%3])
		a.PutStr("http.route", fmt.Sprintf("/api/v1/items/%d", (seq*7+i)%(10+seq*5)))
		a.PutStr("user.id", fmt.Sprintf("user-%d", (seq*13+i)%(20+seq*11)))
		a.PutStr("region", []string{"eu-west-1", "us-east-1"}[i%2])
	}
	return ld
}

// metricsData returns metrics of every point type, with attributes and
// exemplars, n points per metric.
func metricsData(seq, n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("ackflow.test")
	attrs := func(a pcommon.Map, i int) {
		a.PutStr("host", fmt.Sprintf("host-%d", (seq+i)%(3+seq)))
		a.PutInt("core", int64(i%4))
	}
	ts := func(i int) pcommon.Timestamp { return pcommon.Timestamp(t0 + int64(seq*n+i)) }

	g := sm.Metrics().AppendEmpty()
	g.SetName("cpu.temperature")
	g.SetUnit("Cel")
	gauge := g.SetEmptyGauge()
	for i := range n {
		dp := gauge.DataPoints().AppendEmpty()
		dp.SetTimestamp(ts(i))
		dp.SetDoubleValue(40 + float64(i)/8)
		attrs(dp.Attributes(), i)
		if i%3 == 0 {
			ex := dp.Exemplars().AppendEmpty()
			ex.SetTimestamp(ts(i))
			ex.SetDoubleValue(41.5)
			ex.SetTraceID(pcommon.TraceID{9, byte(i)})
			ex.SetSpanID(pcommon.SpanID{8, byte(i)})
			ex.FilteredAttributes().PutStr("filtered", "yes")
		}
	}

	s := sm.Metrics().AppendEmpty()
	s.SetName("http.requests")
	sum := s.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i := range n {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.Timestamp(t0))
		dp.SetTimestamp(ts(i))
		dp.SetIntValue(int64(seq*1000 + i))
		attrs(dp.Attributes(), i)
	}

	h := sm.Metrics().AppendEmpty()
	h.SetName("http.duration")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for i := range n {
		dp := hist.DataPoints().AppendEmpty()
		dp.SetTimestamp(ts(i))
		dp.SetCount(uint64(10 + i))
		dp.SetSum(float64(100 + i))
		dp.SetMin(1)
		dp.SetMax(float64(50 + i))
		dp.ExplicitBounds().FromRaw([]float64{1, 5, 10, 50})
		dp.BucketCounts().FromRaw([]uint64{1, 2, 3, 4, uint64(i)})
		attrs(dp.Attributes(), i)
		if i%4 == 0 {
			ex := dp.Exemplars().AppendEmpty()
			ex.SetIntValue(int64(i))
			ex.SetTimestamp(ts(i))
		}
	}

	e := sm.Metrics().AppendEmpty()
	e.SetName("http.duration.exp")
	eh := e.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for i := range n {
		dp := eh.DataPoints().AppendEmpty()
		dp.SetTimestamp(ts(i))
		dp.SetCount(uint64(6 + i))
		dp.SetSum(float64(12 + i))
		dp.SetScale(2)
		dp.SetZeroCount(1)
		dp.Positive().SetOffset(3)
		dp.Positive().BucketCounts().FromRaw([]uint64{1, 2, uint64(i)})
		dp.Negative().SetOffset(-1)
		dp.Negative().BucketCounts().FromRaw([]uint64{2})
		attrs(dp.Attributes(), i)
	}

	q := sm.Metrics().AppendEmpty()
	q.SetName("gc.pause")
	summary := q.SetEmptySummary()
	for i := range n {
		dp := summary.DataPoints().AppendEmpty()
		dp.SetTimestamp(ts(i))
		dp.SetCount(uint64(3 + i))
		dp.SetSum(float64(9 + i))
		qv := dp.QuantileValues().AppendEmpty()
		qv.SetQuantile(0.5)
		qv.SetValue(float64(i))
		qv = dp.QuantileValues().AppendEmpty()
		qv.SetQuantile(0.99)
		qv.SetValue(float64(2 * i))
		attrs(dp.Attributes(), i)
	}
	return md
}

// tracesData returns n spans with attributes, events and links.
func tracesData(seq, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("ackflow.test")
	for i := range n {
		sp := ss.Spans().AppendEmpty()
		sp.SetName(fmt.Sprintf("GET /items/%d", (seq+i)%(5+seq)))
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetTraceID(pcommon.TraceID{1, byte(seq), byte(i >> 8), byte(i), 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		sp.SetSpanID(pcommon.SpanID{2, byte(seq), byte(i >> 8), byte(i), 5, 6, 7, 8})
		sp.SetStartTimestamp(pcommon.Timestamp(t0 + int64(i)))
		sp.SetEndTimestamp(pcommon.Timestamp(t0 + int64(i) + 1000))
		sp.Status().SetCode(ptrace.StatusCodeOk)
		sp.Attributes().PutStr("http.route", fmt.Sprintf("/items/%d", i%(4+seq)))
		sp.Attributes().PutInt("http.status_code", 200)
		if i%2 == 0 {
			ev := sp.Events().AppendEmpty()
			ev.SetName("cache.miss")
			ev.SetTimestamp(pcommon.Timestamp(t0 + int64(i) + 10))
			ev.Attributes().PutStr("cache", fmt.Sprintf("c%d", seq))
		}
		if i%3 == 0 {
			l := sp.Links().AppendEmpty()
			l.SetTraceID(pcommon.TraceID{3, byte(i)})
			l.SetSpanID(pcommon.SpanID{4, byte(i)})
			l.Attributes().PutBool("sampled", true)
		}
	}
	return td
}

// dataOf returns seq's data of signal s.
func dataOf(s pdata.Signal, seq, n int) any {
	switch s {
	case pdata.Logs:
		return logsData(seq, n)
	case pdata.Metrics:
		return metricsData(seq, n)
	}
	return tracesData(seq, n)
}

// payloadOf wraps data in a decoded payload.
func payloadOf(v any) *pdata.Payload {
	switch v := v.(type) {
	case plog.Logs:
		return pdata.FromLogs(v)
	case pmetric.Metrics:
		return pdata.FromMetrics(v)
	}
	return pdata.FromTraces(v.(ptrace.Traces))
}

// otlpPayloadOf returns data as an OTLP-form payload.
func otlpPayloadOf(t testing.TB, s pdata.Signal, v any) *pdata.Payload {
	t.Helper()
	b := marshal(t, v)
	p, err := pdata.FromOTLP(s, b)
	if err != nil {
		t.Fatalf("FromOTLP: %v", err)
	}
	return p
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	var b []byte
	var err error
	switch v := v.(type) {
	case plog.Logs:
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(v)
	case pmetric.Metrics:
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(v)
	case ptrace.Traces:
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(v)
	default:
		t.Fatalf("marshal %T", v)
	}
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// itemsOf counts the items of decoded data.
func itemsOf(v any) int {
	switch v := v.(type) {
	case plog.Logs:
		return v.LogRecordCount()
	case pmetric.Metrics:
		return v.DataPointCount()
	case ptrace.Traces:
		return v.SpanCount()
	}
	return -1
}
