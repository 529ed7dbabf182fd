package debug

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata"
)

// describe reports one payload at the node's verbosity, mode, filters and
// sampling. Basic without filters reads only what the payload has cached
// (signal, items, bytes of an OTLP payload); everything else decodes it
// (the decoded form is then cached in the payload for nodes downstream).
func (p *processor) describe(now time.Time, pl *pdata.Payload) {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("signal", pl.Signal().String()), slog.Int("items", pl.Items()))
	if pl.Form() == pdata.FormOTLP {
		// Bytes of a decoded payload would encode it: not worth it for a log line.
		attrs = append(attrs, slog.Int("bytes", pl.Bytes()))
	}
	if p.s.verbosity == verbosityBasic && len(p.s.filters) == 0 {
		if p.s.sampling.allow(now) {
			p.emit("pdata", attrs...)
		}
		return
	}
	var err error
	switch pl.Signal() {
	case pdata.Logs:
		err = p.describeLogs(now, pl, attrs)
	case pdata.Metrics:
		err = p.describeMetrics(now, pl, attrs)
	default:
		err = p.describeTraces(now, pl, attrs)
	}
	if err != nil {
		attrs = append(attrs, slog.String("decode_error", err.Error()))
		p.output().LogAttrs(context.Background(), slog.LevelWarn, "pdata", attrs...)
	}
}

// shows reports whether an item with these attributes passes every filter.
func (p *processor) shows(attrs pcommon.Map) bool {
	for _, r := range p.s.filters {
		if r.matches(attrs) != r.include {
			return false
		}
	}
	return true
}

// matches reports whether attrs holds one of the rule's attributes.
func (r rule) matches(attrs pcommon.Map) bool {
	for _, a := range r.attrs {
		if v, ok := attrs.Get(a.key); ok && v.Equal(a.value) {
			return true
		}
	}
	return false
}

// report is what describeX computed about a message: the summary line's
// attributes, and whether there is anything to show.
type report struct {
	attrs []slog.Attr
	empty bool // filters hid every item: nothing is reported
}

// summarize completes the summary line with the counts that verbosity
// normal and up show, and the items the filters let through.
func (p *processor) summarize(attrs []slog.Attr, resources, scopes, shown int, extra ...slog.Attr) report {
	if p.s.verbosity >= verbosityNormal {
		attrs = append(attrs, slog.Int("resources", resources), slog.Int("scopes", scopes))
		attrs = append(attrs, extra...)
	}
	if len(p.s.filters) > 0 {
		attrs = append(attrs, slog.Int("shown", shown))
	}
	return report{attrs: attrs, empty: len(p.s.filters) > 0 && shown == 0}
}

// head logs the message's summary line in batch mode, or basic signal
// mode, which has no items to show, and says whether its details follow.
func (p *processor) head(now time.Time, r report) bool {
	if r.empty {
		return false
	}
	if p.s.signal && p.s.verbosity > verbosityBasic {
		return true // signal mode: a report per item, no summary line
	}
	if !p.s.sampling.allow(now) {
		return false
	}
	p.emit("pdata", r.attrs...)
	return p.s.verbosity == verbosityDetailed
}

// sampled reports whether the next item's line is shown: always in batch
// mode (the message's report was sampled whole), by the sampler in signal
// mode, where each item is a report of its own. Callers ask before
// building the line.
func (p *processor) sampled(now time.Time) bool {
	return !p.s.signal || p.s.sampling.allow(now)
}

// item logs one item's line; in signal mode, at detailed, it carries its
// resource and scope so that it stands alone.
func (p *processor) item(msg string, res pcommon.Resource, scope pcommon.InstrumentationScope, attrs []slog.Attr) {
	if p.s.signal && p.s.verbosity == verbosityDetailed {
		attrs = append(attrs, slog.String("resource_attributes", attributes(res.Attributes())), slog.String("scope_name", scope.Name()))
	}
	p.emit(msg, attrs...)
}

// containers says whether resource and scope lines go before the items:
// in batch mode at detailed.
func (p *processor) containers() bool { return !p.s.signal && p.s.verbosity == verbosityDetailed }

