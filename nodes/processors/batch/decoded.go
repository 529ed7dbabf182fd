package batch

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata"
)

// This file merges and splits decoded payloads by item ranges. Inputs are
// read-only, so every batch that is not a whole single input is a new
// container into which the selected items are copied once.
//
// Items are numbered in traversal order (resource, scope, record). A range
// [off, end) of a payload of total items selects the items it numbers and
// the resource, scope and metric headers above them. A container holding
// no item (a resource without scopes, a scope without records, a metric
// without data points) sits at the position of the next item; it goes to
// the range holding that position, or to the last range when it trails
// every item. So the ranges of one payload partition everything it holds,
// empty containers included, and nothing is lost by splitting.

// span is the item range [off, end) of a payload of total items.
type span struct{ off, end, total int }

// whole reports whether s selects the entire payload.
func (s span) whole() bool { return s.off == 0 && s.end == s.total }

// holdsEmpty reports whether an itemless container at position pos belongs
// to s.
func (s span) holdsEmpty(pos int) bool {
	return (s.off <= pos && pos < s.end) || (pos == s.total && s.end == s.total)
}

// overlaps reports whether the n items from position pos (or, for n == 0,
// the itemless container at pos) belong to s.
func (s span) overlaps(pos, n int) bool {
	if n == 0 {
		return s.holdsEmpty(pos)
	}
	return pos < s.end && pos+n > s.off
}

// clip returns the indexes [lo, hi) of the n items from position pos that
// s selects.
func (s span) clip(pos, n int) (lo, hi int) {
	return max(s.off-pos, 0), min(s.end-pos, n)
}

// decodedItems returns the item count of a decoded payload value.
func decodedItems(v any) int {
	switch d := v.(type) {
	case plog.Logs:
		return d.LogRecordCount()
	case pmetric.Metrics:
		return d.DataPointCount()
	case ptrace.Traces:
		return d.SpanCount()
	}
	return 0
}

// decodedValue returns the decoded form of p (plog.Logs, pmetric.Metrics or
// ptrace.Traces), decoding OTLP bytes once (the payload caches it).
func decodedValue(p *pdata.Payload) (any, error) {
	switch p.Signal() {
	case pdata.Logs:
		return p.Logs()
	case pdata.Metrics:
		return p.Metrics()
	default:
		return p.Traces()
	}
}

// newDecoded returns an empty container for signal s.
func newDecoded(s pdata.Signal) any {
	switch s {
	case pdata.Logs:
		return plog.NewLogs()
	case pdata.Metrics:
		return pmetric.NewMetrics()
	default:
		return ptrace.NewTraces()
	}
}

// wrapDecoded makes a payload of a decoded value (marking it read-only).
func wrapDecoded(v any) *pdata.Payload {
	switch d := v.(type) {
	case plog.Logs:
		return pdata.FromLogs(d)
	case pmetric.Metrics:
		return pdata.FromMetrics(d)
	default:
		return pdata.FromTraces(v.(ptrace.Traces))
	}
}

// appendRange copies the items of src selected by s (with their headers)
// into dst, a container of the same signal built by newDecoded.
func appendRange(dst, src any, s span) {
	switch d := dst.(type) {
	case plog.Logs:
		appendLogs(d.ResourceLogs(), src.(plog.Logs).ResourceLogs(), s)
	case pmetric.Metrics:
		appendMetrics(d.ResourceMetrics(), src.(pmetric.Metrics).ResourceMetrics(), s)
	case ptrace.Traces:
		appendTraces(d.ResourceSpans(), src.(ptrace.Traces).ResourceSpans(), s)
	}
}

func appendLogs(dst, src plog.ResourceLogsSlice, s span) {
	if s.whole() {
		for _, rl := range src.All() {
			rl.CopyTo(dst.AppendEmpty())
		}
		return
	}
	pos := 0
	for _, rl := range src.All() {
		var drl plog.ResourceLogs
		opened := false
		sls := rl.ScopeLogs()
		if sls.Len() == 0 {
			if s.holdsEmpty(pos) {
				rl.CopyTo(dst.AppendEmpty())
			}
			continue
		}
		for _, sl := range sls.All() {
			recs := sl.LogRecords()
			n := recs.Len()
			if !s.overlaps(pos, n) {
				pos += n
				continue
			}
			if !opened {
				drl = dst.AppendEmpty()
				rl.Resource().CopyTo(drl.Resource())
				drl.SetSchemaUrl(rl.SchemaUrl())
				opened = true
			}
			dsl := drl.ScopeLogs().AppendEmpty()
			sl.Scope().CopyTo(dsl.Scope())
			dsl.SetSchemaUrl(sl.SchemaUrl())
			lo, hi := s.clip(pos, n)
			drecs := dsl.LogRecords()
			drecs.EnsureCapacity(hi - lo)
			for i := lo; i < hi; i++ {
				recs.At(i).CopyTo(drecs.AppendEmpty())
			}
			pos += n
		}
	}
}

