package attribute

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

// benchLogs is the docs/BENCHMARKS.md load: n records of about 185 bytes
// over 4 resources of 2 scopes, each record with 3 attributes.
func benchLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	const resources, scopes = 4, 2
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
				cnt = n - per*(resources*scopes-1)
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

// benchConfigs are the action lists measured.
var benchConfigs = []struct{ name, yaml string }{
	{"delete", "actions: [{action: delete, key: user.id}]"},
	{"rename", "actions: [{action: rename, source_key: user.id, destination_key: enduser.id}]"},
	{"insert", "actions: [{action: insert, key: deployment.environment, value: prod}]"},
	{"hash", "actions: [{action: hash, key: user.id, salt: s}]"},
	{"mixed", `actions:
  - {action: delete, key: http.route}
  - {action: rename, source_key: user.id, destination_key: enduser.id}
  - {action: upsert, key: http.status_code, value: {string: ok}}
  - {action: insert, key: deployment.environment, value: prod}`},
	{"resource_upsert", "apply_to: [resource]\nactions: [{action: upsert, key: deployment.environment, value: prod}]"},
	{"no_match", "actions: [{action: delete, key: absent}]"},
}

func benchCore(b *testing.B, yaml string) *core {
	b.Helper()
	n, err := nodetest.NodeConfig(Type, yaml, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := decodeConfig(n)
	if err != nil {
		b.Fatal(err)
	}
	s, err := cfg.settings(config.Path{})
	if err != nil {
		b.Fatal(err)
	}
	return newCore("bench", s, newMetrics(nil, nil))
}

// BenchmarkAttributes compares, on 1,000-log requests, the byte path
// (the node on an OTLP payload: rewrite into a new buffer) with what a
// processor built on pdata does (decode, edit, encode), and with the
// node's own pdata path on an already decoded payload (copy, edit).
func BenchmarkAttributes(b *testing.B) {
	const items = 1000
	ld := benchLogs(items)
	req, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		b.Fatal(err)
	}
	otlp, err := pdata.FromOTLP(pdata.Logs, req)
	if err != nil {
		b.Fatal(err)
	}
	decoded := pdata.FromLogs(ld)
	for _, bc := range benchConfigs {
		b.Run(bc.name+"/bytes", func(b *testing.B) {
			c := benchCore(b, bc.yaml)
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := c.applyBytes(otlp); err != nil {
					b.Fatal(err)
				}
				c.ed.take()
				n++
			}
			b.ReportMetric(float64(items*n)/b.Elapsed().Seconds(), "items/s")
		})
		b.Run(bc.name+"/pdata_decode_encode", func(b *testing.B) {
			c := benchCore(b, bc.yaml)
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(req)
				if err != nil {
					b.Fatal(err)
				}
				c.ed.editLogs(ld, c.domains)
				if _, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld); err != nil {
					b.Fatal(err)
				}
				c.ed.take()
				n++
			}
			b.ReportMetric(float64(items*n)/b.Elapsed().Seconds(), "items/s")
		})
		b.Run(bc.name+"/pdata_decoded_payload", func(b *testing.B) {
			c := benchCore(b, bc.yaml)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := c.applyPdata(decoded); err != nil {
					b.Fatal(err)
				}
				c.ed.take()
				n++
			}
			b.ReportMetric(float64(items*n)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