func (p *processor) describeLogs(now time.Time, pl *pdata.Payload, attrs []slog.Attr) error {
	ld, err := pl.Logs()
	if err != nil {
		return err
	}
	scopes, shown := 0, 0
	for _, rl := range ld.ResourceLogs().All() {
		scopes += rl.ScopeLogs().Len()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if p.shows(lr.Attributes()) {
					shown++
				}
			}
		}
	}
	if !p.head(now, p.summarize(attrs, ld.ResourceLogs().Len(), scopes, shown)) {
		return nil
	}
	for i, rl := range ld.ResourceLogs().All() {
		if p.containers() {
			p.resource(i, rl.Resource(), rl.SchemaUrl())
		}
		for j, sl := range rl.ScopeLogs().All() {
			if p.containers() {
				p.scope(i, j, sl.Scope(), sl.SchemaUrl())
			}
			for k, lr := range sl.LogRecords().All() {
				if !p.shows(lr.Attributes()) || !p.sampled(now) {
					continue
				}
				a := []slog.Attr{slog.Int("resource", i), slog.Int("scope", j), slog.Int("index", k),
					slog.String("time", timestamp(lr.Timestamp())), slog.String("severity", severity(lr))}
				if lr.EventName() != "" {
					a = append(a, slog.String("event", lr.EventName()))
				}
				a = append(a, slog.String("body", lr.Body().AsString()), slog.String("attributes", attributes(lr.Attributes())))
				if !lr.TraceID().IsEmpty() {
					a = append(a, slog.String("trace_id", lr.TraceID().String()), slog.String("span_id", lr.SpanID().String()))
				}
				p.item("log record", rl.Resource(), sl.Scope(), a)
			}
		}
	}
	return nil
}

func (p *processor) describeMetrics(now time.Time, pl *pdata.Payload, attrs []slog.Attr) error {
	md, err := pl.Metrics()
	if err != nil {
		return err
	}
	scopes, shown := 0, 0
	for _, rm := range md.ResourceMetrics().All() {
		scopes += rm.ScopeMetrics().Len()
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if p.showsMetric(m) {
					shown += dataPoints(m)
				}
			}
		}
	}
	r := p.summarize(attrs, md.ResourceMetrics().Len(), scopes, shown, slog.Int("metrics", md.MetricCount()))
	if !p.head(now, r) {
		return nil
	}
	for i, rm := range md.ResourceMetrics().All() {
		if p.containers() {
			p.resource(i, rm.Resource(), rm.SchemaUrl())
		}
		for j, sm := range rm.ScopeMetrics().All() {
			if p.containers() {
				p.scope(i, j, sm.Scope(), sm.SchemaUrl())
			}
			for _, m := range sm.Metrics().All() {
				if p.showsMetric(m) {
					p.metric(now, i, j, rm.Resource(), sm.Scope(), m)
				}
			}
		}
	}
	return nil
}

// showsMetric applies the filters to a metric as the reference engine
// does: a metric matches when one of its data points does, and is shown or
// hidden whole.
func (p *processor) showsMetric(m pmetric.Metric) bool {
	if len(p.s.filters) == 0 {
		return true
	}
	for _, r := range p.s.filters {
		match := false
		eachPointAttrs(m, func(a pcommon.Map) bool {
			match = r.matches(a)
			return !match
		})
		if match != r.include {
			return false
		}
	}
	return true
}

// eachPointAttrs calls f with the attributes of each data point of m
// until f returns false.
func eachPointAttrs(m pmetric.Metric, f func(pcommon.Map) bool) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			if !f(dp.Attributes()) {
				return
			}
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			if !f(dp.Attributes()) {
				return
			}
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			if !f(dp.Attributes()) {
				return
			}
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			if !f(dp.Attributes()) {
				return
			}
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			if !f(dp.Attributes()) {
				return
			}
		}
	}
}

// dataPoints is the number of data points of m.
func dataPoints(m pmetric.Metric) int {
	n := 0
	eachPointAttrs(m, func(pcommon.Map) bool { n++; return true })
	return n
}

// metric logs each data point of m, with what its type makes meaningful.
func (p *processor) metric(now time.Time, res, scope int, r pcommon.Resource, s pcommon.InstrumentationScope, m pmetric.Metric) {
	head := func(k int, t pcommon.Timestamp, at pcommon.Map) []slog.Attr {
		return []slog.Attr{slog.Int("resource", res), slog.Int("scope", scope), slog.String("metric", m.Name()),
			slog.String("type", m.Type().String()), slog.String("unit", m.Unit()), slog.Int("index", k),
			slog.String("time", timestamp(t)), slog.String("attributes", attributes(at))}
	}
	point := func(a []slog.Attr) { p.item("metric data point", r, s, a) }
	number := func(dps pmetric.NumberDataPointSlice) {
		for k, dp := range dps.All() {
			if !p.sampled(now) {
				continue
			}
			v := slog.Float64("value", dp.DoubleValue())
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				v = slog.Int64("value", dp.IntValue())
			}
			point(append(head(k, dp.Timestamp(), dp.Attributes()), v))
		}
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		number(m.Gauge().DataPoints())
	case pmetric.MetricTypeSum:
		number(m.Sum().DataPoints())
	case pmetric.MetricTypeHistogram:
		for k, dp := range m.Histogram().DataPoints().All() {
			if p.sampled(now) {
				point(append(head(k, dp.Timestamp(), dp.Attributes()), slog.Uint64("count", dp.Count()), slog.Float64("sum", dp.Sum())))
			}
		}
	case pmetric.MetricTypeExponentialHistogram:
		for k, dp := range m.ExponentialHistogram().DataPoints().All() {
			if p.sampled(now) {
				point(append(head(k, dp.Timestamp(), dp.Attributes()), slog.Uint64("count", dp.Count()), slog.Float64("sum", dp.Sum())))
			}
		}
	case pmetric.MetricTypeSummary:
		for k, dp := range m.Summary().DataPoints().All() {
			if p.sampled(now) {
				point(append(head(k, dp.Timestamp(), dp.Attributes()), slog.Uint64("count", dp.Count()), slog.Float64("sum", dp.Sum())))
			}
		}
	default:
		if p.sampled(now) {
			p.item("metric", r, s, []slog.Attr{slog.Int("resource", res), slog.Int("scope", scope), slog.String("metric", m.Name()),
				slog.String("type", m.Type().String())})
		}
	}
}

