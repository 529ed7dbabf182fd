package attribute

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

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
	ld := pdatatest.BenchLogsData(items)
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
