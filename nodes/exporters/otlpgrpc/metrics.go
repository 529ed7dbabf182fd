package otlpgrpc

import (
	"github.com/ackflow/ackflow/engine"
	iotlp "github.com/ackflow/ackflow/nodes/internal/otlpgrpc"
)

// metricPrefix names the exporter's series (see iotlp.Metrics):
//
//	ackflow_exporter_otlp_grpc_requests_total{signal,status}  {request} exports by outcome: ok or the gRPC code
//	ackflow_exporter_otlp_grpc_rejected_items_total{signal}   {item}    items refused in partial successes
//	ackflow_exporter_otlp_grpc_requests_in_flight             {request} exports awaiting an answer
const metricPrefix = "ackflow_exporter_otlp_grpc"

func newMetrics(nc engine.NodeContext) *iotlp.Metrics {
	return iotlp.NewMetrics(nc.Metrics, metricPrefix, nc.Labels)
}
