package interop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// Content checks. A test sends a request of each signal built here, with
// a tag in every resource; the sink fingerprints every item of a tagged
// resource as it arrives, and the test compares the fingerprints (as
// multisets: a hop may regroup resources and scopes, or reorder items)
// with those of what it sent. A fingerprint holds every field the OTLP
// and OTAP forms both carry that these requests set, so a hop that drops
// or alters one shows here.

// tagKey is the resource attribute that names the test content.
const tagKey = "interop.tag"

// contentItems is how many items each content request holds per signal.
var contentItems = counts{Logs: 6, Points: 6, Spans: 6}

// baseTime is the content's first timestamp (2023-11-14T22:13:20Z).
const baseTime = pcommon.Timestamp(1_700_000_000_000_000_000)

// contentResource fills a resource of content request tag.
func contentResource(r pcommon.Resource, tag string, i int) {
	a := r.Attributes()
	a.PutStr(tagKey, tag)
	a.PutStr("service.name", fmt.Sprintf("interop-%d", i))
	a.PutInt("host.cpus", int64(2+i))
}

// contentAttrs fills a with one attribute of each scalar type and a slice.
func contentAttrs(a pcommon.Map, i int) {
	a.PutStr("str", fmt.Sprintf("value %d", i))
	a.PutInt("int", int64(-i*1000))
	a.PutDouble("double", float64(i)+0.25)
	a.PutBool("bool", i%2 == 0)
	a.PutEmptyBytes("bytes").FromRaw([]byte{0, byte(i), 0xff})
	s := a.PutEmptySlice("slice")
	s.AppendEmpty().SetStr("a")
	s.AppendEmpty().SetInt(int64(i))
}

func traceID(i int) pcommon.TraceID {
	return pcommon.TraceID{0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, byte(i)}
}

func spanID(i int) pcommon.SpanID { return pcommon.SpanID{0xb0, 1, 2, 3, 4, 5, 6, byte(i)} }

// contentLogs: two resources of three records: string and map bodies,
// severities, both timestamps, trace context and flags.
func contentLogs(tag string) plog.Logs {
	ld := plog.NewLogs()
	for r := range 2 {
		rl := ld.ResourceLogs().AppendEmpty()
		contentResource(rl.Resource(), tag, r)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("interop/logs")
		sl.Scope().SetVersion("1.0")
		for j := range 3 {
			i := r*3 + j
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(baseTime + pcommon.Timestamp(i))
			lr.SetObservedTimestamp(baseTime + pcommon.Timestamp(1000+i))
			lr.SetSeverityNumber(plog.SeverityNumber(1 + 4*j))
			lr.SetSeverityText([]string{"TRACE", "DEBUG", "INFO"}[j])
			if j == 2 {
				m := lr.Body().SetEmptyMap()
				m.PutStr("event", "checkout")
				m.PutInt("n", int64(i))
			} else {
				lr.Body().SetStr(fmt.Sprintf("%s log %d", tag, i))
			}
			contentAttrs(lr.Attributes(), i)
			lr.SetTraceID(traceID(i))
			lr.SetSpanID(spanID(i))
			lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
		}
	}
	return ld
}

// contentMetrics: a double gauge, a cumulative monotonic int sum and a
// delta histogram, two points each.
func contentMetrics(tag string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	contentResource(rm.Resource(), tag, 0)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("interop/metrics")
	sm.Scope().SetVersion("1.0")

	g := sm.Metrics().AppendEmpty()
	g.SetName("interop.gauge")
	g.SetUnit("1")
	g.SetDescription("a double gauge")
	gdps := g.SetEmptyGauge().DataPoints()
	for i := range 2 {
		dp := gdps.AppendEmpty()
		dp.SetTimestamp(baseTime + pcommon.Timestamp(i))
		dp.SetDoubleValue(0.5 + float64(i))
		contentAttrs(dp.Attributes(), i)
	}

	s := sm.Metrics().AppendEmpty()
	s.SetName("interop.sum")
	s.SetUnit("{request}")
	s.SetDescription("a monotonic cumulative int sum")
	sum := s.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i := range 2 {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(baseTime)
		dp.SetTimestamp(baseTime + pcommon.Timestamp(10+i))
		dp.SetIntValue(int64(100 * (i + 1)))
		dp.Attributes().PutStr("route", fmt.Sprintf("/r%d", i))
	}

	h := sm.Metrics().AppendEmpty()
	h.SetName("interop.histogram")
	h.SetUnit("ms")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for i := range 2 {
		dp := hist.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(baseTime + pcommon.Timestamp(20+i))
		dp.SetTimestamp(baseTime + pcommon.Timestamp(30+i))
		dp.SetCount(uint64(6 + i))
		dp.SetSum(42.5 + float64(i))
		dp.SetMin(1)
		dp.SetMax(20)
		dp.ExplicitBounds().FromRaw([]float64{5, 10})
		dp.BucketCounts().FromRaw([]uint64{1, 2, uint64(3 + i)})
		dp.Attributes().PutStr("le_set", "default")
	}
	return md
}