func appendTraces(dst, src ptrace.ResourceSpansSlice, s span) {
	if s.whole() {
		for _, rs := range src.All() {
			rs.CopyTo(dst.AppendEmpty())
		}
		return
	}
	pos := 0
	for _, rs := range src.All() {
		var drs ptrace.ResourceSpans
		opened := false
		sss := rs.ScopeSpans()
		if sss.Len() == 0 {
			if s.holdsEmpty(pos) {
				rs.CopyTo(dst.AppendEmpty())
			}
			continue
		}
		for _, ss := range sss.All() {
			spans := ss.Spans()
			n := spans.Len()
			if !s.overlaps(pos, n) {
				pos += n
				continue
			}
			if !opened {
				drs = dst.AppendEmpty()
				rs.Resource().CopyTo(drs.Resource())
				drs.SetSchemaUrl(rs.SchemaUrl())
				opened = true
			}
			dss := drs.ScopeSpans().AppendEmpty()
			ss.Scope().CopyTo(dss.Scope())
			dss.SetSchemaUrl(ss.SchemaUrl())
			lo, hi := s.clip(pos, n)
			dspans := dss.Spans()
			dspans.EnsureCapacity(hi - lo)
			for i := lo; i < hi; i++ {
				spans.At(i).CopyTo(dspans.AppendEmpty())
			}
			pos += n
		}
	}
}

func appendMetrics(dst, src pmetric.ResourceMetricsSlice, s span) {
	if s.whole() {
		for _, rm := range src.All() {
			rm.CopyTo(dst.AppendEmpty())
		}
		return
	}
	pos := 0
	for _, rm := range src.All() {
		var drm pmetric.ResourceMetrics
		openedR := false
		sms := rm.ScopeMetrics()
		if sms.Len() == 0 {
			if s.holdsEmpty(pos) {
				rm.CopyTo(dst.AppendEmpty())
			}
			continue
		}
		for _, sm := range sms.All() {
			var dsm pmetric.ScopeMetrics
			openedS := false
			open := func() {
				if !openedR {
					drm = dst.AppendEmpty()
					rm.Resource().CopyTo(drm.Resource())
					drm.SetSchemaUrl(rm.SchemaUrl())
					openedR = true
				}
				if !openedS {
					dsm = drm.ScopeMetrics().AppendEmpty()
					sm.Scope().CopyTo(dsm.Scope())
					dsm.SetSchemaUrl(sm.SchemaUrl())
					openedS = true
				}
			}
			ms := sm.Metrics()
			if ms.Len() == 0 {
				if s.holdsEmpty(pos) {
					open()
				}
				continue
			}
			for _, m := range ms.All() {
				n := metricPoints(m)
				if !s.overlaps(pos, n) {
					pos += n
					continue
				}
				open()
				lo, hi := s.clip(pos, n)
				copyMetricRange(dsm.Metrics().AppendEmpty(), m, lo, hi)
				pos += n
			}
		}
	}
}

