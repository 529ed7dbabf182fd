// Package pdatatest builds payloads and messages for tests: deterministic
// OTLP requests of a chosen size, and helpers to read their items back.
package pdatatest

import (
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata"
)

// LogsData returns decoded logs with n records spread over resources of at
// most perResource records (0 = one resource), bodies of bodySize bytes.
// Record i has body "log-<tag>-<i>" padded to bodySize, so tests can tell
// records apart.
func LogsData(tag string, n, perResource, bodySize int) plog.Logs {
	ld := plog.NewLogs()
	if perResource <= 0 {
		perResource = max(n, 1)
	}
	var rl plog.ResourceLogs
	var sl plog.ScopeLogs
	for i := range n {
		if i%perResource == 0 {
			rl = ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", "pdatatest")
			rl.Resource().Attributes().PutInt("resource.index", int64(i/perResource))
			sl = rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("pdatatest")
		}
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.Body().SetStr(pad(fmt.Sprintf("log-%s-%d", tag, i), bodySize))
	}
	return ld
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(".", n-len(s))
}

// MetricsData returns decoded metrics with n gauge data points.
func MetricsData(tag string, n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	m := sm.Metrics().AppendEmpty()
	m.SetName("pdatatest." + tag)
	g := m.SetEmptyGauge()
	for i := range n {
		dp := g.DataPoints().AppendEmpty()
		dp.SetIntValue(int64(i))
		dp.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
	}
	return md
}

// TracesData returns decoded traces with n spans.
func TracesData(tag string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range n {
		sp := ss.Spans().AppendEmpty()
		sp.SetName(fmt.Sprintf("span-%s-%d", tag, i))
		sp.SetTraceID(pcommon.TraceID{1, byte(i >> 8), byte(i)})
		sp.SetSpanID(pcommon.SpanID{2, byte(i >> 8), byte(i)})
	}
	return td
}

// LogsBytes returns LogsData encoded as an OTLP request.
func LogsBytes(tag string, n, perResource, bodySize int) []byte {
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(LogsData(tag, n, perResource, bodySize))
	if err != nil {
		panic(err)
	}
	return b
}

// BenchLogsData returns the logs load of docs/BENCHMARKS.md: n records of
// about 185 bytes each (a body, three attributes, trace context), over 4
// resources of 2 scopes each. Requests of more than 1,999 records get more
// resources (one per 250 records), so that a split has boundaries to cut
// at. It is deterministic: the same n gives the same records.
func BenchLogsData(n int) plog.Logs {
	ld := plog.NewLogs()
	resources, scopes := max(4, n/250), 2
	per := n / (resources * scopes)
	for ri := range resources {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("checkout-%d", ri))
		rl.Resource().Attributes().PutStr("host.name", "node-17.eu-west-1.internal")
		for si := range scopes {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("github.com/ackflow/loadgen")
			sl.Scope().SetVersion("v0.1.0")
			cnt := per
			if ri == resources-1 && si == scopes-1 {
				cnt = n - per*(resources*scopes-1) // the last scope takes the rest
			}
			for i := range cnt {
				lr := sl.LogRecords().AppendEmpty()
				lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
				lr.SetObservedTimestamp(pcommon.Timestamp(1_700_000_000_000_000_500 + int64(i)))
				lr.SetSeverityNumber(plog.SeverityNumberInfo)
				lr.SetSeverityText("INFO")
				lr.Body().SetStr(fmt.Sprintf("order %08d accepted: 3 items, 42.17 EUR", i))
				lr.Attributes().PutStr("http.route", "/api/v1/orders")
				lr.Attributes().PutInt("http.status_code", 200)
				lr.Attributes().PutStr("user.id", fmt.Sprintf("u-%06d", i%9973))
				lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(i)})
				lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i)})
				lr.SetFlags(1)
			}
		}
	}
	return ld
}

// BenchLogsBytes returns BenchLogsData encoded as an OTLP request.
func BenchLogsBytes(n int) []byte {
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(BenchLogsData(n))
	if err != nil {
		panic(err)
	}
	return b
}

// Logs returns an OTLP logs payload of n records (one resource, 32-byte bodies).
func Logs(n int) *pdata.Payload { return LogsPayload("t", n, 0, 32) }

// LogsPayload returns an OTLP logs payload built from LogsData.
func LogsPayload(tag string, n, perResource, bodySize int) *pdata.Payload {
	p, err := pdata.FromOTLP(pdata.Logs, LogsBytes(tag, n, perResource, bodySize))
	if err != nil {
		panic(err)
	}
	return p
}

// Metrics returns an OTLP metrics payload of n data points.
func Metrics(n int) *pdata.Payload {
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(MetricsData("t", n))
	if err != nil {
		panic(err)
	}
	p, err := pdata.FromOTLP(pdata.Metrics, b)
	if err != nil {
		panic(err)
	}
	return p
}

// Traces returns an OTLP traces payload of n spans.
func Traces(n int) *pdata.Payload {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(TracesData("t", n))
	if err != nil {
		panic(err)
	}
	p, err := pdata.FromOTLP(pdata.Traces, b)
	if err != nil {
		panic(err)
	}
	return p
}

// Msg wraps p in a new message.
func Msg(p *pdata.Payload) *pdata.Message { return pdata.New(p) }

// LogBodies decodes a logs payload and returns its record bodies in order.
func LogBodies(t testing.TB, p *pdata.Payload) []string {
	t.Helper()
	ld, err := p.Logs()
	if err != nil {
		t.Fatalf("decode logs: %v", err)
	}
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				out = append(out, lr.Body().AsString())
			}
		}
	}
	return out
}
