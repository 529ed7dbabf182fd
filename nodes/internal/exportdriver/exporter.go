package exportdriver

import (
	"slices"
	"strings"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
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

// ExportCompressions are the values of an exporter's compression key.
var ExportCompressions = []string{"none", otlpgrpc.Gzip, otlpgrpc.Zstd}

// ValidateExport checks the keys both OTLP exporters share, each error
// under its YAML path below p.
func ValidateExport(p config.Path, timeout config.Duration, maxInFlight int, compression string) []error {
	var errs []error
	if timeout <= 0 {
		errs = append(errs, config.Errorf(p.Key("timeout"), "use a positive duration such as 15s",
			"timeout must be positive, got %s", timeout))
	}
	if maxInFlight < 1 {
		errs = append(errs, config.Errorf(p.Key("max_in_flight"), "use 1 or more (default 16)",
			"max_in_flight must be at least 1, got %d", maxInFlight))
	}
	if !slices.Contains(ExportCompressions, compression) {
		errs = append(errs, config.Errorf(p.Key("compression"), "use one of "+strings.Join(ExportCompressions, ", "),
			"unknown compression %q", compression))
	}
	return errs
}
