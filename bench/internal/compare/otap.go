package compare

import (
	"fmt"

	"github.com/ackflow/ackflow/loadgen"
)

// Configurations of the OTAP scenarios (otap_forward, otlp_otap_otlp).
//
// On the wire both systems send what the otelarrow exporter sends by
// default: zstd on the gRPC messages and zstd on the Arrow buffers inside
// them (arrow.payload_compression). ackflow's exporter is told so
// explicitly, so the bytes per item at the OTAP sink compare like with
// like whatever its own defaults are. The load generator's OTAP streams
// are uncompressed, like the OTLP load of the other scenarios.

// ackflowOTAPExporter is an exporter:otap node to port, at the indentation
// of a node under nodes:.
func ackflowOTAPExporter(name string, port int) string {
	return fmt.Sprintf(`          %s:
            type: exporter:otap
            config:
              grpc_endpoint: "http://127.0.0.1:%d"
              compression: zstd
              arrow: { payload_compression: zstd }
`, name, port)
}

// ackflowOTAPReceiver is a receiver:otap node on port that answers each
// batch after its delivery.
func ackflowOTAPReceiver(name string, port int) string {
	return fmt.Sprintf(`          %s:
            type: receiver:otap
            config:
              listening_addr: 127.0.0.1:%d
              wait_for_result: true
`, name, port)
}

func ackflowAdmin(p Ports) string {
	return fmt.Sprintf(`version: otel_dataflow/v1
engine:
  http_admin:
    bind_address: 127.0.0.1:%d
    pprof: true
groups:
  default:
    pipelines:
`, p.Admin)
}

// ackflowOTAPForward: receiver:otap → exporter:otap → the OTAP sink.
func ackflowOTAPForward(_ loadgen.Signal, p Ports) string {
	return ackflowAdmin(p) + "      main:\n        nodes:\n" +
		ackflowOTAPReceiver("in", p.Receiver) +
		ackflowOTAPExporter("out", p.Sinks[0]) + `        connections:
          - { from: in, to: out }
`
}

// ackflowOTLPOTAPOTLP: two pipelines in one process, tier 1 (OTLP receiver
// → OTAP exporter to the hop port) and tier 2 (OTAP receiver on the hop
// port → OTLP/gRPC exporter → sink); every answer after the sink's.
func ackflowOTLPOTAPOTLP(_ loadgen.Signal, p Ports) string {
	return ackflowAdmin(p) + fmt.Sprintf(`      tier1:
        nodes:
          otlp_in:
            type: receiver:otlp
            config:
              wait_for_result: true
              protocols:
                grpc: { listening_addr: 127.0.0.1:%d }
`, p.Receiver) + ackflowOTAPExporter("otap_out", p.Hop) + `        connections:
          - { from: otlp_in, to: otap_out }
      tier2:
        nodes:
` + ackflowOTAPReceiver("otap_in", p.Hop) + fmt.Sprintf(`          otlp_out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://127.0.0.1:%d" }
        connections:
          - { from: otap_in, to: otlp_out }
`, p.Sinks[0])
}

// otelarrowReceiver is an otelarrow receiver (its defaults) on port.
func otelarrowReceiver(name string, port int) string {
	return fmt.Sprintf(`  %s:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
`, name, port)
}

// otelarrowExporter is an otelarrow exporter to port with its defaults
// (zstd on gRPC and on the Arrow buffers, a sending_queue that batches
// 1,000–1,500 items), the queue answering after the export with
// waitForResult.
func otelarrowExporter(port int, o collectorOpts) string {
	return fmt.Sprintf(`  otelarrow:
    endpoint: 127.0.0.1:%d
    tls: { insecure: true }
`, port) + queueOpts(o)
}

func queueOpts(o collectorOpts) string {
	if o&waitForResult != 0 {
		return "    sending_queue: { wait_for_result: true }\n"
	}
	return ""
}

// collectorOTAPForward: otelarrow receiver → otelarrow exporter → the OTAP
// sink. No batch processor: the otelarrow exporter batches in its
// sending_queue by default, which is the setup its README documents (the
// batch processor is not part of it).
func collectorOTAPForward(o collectorOpts) func(loadgen.Signal, Ports) string {
	return func(sig loadgen.Signal, p Ports) string {
		return "receivers:\n" + otelarrowReceiver("otelarrow", p.Receiver) +
			"exporters:\n" + otelarrowExporter(p.Sinks[0], o) +
			"service:\n" + collectorTelemetry(p) + fmt.Sprintf(`  pipelines:
    %s:
      receivers: [otelarrow]
      exporters: [otelarrow]
`, sig)
	}
}

// collectorOTLPOTAPOTLP: the same two tiers as ackflow's, as two pipelines
// of one collector: otlp → otelarrow to the hop port, otelarrow on the hop
// port → otlp_grpc → sink (uncompressed, like every OTLP exporter here).
func collectorOTLPOTAPOTLP(o collectorOpts) func(loadgen.Signal, Ports) string {
	return func(sig loadgen.Signal, p Ports) string {
		return collectorReceiver(p) + otelarrowReceiver("otelarrow", p.Hop) +
			"exporters:\n" + otelarrowExporter(p.Hop, o) +
			otlpExporter("otlp_grpc", p.Sinks[0], queueOpts(o)) +
			"service:\n" + collectorTelemetry(p) + fmt.Sprintf(`  pipelines:
    %[1]s/tier1:
      receivers: [otlp]
      exporters: [otelarrow]
    %[1]s/tier2:
      receivers: [otelarrow]
      exporters: [otlp_grpc]
`, sig)
	}
}
