package testsink

import (
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The keys of items: every field the generators set, with the item's
// resource and scope, so that two items have equal keys only if they are
// equal. fmt prints maps sorted by key.

func attrs(m pcommon.Map) string { return fmt.Sprint(m.AsRaw()) }

// LogKeys returns the key of every log record of ld, in order.
func LogKeys(ld plog.Logs) []string {
	var out []string
	for i := range ld.ResourceLogs().Len() {
		rl := ld.ResourceLogs().At(i)
		res := attrs(rl.Resource().Attributes())
		for j := range rl.ScopeLogs().Len() {
			sl := rl.ScopeLogs().At(j)
			for k := range sl.LogRecords().Len() {
				lr := sl.LogRecords().At(k)
				out = append(out, fmt.Sprintf("L|%s|%s@%s|%s|%d|%s|%d|%s|%s",
					res, sl.Scope().Name(), sl.Scope().Version(), lr.Body().AsString(), lr.SeverityNumber(),
					lr.SeverityText(), lr.Timestamp(), lr.TraceID(), attrs(lr.Attributes())))
			}
		}
	}
	return out
}

// MetricKeys returns the key of every data point of md, in order. Only
// gauges and sums have data points this package knows; a metric of another
// type gets one key that says so.
func MetricKeys(md pmetric.Metrics) []string {
	var out []string
	for i := range md.ResourceMetrics().Len() {
		rm := md.ResourceMetrics().At(i)
		res := attrs(rm.Resource().Attributes())
		for j := range rm.ScopeMetrics().Len() {
			sm := rm.ScopeMetrics().At(j)
			for k := range sm.Metrics().Len() {
				m := sm.Metrics().At(k)
				var dps pmetric.NumberDataPointSlice
				head := fmt.Sprintf("M|%s|%s|%s|%s|%s", res, sm.Scope().Name(), m.Name(), m.Unit(), m.Type())
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
					head += fmt.Sprintf("|%t|%s", m.Sum().IsMonotonic(), m.Sum().AggregationTemporality())
				default:
					out = append(out, head+"|unexpected type")
					continue
				}
				for d := range dps.Len() {
					dp := dps.At(d)
					var v string
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						v = "int:" + strconv.FormatInt(dp.IntValue(), 10)
					} else {
						v = "double:" + strconv.FormatFloat(dp.DoubleValue(), 'g', -1, 64)
					}
					out = append(out, fmt.Sprintf("%s|%s|%d|%d|%s", head, v, dp.StartTimestamp(), dp.Timestamp(), attrs(dp.Attributes())))
				}
			}
		}
	}
	return out
}

// TraceKeys returns the key of every span of td, in order.
func TraceKeys(td ptrace.Traces) []string {
	var out []string
	for i := range td.ResourceSpans().Len() {
		rs := td.ResourceSpans().At(i)
		res := attrs(rs.Resource().Attributes())
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j)
			for k := range ss.Spans().Len() {
				sp := ss.Spans().At(k)
				out = append(out, fmt.Sprintf("T|%s|%s|%s|%s|%s|%s|%s|%d|%d|%s|%s",
					res, ss.Scope().Name(), sp.Name(), sp.TraceID(), sp.SpanID(), sp.ParentSpanID(), sp.Kind(),
					sp.StartTimestamp(), sp.EndTimestamp(), sp.Status().Code(), attrs(sp.Attributes())))
			}
		}
	}
	return out
}