// contentTraces: two resources of three spans (a root and two children),
// with kinds, attributes, an event each and statuses.
func contentTraces(tag string) ptrace.Traces {
	td := ptrace.NewTraces()
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		contentResource(rs.Resource(), tag, r)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("interop/traces")
		ss.Scope().SetVersion("1.0")
		for j := range 3 {
			i := r*3 + j
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(traceID(r))
			sp.SetSpanID(spanID(i))
			if j > 0 {
				sp.SetParentSpanID(spanID(r * 3))
			}
			sp.SetName(fmt.Sprintf("%s span %d", tag, i))
			sp.SetKind(ptrace.SpanKind(1 + j))
			sp.SetStartTimestamp(baseTime + pcommon.Timestamp(i))
			sp.SetEndTimestamp(baseTime + pcommon.Timestamp(1000+i))
			contentAttrs(sp.Attributes(), i)
			ev := sp.Events().AppendEmpty()
			ev.SetName("event")
			ev.SetTimestamp(baseTime + pcommon.Timestamp(500+i))
			ev.Attributes().PutInt("seq", int64(i))
			if j == 2 {
				sp.Status().SetCode(ptrace.StatusCodeError)
				sp.Status().SetMessage("failed on purpose")
			} else {
				sp.Status().SetCode(ptrace.StatusCodeOk)
			}
		}
	}
	return td
}

// ---- fingerprints ----

// tagOf returns the content tag of a resource, "" if it has none.
func tagOf(r pcommon.Resource) string {
	v, ok := r.Attributes().Get(tagKey)
	if !ok {
		return ""
	}
	return v.Str()
}

func scopePrint(s pcommon.InstrumentationScope) string {
	return fmt.Sprintf("%s@%s%v", s.Name(), s.Version(), s.Attributes().AsRaw())
}

// logPrints adds the fingerprint of every record of a tagged resource to
// out, by tag.
func logPrints(ld plog.Logs, out map[string][]string) {
	for _, rl := range ld.ResourceLogs().All() {
		tag := tagOf(rl.Resource())
		if tag == "" {
			continue
		}
		res := rl.Resource().Attributes().AsRaw()
		for _, sl := range rl.ScopeLogs().All() {
			scope := scopePrint(sl.Scope())
			for _, lr := range sl.LogRecords().All() {
				out[tag] = append(out[tag], fmt.Sprintf(
					"log res=%v scope=%s ts=%d observed=%d severity=%d/%q body=%#v attrs=%#v trace=%s span=%s flags=%d",
					res, scope, lr.Timestamp(), lr.ObservedTimestamp(), lr.SeverityNumber(), lr.SeverityText(),
					lr.Body().AsRaw(), lr.Attributes().AsRaw(), lr.TraceID(), lr.SpanID(), lr.Flags()))
			}
		}
	}
}

// metricPrints adds the fingerprint of every data point of a tagged
// resource to out, by tag.
func metricPrints(md pmetric.Metrics, out map[string][]string) {
	for _, rm := range md.ResourceMetrics().All() {
		tag := tagOf(rm.Resource())
		if tag == "" {
			continue
		}
		res := rm.Resource().Attributes().AsRaw()
		for _, sm := range rm.ScopeMetrics().All() {
			scope := scopePrint(sm.Scope())
			for _, m := range sm.Metrics().All() {
				head := fmt.Sprintf("point res=%v scope=%s metric=%s unit=%q desc=%q type=%s",
					res, scope, m.Name(), m.Unit(), m.Description(), m.Type())
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for _, dp := range m.Gauge().DataPoints().All() {
						out[tag] = append(out[tag], head+numberPrint(dp))
					}
				case pmetric.MetricTypeSum:
					s := m.Sum()
					head += fmt.Sprintf(" monotonic=%t temporality=%s", s.IsMonotonic(), s.AggregationTemporality())
					for _, dp := range s.DataPoints().All() {
						out[tag] = append(out[tag], head+numberPrint(dp))
					}
				case pmetric.MetricTypeHistogram:
					h := m.Histogram()
					head += fmt.Sprintf(" temporality=%s", h.AggregationTemporality())
					for _, dp := range h.DataPoints().All() {
						out[tag] = append(out[tag], head+fmt.Sprintf(
							" start=%d ts=%d count=%d sum=%v min=%v max=%v bounds=%v buckets=%v attrs=%#v",
							dp.StartTimestamp(), dp.Timestamp(), dp.Count(), dp.Sum(), dp.Min(), dp.Max(),
							dp.ExplicitBounds().AsRaw(), dp.BucketCounts().AsRaw(), dp.Attributes().AsRaw()))
					}
				default:
					// The content has no other type: one showing up is itself a difference.
					out[tag] = append(out[tag], head)
				}
			}
		}
	}
}