// metricPoints returns the data points of m: its items.
func metricPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// copyMetricRange copies m's header and its data points [lo, hi) to dst.
func copyMetricRange(dst, m pmetric.Metric, lo, hi int) {
	if lo == 0 && hi == metricPoints(m) {
		m.CopyTo(dst)
		return
	}
	dst.SetName(m.Name())
	dst.SetDescription(m.Description())
	dst.SetUnit(m.Unit())
	m.Metadata().CopyTo(dst.Metadata())
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		from, to := m.Gauge().DataPoints(), dst.SetEmptyGauge().DataPoints()
		for i := lo; i < hi; i++ {
			from.At(i).CopyTo(to.AppendEmpty())
		}
	case pmetric.MetricTypeSum:
		d := dst.SetEmptySum()
		d.SetAggregationTemporality(m.Sum().AggregationTemporality())
		d.SetIsMonotonic(m.Sum().IsMonotonic())
		from, to := m.Sum().DataPoints(), d.DataPoints()
		for i := lo; i < hi; i++ {
			from.At(i).CopyTo(to.AppendEmpty())
		}
	case pmetric.MetricTypeHistogram:
		d := dst.SetEmptyHistogram()
		d.SetAggregationTemporality(m.Histogram().AggregationTemporality())
		from, to := m.Histogram().DataPoints(), d.DataPoints()
		for i := lo; i < hi; i++ {
			from.At(i).CopyTo(to.AppendEmpty())
		}
	case pmetric.MetricTypeExponentialHistogram:
		d := dst.SetEmptyExponentialHistogram()
		d.SetAggregationTemporality(m.ExponentialHistogram().AggregationTemporality())
		from, to := m.ExponentialHistogram().DataPoints(), d.DataPoints()
		for i := lo; i < hi; i++ {
			from.At(i).CopyTo(to.AppendEmpty())
		}
	case pmetric.MetricTypeSummary:
		from, to := m.Summary().DataPoints(), dst.SetEmptySummary().DataPoints()
		for i := lo; i < hi; i++ {
			from.At(i).CopyTo(to.AppendEmpty())
		}
	}
}

// encodedSize and encode measure and serialize a decoded value as an OTLP
// export request.
func encodedSize(v any) int {
	switch d := v.(type) {
	case plog.Logs:
		return (&plog.ProtoMarshaler{}).LogsSize(d)
	case pmetric.Metrics:
		return (&pmetric.ProtoMarshaler{}).MetricsSize(d)
	case ptrace.Traces:
		return (&ptrace.ProtoMarshaler{}).TracesSize(d)
	}
	return 0
}

func encode(v any) ([]byte, error) {
	switch d := v.(type) {
	case plog.Logs:
		return (&plog.ProtoMarshaler{}).MarshalLogs(d)
	case pmetric.Metrics:
		return (&pmetric.ProtoMarshaler{}).MarshalMetrics(d)
	case ptrace.Traces:
		return (&ptrace.ProtoMarshaler{}).MarshalTraces(d)
	}
	return nil, fmt.Errorf("encode %T: not a decoded payload", v)
}

// fragment is one re-encoded part of an oversize resource entry.
type fragment struct {
	b     []byte
	items int
}

// splitEntry decodes the request entry (one resource entry of signal s
// holding items items) and cuts it by items into re-encoded requests of at
// most maxBytes each; a single item larger than maxBytes becomes a
// fragment alone. It stops with ok false as soon as more than maxFrags
// fragments would be needed. The fragments hold exactly the entry's items,
// in order.
func splitEntry(s pdata.Signal, entry []byte, items, maxBytes, maxFrags int) (frags []fragment, ok bool, err error) {
	p, err := pdata.FromOTLP(s, entry)
	if err != nil {
		return nil, false, fmt.Errorf("scan oversize entry: %w", err)
	}
	src, err := decodedValue(p)
	if err != nil {
		return nil, false, fmt.Errorf("decode oversize entry: %w", err)
	}
	total := decodedItems(src)
	if total != items {
		return nil, false, fmt.Errorf("oversize entry: wire scan counted %d items, decoding %d", items, total)
	}
	// Start from the average item size; shrink a fragment that comes out
	// too large (headers are repeated in every fragment) until it fits.
	per := max(1, total*maxBytes/max(len(entry), 1))
	for off := 0; off < total; {
		if len(frags) == maxFrags {
			return nil, false, nil
		}
		k := min(per, total-off)
		for {
			dst := newDecoded(s)
			appendRange(dst, src, span{off: off, end: off + k, total: total})
			size := encodedSize(dst)
			if size <= maxBytes || k == 1 {
				b, err := encode(dst)
				if err != nil {
					return nil, false, fmt.Errorf("encode fragment: %w", err)
				}
				frags = append(frags, fragment{b: b, items: k})
				break
			}
			k = max(1, min(k-1, k*maxBytes/size))
		}
		off += k
		per = k
	}
	return frags, true, nil
}
