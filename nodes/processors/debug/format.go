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

// describe logs one payload at the node's verbosity. Basic reads only what
// the payload has cached (signal, items, bytes of an OTLP payload); normal
// and detailed decode it (the decoded form is then cached in the payload
// for nodes downstream).
func (p *processor) describe(pl *pdata.Payload) {
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("signal", pl.Signal().String()), slog.Int("items", pl.Items()))
	if pl.Form() == pdata.FormOTLP {
		// Bytes of a decoded payload would encode it: not worth it for a log line.
		attrs = append(attrs, slog.Int("bytes", pl.Bytes()))
	}
	if p.s.verbosity == verbosityBasic {
		p.info("pdata", attrs...)
		return
	}
	var err error
	switch pl.Signal() {
	case pdata.Logs:
		err = p.describeLogs(pl, attrs)
	case pdata.Metrics:
		err = p.describeMetrics(pl, attrs)
	default:
		err = p.describeTraces(pl, attrs)
	}
	if err != nil {
		attrs = append(attrs, slog.String("decode_error", err.Error()))
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "pdata", attrs...)
	}
}

func (p *processor) info(msg string, attrs ...slog.Attr) {
	p.log.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
}

func (p *processor) detailed() bool { return p.s.verbosity == verbosityDetailed }

func (p *processor) describeLogs(pl *pdata.Payload, attrs []slog.Attr) error {
	ld, err := pl.Logs()
	if err != nil {
		return err
	}
	scopes := 0
	for _, rl := range ld.ResourceLogs().All() {
		scopes += rl.ScopeLogs().Len()
	}
	p.info("pdata", append(attrs, slog.Int("resources", ld.ResourceLogs().Len()), slog.Int("scopes", scopes))...)
	if !p.detailed() {
		return nil
	}
	for i, rl := range ld.ResourceLogs().All() {
		p.resource(i, rl.Resource(), rl.SchemaUrl())
		for j, sl := range rl.ScopeLogs().All() {
			p.scope(i, j, sl.Scope(), sl.SchemaUrl())
			for k, lr := range sl.LogRecords().All() {
				a := []slog.Attr{slog.Int("resource", i), slog.Int("scope", j), slog.Int("index", k),
					slog.String("time", timestamp(lr.Timestamp())), slog.String("severity", severity(lr))}
				if lr.EventName() != "" {
					a = append(a, slog.String("event", lr.EventName()))
				}
				a = append(a, slog.String("body", lr.Body().AsString()), slog.String("attributes", attributes(lr.Attributes())))
				if !lr.TraceID().IsEmpty() {
					a = append(a, slog.String("trace_id", lr.TraceID().String()), slog.String("span_id", lr.SpanID().String()))
				}
				p.info("log record", a...)
			}
		}
	}
	return nil
}

func (p *processor) describeMetrics(pl *pdata.Payload, attrs []slog.Attr) error {
	md, err := pl.Metrics()
	if err != nil {
		return err
	}
	scopes := 0
	for _, rm := range md.ResourceMetrics().All() {
		scopes += rm.ScopeMetrics().Len()
	}
	p.info("pdata", append(attrs, slog.Int("resources", md.ResourceMetrics().Len()), slog.Int("scopes", scopes),
		slog.Int("metrics", md.MetricCount()))...)
	if !p.detailed() {
		return nil
	}
	for i, rm := range md.ResourceMetrics().All() {
		p.resource(i, rm.Resource(), rm.SchemaUrl())
		for j, sm := range rm.ScopeMetrics().All() {
			p.scope(i, j, sm.Scope(), sm.SchemaUrl())
			for _, m := range sm.Metrics().All() {
				p.metric(i, j, m)
			}
		}
	}
	return nil
}

// metric logs each data point of m, with what its type makes meaningful.
func (p *processor) metric(res, scope int, m pmetric.Metric) {
	head := func(k int, t pcommon.Timestamp, at pcommon.Map) []slog.Attr {
		return []slog.Attr{slog.Int("resource", res), slog.Int("scope", scope), slog.String("metric", m.Name()),
			slog.String("type", m.Type().String()), slog.String("unit", m.Unit()), slog.Int("index", k),
			slog.String("time", timestamp(t)), slog.String("attributes", attributes(at))}
	}
	number := func(dps pmetric.NumberDataPointSlice) {
		for k, dp := range dps.All() {
			v := slog.Float64("value", dp.DoubleValue())
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				v = slog.Int64("value", dp.IntValue())
			}
			p.info("metric data point", append(head(k, dp.Timestamp(), dp.Attributes()), v)...)
		}
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		number(m.Gauge().DataPoints())
	case pmetric.MetricTypeSum:
		number(m.Sum().DataPoints())
	case pmetric.MetricTypeHistogram:
		for k, dp := range m.Histogram().DataPoints().All() {
			p.info("metric data point", append(head(k, dp.Timestamp(), dp.Attributes()),
				slog.Uint64("count", dp.Count()), slog.Float64("sum", dp.Sum()))...)
		}
	case pmetric.MetricTypeExponentialHistogram:
		for k, dp := range m.ExponentialHistogram().DataPoints().All() {
			p.info("metric data point", append(head(k, dp.Timestamp(), dp.Attributes()),
				slog.Uint64("count", dp.Count()), slog.Float64("sum", dp.Sum()))...)
		}
	case pmetric.MetricTypeSummary:
		for k, dp := range m.Summary().DataPoints().All() {
			p.info("metric data point", append(head(k, dp.Timestamp(), dp.Attributes()),
				slog.Uint64("count", dp.Count()), slog.Float64("sum", dp.Sum()))...)
		}
	default:
		p.info("metric", slog.Int("resource", res), slog.Int("scope", scope), slog.String("metric", m.Name()),
			slog.String("type", m.Type().String()))
	}
}

func (p *processor) describeTraces(pl *pdata.Payload, attrs []slog.Attr) error {
	td, err := pl.Traces()
	if err != nil {
		return err
	}
	scopes := 0
	for _, rs := range td.ResourceSpans().All() {
		scopes += rs.ScopeSpans().Len()
	}
	p.info("pdata", append(attrs, slog.Int("resources", td.ResourceSpans().Len()), slog.Int("scopes", scopes))...)
	if !p.detailed() {
		return nil
	}
	for i, rs := range td.ResourceSpans().All() {
		p.resource(i, rs.Resource(), rs.SchemaUrl())
		for j, ss := range rs.ScopeSpans().All() {
			p.scope(i, j, ss.Scope(), ss.SchemaUrl())
			for k, sp := range ss.Spans().All() {
				p.span(i, j, k, sp)
			}
		}
	}
	return nil
}

func (p *processor) span(res, scope, k int, sp ptrace.Span) {
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
	p.info("span", a...)
}

func (p *processor) resource(i int, r pcommon.Resource, schema string) {
	a := []slog.Attr{slog.Int("index", i), slog.String("attributes", attributes(r.Attributes()))}
	if schema != "" {
		a = append(a, slog.String("schema_url", schema))
	}
	p.info("resource", a...)
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
	p.info("scope", a...)
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