func numberPrint(dp pmetric.NumberDataPoint) string {
	var v any
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		v = dp.IntValue()
	case pmetric.NumberDataPointValueTypeDouble:
		v = dp.DoubleValue()
	}
	return fmt.Sprintf(" start=%d ts=%d value=%#v attrs=%#v", dp.StartTimestamp(), dp.Timestamp(), v, dp.Attributes().AsRaw())
}

// spanPrints adds the fingerprint of every span of a tagged resource to
// out, by tag.
func spanPrints(td ptrace.Traces, out map[string][]string) {
	for _, rs := range td.ResourceSpans().All() {
		tag := tagOf(rs.Resource())
		if tag == "" {
			continue
		}
		res := rs.Resource().Attributes().AsRaw()
		for _, ss := range rs.ScopeSpans().All() {
			scope := scopePrint(ss.Scope())
			for _, sp := range ss.Spans().All() {
				var evs []string
				for _, ev := range sp.Events().All() {
					evs = append(evs, fmt.Sprintf("%s@%d%#v", ev.Name(), ev.Timestamp(), ev.Attributes().AsRaw()))
				}
				out[tag] = append(out[tag], fmt.Sprintf(
					"span res=%v scope=%s trace=%s id=%s parent=%s name=%q kind=%s start=%d end=%d attrs=%#v events=%v status=%s/%q",
					res, scope, sp.TraceID(), sp.SpanID(), sp.ParentSpanID(), sp.Name(), sp.Kind(),
					sp.StartTimestamp(), sp.EndTimestamp(), sp.Attributes().AsRaw(), evs,
					sp.Status().Code(), sp.Status().Message()))
			}
		}
	}
}

// wantPrints returns the sorted fingerprints of the content request of
// signal with tag.
func wantPrints(signal, tag string) []string {
	out := map[string][]string{}
	switch signal {
	case "logs":
		logPrints(contentLogs(tag), out)
	case "metrics":
		metricPrints(contentMetrics(tag), out)
	case "traces":
		spanPrints(contentTraces(tag), out)
	default:
		panic("unknown signal " + signal)
	}
	slices.Sort(out[tag])
	return out[tag]
}

// contentCounts is what the content request of signal holds.
func contentCounts(signal string) counts {
	switch signal {
	case "logs":
		return counts{Logs: contentItems.Logs}
	case "metrics":
		return counts{Points: contentItems.Points}
	case "traces":
		return counts{Spans: contentItems.Spans}
	}
	panic("unknown signal " + signal)
}

// exportContent sends the content request of signal with tag over
// OTLP/gRPC on conn and returns the export's error.
func exportContent(ctx context.Context, conn *grpc.ClientConn, signal, tag string) error {
	var err error
	switch signal {
	case "logs":
		_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(contentLogs(tag)))
	case "metrics":
		_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(contentMetrics(tag)))
	case "traces":
		_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(contentTraces(tag)))
	default:
		panic("unknown signal " + signal)
	}
	return err
}

// requireContent fails unless the sink holds exactly the items of the
// content request of signal with tag.
func requireContent(t *testing.T, s *sink, signal, tag string) {
	t.Helper()
	want := wantPrints(signal, tag)
	got := s.prints(tag)
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("the sink's %s content tagged %q differs from what was sent (%d items, want %d):\n%s",
		signal, tag, len(got), len(want), printsDiff(got, want))
}

// printsDiff lists the fingerprints missing from got and those extra in
// it (both sorted).
func printsDiff(got, want []string) string {
	var b strings.Builder
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case j == len(want) || (i < len(got) && got[i] < want[j]):
			fmt.Fprintf(&b, "  + %s\n", got[i])
			i++
		case i == len(got) || want[j] < got[i]:
			fmt.Fprintf(&b, "  - %s\n", want[j])
			j++
		default:
			i++
			j++
		}
	}
	return b.String()
}
