package filter_test

import (
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/pdata"
)

// benchRecords is the size of a benchmark request.
const benchRecords = 1000

// benchLogsBytes is a 1,000-record OTLP logs request, records of about
// 177 bytes: every other one is WARN, the rest INFO.
func benchLogsBytes(b *testing.B) []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutStr("deployment.environment", "prod")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("bench")
	for i := range benchRecords {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)))
		if i%2 == 0 {
			lr.SetSeverityText("WARN")
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
		} else {
			lr.SetSeverityText("INFO")
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
		}
		lr.Body().SetStr(fmt.Sprintf("request %06d handled %s", i, strings.Repeat("x", 80)))
		lr.Attributes().PutStr("component", "rest")
		lr.Attributes().PutInt("http.status_code", 200)
	}
	buf, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		b.Fatal(err)
	}
	return buf
}

// BenchmarkFilterLogs runs 1,000-record requests through the node. Each
// iteration wraps the same bytes in a new payload, as a receiver would,
// so the decode is paid every time, and asks what was sent on for its
// OTLP bytes, as an exporter would: a reduced payload is encoded then
// (counted here), an untouched one hands back the received bytes.
func BenchmarkFilterLogs(b *testing.B) {
	for _, bc := range []struct{ name, cfg string }{
		{"filtered=0%", "logs: { exclude: { severity_texts: [FATAL] } }"},
		{"filtered=50%", "logs: { include: { severity_texts: [WARN] } }"},
		{"filtered=50%/regexp", "logs: { exclude: { match_type: regexp, bodies: ['^request \\d*[13579] '] } }"},
		{"filtered=100%", "logs: { include: { severity_number: { min: ERROR } } }"},
		{"no_logs_rules", "metrics: { include: { metric_names: [x] } }"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := benchLogsBytes(b)
			h, _ := newHarness(b, bc.cfg)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			kept := 0
			for b.Loop() {
				h.SendPData(pdata.New(pdata.FromOTLPChunks(pdata.Logs, [][]byte{buf}, benchRecords)))
				for _, m := range h.TakeSent(port) {
					kept += m.Items()
					if _, err := m.Payload().Chunks(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "items/s")
			b.ReportMetric(float64(kept)/float64(b.N), "kept/op")
		})
	}
}

// BenchmarkDecodeOnly is the floor of the filter: decoding the same
// request with pdata and nothing else.
func BenchmarkDecodeOnly(b *testing.B) {
	buf := benchLogsBytes(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := pdata.FromOTLPChunks(pdata.Logs, [][]byte{buf}, benchRecords).Logs(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "items/s")
}
