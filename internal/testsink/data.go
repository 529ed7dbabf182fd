package testsink

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// Signals, as the OTLP/HTTP paths name them.
const (
	SignalLogs    = "logs"
	SignalMetrics = "metrics"
	SignalTraces  = "traces"
)

// Request is one client request: the data of one signal, and the keys of
// its items.
type Request struct {
	Signal  string // SignalLogs, SignalMetrics or SignalTraces
	Logs    plog.Logs
	Metrics pmetric.Metrics
	Traces  ptrace.Traces
	Keys    []string // one per item, in order; unique to the request's tag
}

// NewRequest builds a request of signal with n items (n ≥ 4) spread over
// two resources, every item tagged with tag. Requests with different tags
// have no item key in common. It panics on an unknown signal.
func NewRequest(signal, tag string, n int) Request {
	r := Request{Signal: signal}
	switch signal {
	case SignalLogs:
		r.Logs = Logs(tag, n)
		r.Keys = LogKeys(r.Logs)
	case SignalMetrics:
		r.Metrics = Metrics(tag, n)
		r.Keys = MetricKeys(r.Metrics)
	case SignalTraces:
		r.Traces = Traces(tag, n)
		r.Keys = TraceKeys(r.Traces)
	default:
		panic("testsink: unknown signal " + signal)
	}
	if len(r.Keys) != n {
		panic(fmt.Sprintf("testsink: request %s/%s has %d items, want %d", signal, tag, len(r.Keys), n))
	}
	return r
}

// Items returns the number of items of r.
func (r Request) Items() int { return len(r.Keys) }

// Proto returns r as a serialized OTLP export request.
func (r Request) Proto() []byte {
	var b []byte
	var err error
	switch r.Signal {
	case SignalLogs:
		b, err = plogotlp.NewExportRequestFromLogs(r.Logs).MarshalProto()
	case SignalMetrics:
		b, err = pmetricotlp.NewExportRequestFromMetrics(r.Metrics).MarshalProto()
	default:
		b, err = ptraceotlp.NewExportRequestFromTraces(r.Traces).MarshalProto()
	}
	if err != nil {
		panic(err)
	}
	return b
}

// JSON returns r as an OTLP/JSON export request.
func (r Request) JSON() []byte {
	var b []byte
	var err error
	switch r.Signal {
	case SignalLogs:
		b, err = plogotlp.NewExportRequestFromLogs(r.Logs).MarshalJSON()
	case SignalMetrics:
		b, err = pmetricotlp.NewExportRequestFromMetrics(r.Metrics).MarshalJSON()
	default:
		b, err = ptraceotlp.NewExportRequestFromTraces(r.Traces).MarshalJSON()
	}
	if err != nil {
		panic(err)
	}
	return b
}

// Export sends r on conn with the signal's pdata gRPC client and returns
// the call's error (nil for OK).
func (r Request) Export(ctx context.Context, conn *grpc.ClientConn, opts ...grpc.CallOption) error {
	var err error
	switch r.Signal {
	case SignalLogs:
		_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(r.Logs), opts...)
	case SignalMetrics:
		_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(r.Metrics), opts...)
	default:
		_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(r.Traces), opts...)
	}
	return err
}

// id16 and id8 derive stable trace and span ids from a string.
func id16(s string) pcommon.TraceID {
	h := sha256.Sum256([]byte(s))
	return pcommon.TraceID(h[:16])
}

func id8(s string) pcommon.SpanID {
	h := sha256.Sum256([]byte(s))
	return pcommon.SpanID(h[16:24])
}

func itoa(n int) string { return strconv.Itoa(n) }

func putResource(r pcommon.Resource, tag string, i int) {
	r.Attributes().PutStr("service.name", "testsink")
	r.Attributes().PutStr("request", tag)
	r.Attributes().PutInt("resource.index", int64(i))
}

// Logs returns n log records (n ≥ 2) over two resources, with keys unique
// to tag: every field is set, most from the record's index.
func Logs(tag string, n int) plog.Logs {
	ld := plog.NewLogs()
	for r := range 2 {
		rl := ld.ResourceLogs().AppendEmpty()
		putResource(rl.Resource(), tag, r)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("testsink/scope-" + itoa(r))
		sl.Scope().SetVersion("1.0")
	}
	for i := range n {
		lr := ld.ResourceLogs().At(i % 2).ScopeLogs().At(0).LogRecords().AppendEmpty()
		lr.Body().SetStr(fmt.Sprintf("%s/log-%d", tag, i))
		lr.SetSeverityNumber(plog.SeverityNumberInfo + plog.SeverityNumber(i%4))
		lr.SetSeverityText("sev" + itoa(i%4))
		lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
		lr.SetTraceID(id16(tag + itoa(i)))
		lr.Attributes().PutInt("i", int64(i))
		lr.Attributes().PutDouble("quarter", float64(i)/4)
		lr.Attributes().PutBool("even", i%2 == 0)
	}
	return ld
}

// Metrics returns n data points (n ≥ 4) over two resources, gauges and
// sums, int and double values, with keys unique to tag.
func Metrics(tag string, n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for r := range 2 {
		rm := md.ResourceMetrics().AppendEmpty()
		putResource(rm.Resource(), tag, r)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("testsink/scope-" + itoa(r))
		g := sm.Metrics().AppendEmpty()
		g.SetName(tag + ".gauge")
		g.SetUnit("1")
		g.SetEmptyGauge()
		s := sm.Metrics().AppendEmpty()
		s.SetName(tag + ".sum")
		s.SetUnit("By")
		sum := s.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	for i := range n {
		ms := md.ResourceMetrics().At(i % 2).ScopeMetrics().At(0).Metrics()
		var dp pmetric.NumberDataPoint
		if (i/2)%2 == 0 {
			dp = ms.At(0).Gauge().DataPoints().AppendEmpty()
			dp.SetDoubleValue(float64(i) + 0.25)
		} else {
			dp = ms.At(1).Sum().DataPoints().AppendEmpty()
			dp.SetIntValue(int64(1000 + i))
		}
		dp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000))
		dp.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
		dp.Attributes().PutInt("i", int64(i))
		dp.Attributes().PutStr("tag", tag)
	}
	return md
}

// Traces returns n spans (n ≥ 2) of one trace over two resources, with
// keys unique to tag.
func Traces(tag string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		putResource(rs.Resource(), tag, r)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("testsink/scope-" + itoa(r))
	}
	for i := range n {
		sp := td.ResourceSpans().At(i % 2).ScopeSpans().At(0).Spans().AppendEmpty()
		sp.SetName(fmt.Sprintf("%s/span-%d", tag, i))
		sp.SetTraceID(id16(tag))
		sp.SetSpanID(id8(tag + itoa(i)))
		if i > 0 {
			sp.SetParentSpanID(id8(tag + "0"))
		}
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
		sp.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_000_001_000 + int64(i)))
		sp.Attributes().PutInt("i", int64(i))
		sp.Status().SetCode(ptrace.StatusCodeOk)
	}
	return td
}
