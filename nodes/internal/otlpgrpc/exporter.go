package otlpgrpc

import (
	"time"

	"github.com/ackflow/ackflow/engine"
)

// Exporter is an OTLP exporter: the shared in-flight driver over one
// transport (gRPC or HTTP). It implements engine.Processor, engine.Gate and
// engine.Drainer through the driver.
type Exporter struct {
	*Driver
	metrics *Metrics
}

// NewExporter builds the exporter of node nc over t. name prefixes nack
// reasons and logs ("otlp_grpc"); its metrics are the families prefix_*.
func NewExporter(nc engine.NodeContext, name, prefix string, timeout time.Duration, maxInFlight int, t Transport) *Exporter {
	m := NewMetrics(nc.Metrics, prefix, nc.Labels)
	d := NewDriver(DriverConfig{
		Name:        name,
		Timeout:     timeout,
		MaxInFlight: maxInFlight,
		Logger:      nc.Logger,
		Metrics:     m,
	}, t)
	return &Exporter{Driver: d, metrics: m}
}

// Metrics returns the exporter's metrics, for tests and status pages.
func (e *Exporter) Metrics() *Metrics { return e.metrics }