func (p *processor) describeTraces(now time.Time, pl *pdata.Payload, attrs []slog.Attr) error {
	td, err := pl.Traces()
	if err != nil {
		return err
	}
	scopes, shown := 0, 0
	for _, rs := range td.ResourceSpans().All() {
		scopes += rs.ScopeSpans().Len()
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if p.shows(sp.Attributes()) {
					shown++
				}
			}
		}
	}
	if !p.head(now, p.summarize(attrs, td.ResourceSpans().Len(), scopes, shown)) {
		return nil
	}
	for i, rs := range td.ResourceSpans().All() {
		if p.containers() {
			p.resource(i, rs.Resource(), rs.SchemaUrl())
		}
		for j, ss := range rs.ScopeSpans().All() {
			if p.containers() {
				p.scope(i, j, ss.Scope(), ss.SchemaUrl())
			}
			for k, sp := range ss.Spans().All() {
				if p.shows(sp.Attributes()) && p.sampled(now) {
					p.item("span", rs.Resource(), ss.Scope(), spanAttrs(i, j, k, sp))
				}
			}
		}
	}
	return nil
}

func spanAttrs(res, scope, k int, sp ptrace.Span) []slog.Attr {
	a := []slog.Attr{slog.Int("resource", res), slog.Int("scope", scope), slog.Int("index", k),
		slog.String("name", sp.Name()), slog.String("trace_id", sp.TraceID().String()), slog.String("span_id", sp.SpanID().String())}
	if !sp.ParentSpanID().IsEmpty() {
		a = append(a, slog.String("parent_span_id", sp.ParentSpanID().String()))
	}
	a = append(a, slog.String("kind", sp.Kind().String()), slog.String("start", timestamp(sp.StartTimestamp())),
		slog.Duration("duration", sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime())),
		slog.String("status", sp.Status().Code().String()))
	if msg := sp.Status().Message(); msg != "" {
		a = append(a, slog.String("status_message", msg))
	}
	a = append(a, slog.String("attributes", attributes(sp.Attributes())))
	if n := sp.Events().Len(); n > 0 {
		a = append(a, slog.Int("events", n))
	}
	if n := sp.Links().Len(); n > 0 {
		a = append(a, slog.Int("links", n))
	}
	return a
}

func (p *processor) resource(i int, r pcommon.Resource, schema string) {
	a := []slog.Attr{slog.Int("index", i), slog.String("attributes", attributes(r.Attributes()))}
	if schema != "" {
		a = append(a, slog.String("schema_url", schema))
	}
	p.emit("resource", a...)
}

func (p *processor) scope(res, j int, s pcommon.InstrumentationScope, schema string) {
	a := []slog.Attr{slog.Int("resource", res), slog.Int("index", j), slog.String("name", s.Name())}
	if s.Version() != "" {
		a = append(a, slog.String("version", s.Version()))
	}
	if s.Attributes().Len() > 0 {
		a = append(a, slog.String("attributes", attributes(s.Attributes())))
	}
	if schema != "" {
		a = append(a, slog.String("schema_url", schema))
	}
	p.emit("scope", a...)
}

// attributes renders a map as "k=v, k=v" in its order.
func attributes(m pcommon.Map) string {
	var b strings.Builder
	for k, v := range m.All() {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v.AsString())
	}
	return b.String()
}

// timestamp renders t in RFC 3339 UTC, or "" when unset.
func timestamp(t pcommon.Timestamp) string {
	if t == 0 {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339Nano)
}

// severity is the record's severity text, or its number's name.
func severity(lr plog.LogRecord) string {
	if lr.SeverityText() != "" {
		return lr.SeverityText()
	}
	return lr.SeverityNumber().String()
}
