package otlphttp

import (
	"github.com/ackflow/ackflow/engine"
	iotlp "github.com/ackflow/ackflow/nodes/internal/otlpgrpc"
)

// metricPrefix names the exporter's series (see iotlp.Metrics):
//
//	ackflow_exporter_otlp_http_requests_total{signal,status}  {request} exports by outcome: ok, the HTTP status or connection_error
//	ackflow_exporter_otlp_http_rejected_items_total{signal}   {item}    items refused in partial successes
//	ackflow_exporter_otlp_http_requests_in_flight             {request} exports awaiting an answer
const metricPrefix = "ackflow_exporter_otlp_http"

func newMetrics(nc engine.NodeContext) *iotlp.Metrics {
	return iotlp.NewMetrics(nc.Metrics, metricPrefix, nc.Labels)
}
